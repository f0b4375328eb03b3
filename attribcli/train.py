"""The training loop: fine-tune with SGD and track In-Run Data Shapley values at every step.

Everything that can be wrong with the inputs is checked before the run directory is created. The run
is built in ``<run_dir>.partial`` with a checkpoint every N steps; a killed run resumes from its last
checkpoint and, because the data order is a pure function of (seed, epoch) and the checkpoint holds
the weights, optimizer state and every value accumulated so far, ends with the same numbers.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from attribcli.config import Config
from attribcli.corpus import Document, Sample, load_corpus, make_samples
from attribcli.errors import AttribError
from attribcli.files import atomic_torch_save, atomic_write_bytes, atomic_write_text, sha256_file
from attribcli.generations import Generation, load_generations
from attribcli.inrun.tracker import GhostTracker
from attribcli.manifest import write_manifest
from attribcli.model.gpt import GPT, GPTConfig, load_base_weights, save_weights, sequence_losses
from attribcli.model.tokenizer import ByteTokenizer
from attribcli.progress import Progress
from attribcli.rights import load_holders
from attribcli.rundir import CHECKPOINT, partial_dir

KILL_ENV = "ATTRIB_TEST_KILL_AFTER_STEP"  # fault injection for the resume tests: die like SIGKILL


@dataclass
class Prepared:
    """Validated inputs, ready to train: nothing on disk has been touched yet."""

    config: Config
    documents: list[Document]
    samples: list[Sample]
    generations: list[Generation]
    model: GPT
    device: torch.device
    input_paths: dict[str, Path]
    input_hashes: dict[str, str]


def prepare(config: Config) -> Prepared:
    tok = ByteTokenizer()
    d = config.data
    holders = load_holders(d.holders)
    documents = load_corpus(d.corpus, holders)
    generations = load_generations(d.generations, context_length=config.model.context_length,
                                   currency=config.payout.currency, tokenizer=tok)
    samples = make_samples(documents, tok, config.model.context_length)
    mc = config.model
    if mc.n_embd % mc.n_head:
        raise AttribError(f"n_embd ({mc.n_embd}) is not divisible by n_head ({mc.n_head})",
                          file=str(config.source), field="model.n_head", fix="pick n_head dividing n_embd")
    torch.manual_seed(config.seed)
    model = GPT(GPTConfig(tok.vocab_size, mc.context_length, mc.n_layer, mc.n_head, mc.n_embd))
    inputs = {"config": config.source, "corpus": d.corpus, "holders": d.holders, "generations": d.generations}
    if mc.base_weights is not None:
        load_base_weights(model, mc.base_weights, config_file=str(config.source))
        inputs["base_weights"] = mc.base_weights
    device = resolve_device(config)
    return Prepared(config, documents, samples, generations, model.to(device), device,
                    inputs, {k: sha256_file(p) for k, p in inputs.items()})


def resolve_device(config: Config) -> torch.device:
    want = config.training.device
    if want == "cuda" and not torch.cuda.is_available():
        raise AttribError("training.device is 'cuda' but no CUDA device is available", file=str(config.source),
                          field="training.device", fix="use 'auto' or 'cpu'")
    return torch.device("cuda" if want == "cuda" or (want == "auto" and torch.cuda.is_available()) else "cpu")


def lr_at(step: int, total: int, config: Config) -> float:
    t = config.training
    if t.warmup_steps and step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    progress = (step - t.warmup_steps) / max(1, total - t.warmup_steps)
    if t.schedule == "linear":
        return t.lr * (1.0 - progress)
    if t.schedule == "cosine":
        return t.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return t.lr


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The sample order of one epoch: a pure function of (seed, epoch), so resume needs no RNG state."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def pad_batch(seqs: list[tuple[list[int], int]], device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad ``(tokens, first scored index)`` pairs into inputs, next-token targets and a loss mask.

    Right padding is harmless under causal attention: padded positions come after every real one, and
    their loss mask is 0, so their output gradient is exactly 0 and they add nothing to any value."""
    width = max(len(t) for t, _ in seqs) - 1
    x = torch.zeros(len(seqs), width, dtype=torch.long)
    y = torch.zeros(len(seqs), width, dtype=torch.long)
    m = torch.zeros(len(seqs), width, dtype=torch.bool)
    for i, (tokens, first) in enumerate(seqs):
        n = len(tokens) - 1
        x[i, :n] = torch.tensor(tokens[:-1])
        y[i, :n] = torch.tensor(tokens[1:])
        m[i, max(first, 1) - 1:n] = True
    return x.to(device), y.to(device), m.to(device)


def target_batch(generations: list[Generation], device, *, with_prompt: bool = True):
    tok = ByteTokenizer()
    return pad_batch([g.tokens(tok, with_prompt=with_prompt) for g in generations], device)


@torch.no_grad()
def target_losses(model: GPT, batch) -> np.ndarray:
    x, y, m = batch
    return sequence_losses(model(x), y, m).double().cpu().numpy()


def train(config: Config, *, resume: bool = False, overwrite: bool = False, log=print) -> Path:
    """Run (or resume) training with in-run valuation; returns the finished run directory."""
    prep = prepare(config)  # raises AttribError before anything is written
    final, part = config.run_dir, partial_dir(config.run_dir)
    if overwrite:
        for old in (final, part):
            if old.exists():
                log(f"removing {old} (--overwrite)")
                shutil.rmtree(old)
    if final.exists():
        if resume and (final / "manifest.json").is_file():
            log(f"run already complete: {final}")
            return final
        raise AttribError("run directory already exists", file=str(final), field="run_dir",
                          fix="choose another --run-dir, or delete it to train again")
    state = None
    if part.exists():
        if not resume:
            raise AttribError("an interrupted run of this config exists", file=str(part), field="run_dir",
                              fix="continue it with --resume, or delete it to start over")
        if (part / CHECKPOINT).is_file():
            state = _load_checkpoint(part, prep)
            log(f"resuming {part} from step {state['step']}")
        else:
            shutil.rmtree(part)
    created = state is None
    try:
        if created:
            _write_inputs(part, prep)
        _loop(part, prep, state, log)
    except AttribError:
        shutil.rmtree(part, ignore_errors=True)  # bad input found mid-run (NaN): leave nothing behind
        raise
    os.replace(part, final)
    return final


def _write_inputs(part: Path, prep: Prepared) -> None:
    cfg = prep.config
    part.mkdir(parents=True)
    atomic_write_text(part / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    counts: dict[str, int] = {}
    for s in prep.samples:
        counts[s.doc_id] = counts.get(s.doc_id, 0) + 1
    docs = [json.dumps({"id": d.id, "holders": [{"id": h, "share": s} for h, s in d.holders],
                        "license": d.license, "source": d.source, "opt_out": d.opt_out,
                        "n_samples": counts.get(d.id, 0), "text_sha256": d.text_sha256}, ensure_ascii=False)
            for d in prep.documents]
    atomic_write_text(part / "inputs/documents.jsonl", "\n".join(docs) + "\n")
    shutil.copyfile(cfg.data.holders, part / "inputs/holders.csv")
    gens = [json.dumps({"id": g.id, "prompt": g.prompt, "completion": g.completion, "revenue": g.revenue},
                       ensure_ascii=False) for g in prep.generations]
    atomic_write_text(part / "inputs/generations.jsonl", "\n".join(gens) + "\n")


def _load_checkpoint(part: Path, prep: Prepared) -> dict:
    state = torch.load(part / CHECKPOINT, map_location="cpu", weights_only=True)
    if state["input_hashes"] != prep.input_hashes:
        changed = sorted(k for k in prep.input_hashes if state["input_hashes"].get(k) != prep.input_hashes[k])
        raise AttribError(f"inputs changed since the interrupted run started: {', '.join(changed)}",
                          file=str(part), field=changed[0],
                          fix="restore the original files, or delete the .partial directory to start over")
    return state


def _loop(part: Path, prep: Prepared, state: dict | None, log) -> None:
    cfg, model, dev = prep.config, prep.model, prep.device
    t = cfg.training
    n, M = len(prep.samples), len(prep.generations)
    per_epoch = math.ceil(n / t.batch_size)
    total = t.max_steps if t.max_steps else t.epochs * per_epoch
    optimizer = torch.optim.SGD(model.parameters(), lr=t.lr)
    tracker = GhostTracker(model)
    targets = target_batch(prep.generations, dev)
    values = np.zeros((n, M), dtype=np.float64)
    seen = np.zeros(n, dtype=np.int64)
    step_rows: list[tuple] = []
    target_rows: list[tuple] = []
    start = 0
    if state is None:
        loss_base = target_losses(model, targets)
    else:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        values, seen = state["values"].numpy().copy(), state["seen"].numpy().copy()
        step_rows, target_rows = list(state["step_rows"]), list(state["target_rows"])
        loss_base, start = state["loss_base"].numpy().copy(), state["step"]
    kill_after = int(os.environ.get(KILL_ENV, "0") or 0)
    log(f"training {n} samples from {sum(not d.opt_out for d in prep.documents)} documents, "
        f"{M} generations, {total} steps on {dev.type}")
    with Progress(total, start=start, log=log, every=t.log_every) as bar:
        for step in range(start, total):
            epoch, pos = divmod(step, per_epoch)
            idx = epoch_order(cfg.seed, epoch, n)[pos * t.batch_size:(pos + 1) * t.batch_size]
            batch = pad_batch([(list(prep.samples[i].tokens), 1) for i in idx], dev)
            lr = lr_at(step, total, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            with tracker.capture("train"):
                train_loss = sequence_losses(model(batch[0]), batch[1], batch[2]).mean()
            with tracker.capture("target"):
                v_losses = sequence_losses(model(targets[0]), targets[1], targets[2])
            if not (torch.isfinite(train_loss) and torch.isfinite(v_losses).all()):
                raise AttribError(f"the loss became {train_loss.item()} at step {step + 1}",
                                  file=str(cfg.source), field="training.lr",
                                  fix=f"lower training.lr (now {t.lr}) or add warmup_steps")
            (train_loss + v_losses.sum()).backward()
            dots = tracker.dots().cpu().numpy()
            tracker.clear()
            optimizer.step()
            values[idx] += lr * dots
            seen[idx] += 1
            step_rows.append((step + 1, epoch + 1, lr, train_loss.item()))
            pred = lr * dots.sum(0)
            vl = v_losses.detach().double().cpu().numpy()
            target_rows.extend((step + 1, j, float(vl[j]), float(pred[j])) for j in range(M))
            bar.update(step + 1, loss=train_loss.item(), samples=len(idx))
            if (step + 1) % t.checkpoint_every == 0 and step + 1 < total:
                _save_checkpoint(part, prep, model, optimizer, step + 1, values, seen, step_rows,
                                 target_rows, loss_base)
            if kill_after and step + 1 == kill_after:
                os._exit(137)  # as if killed: no cleanup, no final write
    tracker.close()
    _finish(part, prep, model, total, values, seen, step_rows, target_rows, loss_base, targets)


def _save_checkpoint(part, prep, model, optimizer, step, values, seen, step_rows, target_rows, loss_base):
    atomic_torch_save({"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                       "values": torch.from_numpy(values), "seen": torch.from_numpy(seen),
                       "step_rows": step_rows, "target_rows": target_rows,
                       "loss_base": torch.from_numpy(loss_base), "input_hashes": prep.input_hashes},
                      part / CHECKPOINT)


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def _finish(part, prep, model, total, values, seen, step_rows, target_rows, loss_base, targets) -> None:
    gens = prep.generations
    loss_final = target_losses(model, targets)
    loss_no_prompt = target_losses(model, target_batch(gens, prep.device, with_prompt=False))
    value_sum = values.sum(0)
    realised = loss_base - loss_final
    losses = pd.DataFrame({
        "generation_id": [g.id for g in gens],
        "completion_tokens": [len(ByteTokenizer().encode(g.completion)) for g in gens],
        "loss_reference": math.log(ByteTokenizer.vocab_size),
        "loss_base": loss_base, "loss_final": loss_final, "loss_final_no_prompt": loss_no_prompt,
        "value_sum": value_sum, "realised_reduction": realised,
        "efficiency_gap": value_sum - realised,
        "relative_gap": (value_sum - realised) / np.where(realised == 0, np.nan, np.abs(realised)),
    })
    samples = pd.DataFrame({"sample": [s.index for s in prep.samples], "doc_id": [s.doc_id for s in prep.samples],
                            "chunk": [s.chunk for s in prep.samples],
                            "tokens": [len(s.tokens) - 1 for s in prep.samples], "steps_trained": seen})
    atomic_write_text(part / "losses.csv", _csv(losses))
    atomic_write_text(part / "samples.csv", _csv(samples))
    buf = io.BytesIO()
    np.save(buf, values, allow_pickle=False)
    atomic_write_bytes(part / "values.npy", buf.getvalue())
    atomic_write_text(part / "steps.csv", _csv(pd.DataFrame(step_rows, columns=["step", "epoch", "lr", "train_loss"])))
    tr = pd.DataFrame(target_rows, columns=["step", "generation", "loss_before", "predicted_reduction"])
    tr["generation"] = [gens[j].id for j in tr["generation"]]
    atomic_write_text(part / "target_steps.csv", _csv(tr))
    save_weights(model.cpu(), part / "model.pt")
    (part / CHECKPOINT).unlink(missing_ok=True)  # complete: weights live in model.pt, not hashed twice
    ok = realised != 0
    summary = {
        "seed": prep.config.seed, "steps": total, "samples": len(prep.samples), "generations": len(gens),
        "device": prep.device.type,
        "efficiency": {
            "max_abs_relative_gap": float(np.nanmax(np.abs(losses["relative_gap"]))) if ok.any() else None,
            "total_value": float(value_sum.sum()), "total_realised_reduction": float(realised.sum()),
        },
    }
    write_manifest(part, inputs=prep.input_paths, input_hashes=prep.input_hashes, summary=summary)
