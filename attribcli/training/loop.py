"""The training loop: fine-tune with SGD and track In-Run Data Shapley values at every step.

Everything that can be wrong with the inputs is checked before the run directory is created. The run
is built in ``<run_dir>.partial`` with a checkpoint every N steps; a killed run resumes from its last
checkpoint and, because the data order is a pure function of (seed, epoch) and the checkpoint holds
the weights, optimizer state and every value accumulated so far, ends with the same numbers.
"""

from __future__ import annotations

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
from rich.console import Console

from attribcli.data import duplicates
from attribcli.config import Config
from attribcli.data.corpus import Document, iter_documents
from attribcli.training.distributed import Group, wrap
from attribcli.errors import AttribError
from attribcli.files import atomic_torch_save, atomic_write_text, sha256_path
from attribcli.data.generations import Generation, load_generations
from attribcli.inrun.optim import attach_names, update_rule
from attribcli.rights.licenses import LicensePolicy, PolicyOutcome, apply_policy
from attribcli.inrun.step import NonFiniteLoss, Shard, tracked_step
from attribcli.inrun.tracker import GhostTracker
from attribcli.audit.manifest import method_description, write_manifest
from attribcli.model.gpt import GPT, GPTConfig, load_base_weights, save_weights, sequence_losses
from attribcli.model.lora import apply_lora, merge_lora
from attribcli.model.tokenizer import ByteTokenizer
from attribcli.progress import Progress
from attribcli.rights.holders import load_holders
from attribcli.training.rundir import CHECKPOINT, partial_dir
from attribcli.training.tally import Tally
from attribcli.rights.ownership import rights_rows
from attribcli.data.tokens import SampleTable, TokenCache, build as build_token_cache, cache_key
from attribcli.data.tokens import discard as discard_token_cache

KILL_ENV = "ATTRIB_TEST_KILL_AFTER_STEP"  # fault injection for the resume tests: die like SIGKILL


@dataclass
class Prepared:
    """Validated inputs, ready to train: nothing on disk has been touched yet."""

    config: Config
    tokenizer: object               # ByteTokenizer or HFTokenizer: encode, decode, bos_id, vocab_size
    documents: list[Document]
    licensing: PolicyOutcome        # per document: licence class, trained or not, paid to whom, why
    samples: SampleTable
    generations: list[Generation]
    model: GPT
    device: torch.device
    input_paths: dict[str, Path]
    input_hashes: dict[str, str]
    token_cache: TokenCache
    duplicates: list[duplicates.Group]  # exact duplicate texts (reported whatever data.duplicates says)
    duplicate_of: dict[str, str]        # copy → the copy trained in its place (data.duplicates: share)
    lora: dict | None                   # rank, alpha, adapted layers (model.lora), or None


def prepare(config: Config) -> Prepared:
    """Check every input and tokenize the corpus in one streaming pass into the token cache (tokens.py:
    content-addressed, written atomically, reused by later runs); the run directory is not touched."""
    d, mc = config.data, config.model
    inputs = {"config": config.source, "corpus": d.corpus, "holders": d.holders, "generations": d.generations}
    if mc.kind == "hf":
        from attribcli.model.hf import load_hf

        model, tok = load_hf(mc.path, config_file=str(config.source))
        context = min(mc.context_length, model.context_length)
        inputs["model"] = mc.path
    else:
        if mc.n_embd % mc.n_head:
            raise AttribError(f"n_embd ({mc.n_embd}) is not divisible by n_head ({mc.n_head})",
                              file=str(config.source), field="model.n_head", fix="pick n_head dividing n_embd")
        tok, context = ByteTokenizer(), mc.context_length
        torch.manual_seed(config.seed)
        model = GPT(GPTConfig(tok.vocab_size, mc.context_length, mc.n_layer, mc.n_head, mc.n_embd))
        if mc.base_weights is not None:
            load_base_weights(model, mc.base_weights, config_file=str(config.source))
            inputs["base_weights"] = mc.base_weights
    lora = None
    if mc.lora is not None:
        torch.manual_seed(config.seed)  # the adapters' initial A
        head = model.lm_head if isinstance(model, GPT) else model.hf.get_output_embeddings()
        layers = apply_lora(model, mc.lora.rank, mc.lora.alpha, mc.lora.targets, head)
        if not layers:
            raise AttribError(f"no layer of the model is named {', '.join(mc.lora.targets)}", file=str(config.source),
                              field="model.lora.targets", fix="use names of its linear layers (e.g. qkv, proj, fc for "
                              "the built-in GPT; c_attn for GPT-2; q_proj for Llama), or [] for all")
        lora = {"rank": mc.lora.rank, "alpha": mc.lora.alpha, "layers": layers}
    holders = load_holders(d.holders)
    policy = LicensePolicy.from_mapping(config.licenses, file=str(config.source))
    generations = load_generations(d.generations, context_length=context, currency=config.payout.currency,
                                   tokenizer=tok)
    device = resolve_device(config)
    stream = iter_documents(d.corpus, holders)  # checks the file exists; read below, once
    hashes = {k: sha256_path(p) for k, p in inputs.items()}
    tokenizer_id = f"hf:{hashes['model']}" if mc.kind == "hf" else "bytes-v1"
    cache_root = d.token_cache or config.run_dir.parent / ".attrib-cache" / "tokens"
    try:
        cache, documents = build_token_cache(stream, tok, cache_root, cache_key(hashes["corpus"], tokenizer_id))
    except OSError as exc:
        raise AttribError(f"cannot write the token cache ({exc.strerror or type(exc).__name__})", file=str(cache_root),
                          field="data.token_cache", fix="point data.token_cache at a writable folder") from None
    try:
        licensing = apply_policy(documents, policy, file=str(d.corpus))
        copies = duplicates.find(documents, licensing)
        duplicate_of = {}
        if d.duplicates == "share":
            licensing, duplicate_of = duplicates.deduplicate(licensing, copies)
        samples = SampleTable(cache, documents, context, trainable=set(licensing.trained_ids))
        if not samples:
            raise AttribError("no document may be trained on under the licence policy", file=str(config.source),
                              field="licenses.trainable", fix="allow more licence classes, or add documents")
    except AttribError:
        discard_token_cache(cache)
        raise
    return Prepared(config, tok, documents, licensing, samples, generations, model.to(device), device,
                    inputs, hashes, cache, copies, duplicate_of, lora)


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


def target_batch(generations: list[Generation], device, *, with_prompt: bool = True, tok=None):
    tok = tok or ByteTokenizer()
    return pad_batch([g.tokens(tok, with_prompt=with_prompt) for g in generations], device)


@torch.no_grad()
def target_losses(model: GPT, batch) -> np.ndarray:
    x, y, m = batch
    return sequence_losses(model(x), y, m).double().cpu().numpy()


def train(config: Config, *, resume: bool = False, overwrite: bool = False, log=print,
          group: Group = Group()) -> Path:
    """Run (or resume) training with in-run valuation; returns the finished run directory.

    Under torchrun (``group.active``) every process runs this; process 0 alone touches the run
    directory and tells the others what it found (distributed.py)."""
    if not group.main:
        group.barrier()  # process 0 tokenizes the corpus into the cache first; the others then reuse it
    prep = prepare(config)  # raises AttribError before anything is written (on every process alike)
    if group.main:
        group.barrier()
    final, part = config.run_dir, partial_dir(config.run_dir)
    state, outcome = None, None
    if group.main:
        try:
            state = _open_run_dir(final, part, prep, resume, overwrite, log)
            outcome = "done" if state == "done" else "go"
        except AttribError:
            group.broadcast(("error", None))
            raise
    outcome, shared = group.broadcast((outcome, _shared_state(state) if outcome == "go" else None))
    if outcome == "error":
        raise AttribError("process 0 refused the run directory (its message says why)", file=str(final),
                          quiet=True)
    if outcome == "done":
        return final
    if not group.main:
        state = shared
    try:
        if group.main and state is None:
            _write_inputs(part, prep)
        _loop(part, prep, state, log if group.main else _silent, group)
    except AttribError:
        if group.main:
            shutil.rmtree(part, ignore_errors=True)  # bad input found mid-run (NaN): leave nothing behind
        raise
    if group.main:
        os.replace(part, final)
    group.barrier()  # the others return once the run directory is final
    return final


def _silent(message: str) -> None:
    return None


def _shared_state(state: dict | None) -> dict | None:
    """What every process needs to resume (the value tally lives on process 0 only)."""
    return None if state is None else {k: state[k] for k in ("step", "model", "optimizer")}


def refuse_existing(final: Path, part: Path, resume: bool) -> None:
    """The run directories a run may not write over (``--overwrite`` removes them first); a finished run
    under ``--resume`` is not refused: it is reported complete."""
    if final.exists() and not (resume and (final / "manifest.json").is_file()):
        raise AttribError("run directory already exists", file=str(final), field="run_dir",
                          fix="choose another --run-dir, or delete it to train again")
    if part.exists() and not resume:
        raise AttribError("an interrupted run of this config exists", file=str(part), field="run_dir",
                          fix="continue it with --resume, or delete it to start over")


def require_batch_for(config: Config, processes: int) -> None:
    """Each process needs a sample of every global batch but the last (whose empty shards are padded)."""
    if config.training.batch_size < processes:
        raise AttribError(f"training.batch_size ({config.training.batch_size}) is smaller than the {processes} "
                          "processes", file=str(config.source), field="training.batch_size",
                          fix=f"use a batch of at least {processes} samples, or fewer processes")


def _open_run_dir(final: Path, part: Path, prep: Prepared, resume: bool, overwrite: bool, log):
    """The checkpoint to resume from, None to start afresh, or "done" when the run is already complete."""
    if overwrite:
        for old in (final, part):
            if old.exists():
                log(f"removing {old} (--overwrite)")
                shutil.rmtree(old)
    refuse_existing(final, part, resume)
    if final.exists():  # complete, and resuming: nothing to do
        log(f"run already complete: {final}")
        return "done"
    if part.exists():  # resuming
        if (part / CHECKPOINT).is_file():
            state = _load_checkpoint(part, prep)
            log(f"resuming {part} from step {state['step']}")
            return state
        shutil.rmtree(part)
    return None


def _write_inputs(part: Path, prep: Prepared) -> None:
    cfg = prep.config
    part.mkdir(parents=True)
    atomic_write_text(part / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    per_doc = np.bincount(prep.samples.doc, minlength=len(prep.documents))
    counts = {d.id: int(c) for d, c in zip(prep.documents, per_doc)}
    decisions = {dec.id: dec for dec in prep.licensing.decisions}
    docs = [json.dumps({"id": d.id, "holders": [{"id": h, "share": s} for h, s in d.holders],
                        "license": d.license, "source": d.source, "opt_out": d.opt_out,
                        "use": decisions[d.id].cls.use, "attribution": decisions[d.id].cls.attribution,
                        "share_alike": decisions[d.id].cls.share_alike,
                        "public_domain": decisions[d.id].cls.public_domain,
                        "trained": decisions[d.id].train, "pay_to": decisions[d.id].pay_to,
                        "reason": decisions[d.id].reason,
                        "n_samples": counts.get(d.id, 0), "text_sha256": d.text_sha256}
                       | ({"duplicate_of": prep.duplicate_of[d.id]} if d.id in prep.duplicate_of else {}),
                       ensure_ascii=False)
            for d in prep.documents]
    atomic_write_text(part / "inputs/documents.jsonl", "\n".join(docs) + "\n")
    rows = rights_rows((d.id, list(d.holders), decisions[d.id].train, decisions[d.id].pay_to,
                        prep.duplicate_of.get(d.id)) for d in prep.documents)
    atomic_write_text(part / "inputs/ownership.csv", _csv(pd.DataFrame(rows, columns=["doc_id", "holder_id", "share"])))
    atomic_write_text(part / "inputs/duplicates.csv",
                      duplicates.report_csv(prep.duplicates, prep.documents, prep.licensing))
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


def _loop(part: Path, prep: Prepared, state: dict | None, log, group: Group = Group()) -> None:
    cfg, model, dev = prep.config, prep.model, prep.device
    t, att = cfg.training, cfg.attribution
    n, M = len(prep.samples), len(prep.generations)
    per_epoch = math.ceil(n / t.batch_size)
    total = t.max_steps if t.max_steps else t.epochs * per_epoch
    require_batch_for(cfg, group.world)
    rule = update_rule(t)
    optimizer = rule.make([p for p in model.parameters() if p.requires_grad], t)  # LoRA: the adapters
    attach_names(optimizer, model)
    tracker = GhostTracker(model)
    targets = target_batch(prep.generations, dev, tok=prep.tokenizer)
    start = 0
    tally = None  # process 0 alone keeps the values (in files under the unfinished run: tally.py)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        if group.main:
            tally = Tally.resume(part, state["tally"], start)
    elif group.main:
        tally = Tally.create(part, n, M, target_losses(model, targets))
    train_forward = wrap(model, group)
    kill_after = int(os.environ.get(KILL_ENV, "0") or 0)
    log(f"training {n} samples from {len(prep.licensing.trained_ids)} documents "
        f"({len(prep.documents) - len(prep.licensing.trained_ids)} excluded: opted out or licence), "
        f"{M} generations, {total} steps on {dev.type}"
        + (f" x {group.world} processes" if group.active else "") + f"; optimizer {rule.name}, order {att.order}")
    copies = duplicates.summary(prep.duplicates)
    if copies:
        log(copies)
    micro = t.micro_batch_size or t.batch_size
    console = None if group.main else Console(stderr=True, quiet=True)
    with Progress(total, start=start, log=log, every=t.log_every, console=console) as bar:
        order = (None, None)  # (epoch, its sample order): one permutation per epoch, not per step
        for step in range(start, total):
            epoch, pos = divmod(step, per_epoch)
            if order[0] != epoch:
                order = (epoch, epoch_order(cfg.seed, epoch, n))
            idx = order[1][pos * t.batch_size:(pos + 1) * t.batch_size]
            lr = lr_at(step, total, cfg)
            for param_group in optimizer.param_groups:
                param_group["lr"] = lr
            mine = group.shard(idx)
            micro_batches = [pad_batch([(list(prep.samples[i].tokens), 1) for i in mine[k:k + micro]], dev)
                             for k in range(0, len(mine), micro)] or [_placeholder(prep, idx[0], dev)]
            try:
                r = tracked_step(model, tracker, optimizer, rule, micro_batches, targets, order=att.order,
                                 target_chunk=att.target_chunk, want_routes=step == start,
                                 autocast=torch.bfloat16 if t.precision == "bf16" else None,
                                 shard=Shard(train_forward, group, len(idx)) if group.active else None, losses=sequence_losses)
            except NonFiniteLoss as exc:
                raise AttribError(f"the loss became {exc.args[0]} at step {step + 1}", file=str(cfg.source),
                                  field="training.lr", fix=f"lower training.lr (now {t.lr}) or add warmup_steps") from None
            if r.routes:
                _log_routes(r.routes, log)
            first, second = _gathered(group, r, len(mine))
            if not group.main:
                if kill_after and step + 1 == kill_after:
                    os._exit(137)
                continue
            tally.add(step + 1, idx, first, second)
            tally.carry += r.carry
            tally.step_rows.append((step + 1, epoch + 1, lr, r.train_loss))
            second = second.sum(0) if second is not None else np.zeros(M)
            first = first.sum(0)
            tally.target_rows.extend((step + 1, j, float(r.target_losses[j]), float(first[j]), float(second[j]),
                                      float(r.carry[j])) for j in range(M))
            bar.update(step + 1, loss=r.train_loss, samples=len(idx))
            if (step + 1) % t.checkpoint_every == 0 and step + 1 < total:
                atomic_torch_save({"step": step + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                   "tally": tally.checkpoint_state(), "input_hashes": prep.input_hashes},
                                  part / CHECKPOINT)
                tally.committed()
            if kill_after and step + 1 == kill_after:
                os._exit(137)  # as if killed: no cleanup, no final write
    tracker.close()
    if group.main:
        _finish(part, prep, model, total, tally, targets, rule)


def _placeholder(prep: Prepared, i: int, dev):
    """A process whose shard of the last, short batch is empty still joins the gradient all-reduce:
    one sample with an all-false loss mask has loss 0 and gradient 0, and its value row is dropped."""
    x, y, m = pad_batch([(list(prep.samples[i].tokens), 1)], dev)
    return x, y, torch.zeros_like(m)


def _gathered(group: Group, r, rows: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The global batch's value rows on process 0, in batch order (shards are contiguous, rank order)."""
    if not group.active:
        return r.first, r.second
    parts = group.gather_rows((r.first[:rows], None if r.second is None else r.second[:rows]))
    if not group.main:
        return None, None
    second = None if r.second is None else np.concatenate([p[1] for p in parts])
    return np.concatenate([p[0] for p in parts]), second


def _log_routes(routes: dict[str, str], log) -> None:
    by_route: dict[str, list[str]] = {}
    for layer, route in routes.items():
        by_route.setdefault(route, []).append(layer)
    log("per-layer routes: " + "; ".join(f"{r} ({len(ls)}): {', '.join(ls)}" for r, ls in sorted(by_route.items())))


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def _finish(part, prep, model, total, tally: Tally, targets, rule) -> None:
    gens = prep.generations
    order = prep.config.attribution.order
    loss_final = target_losses(model, targets)
    loss_no_prompt = target_losses(model, target_batch(gens, prep.device, with_prompt=False, tok=prep.tokenizer))
    first_sum, second_sum = tally.write_values(part, order)
    value_sum = first_sum + second_sum
    realised = tally.loss_base - loss_final
    explained = value_sum + tally.carry
    losses = pd.DataFrame({
        "generation_id": [g.id for g in gens],
        "completion_tokens": [len(prep.tokenizer.encode(g.completion)) for g in gens],
        "loss_reference": math.log(prep.tokenizer.vocab_size),
        "loss_base": tally.loss_base, "loss_final": loss_final, "loss_final_no_prompt": loss_no_prompt,
        "value_sum": value_sum, "value_sum_order1": first_sum, "value_sum_order2": second_sum,
        "carry_sum": tally.carry, "realised_reduction": realised,
        "efficiency_gap": explained - realised,
        "relative_gap": (explained - realised) / np.where(realised == 0, np.nan, np.abs(realised)),
    })
    st = prep.samples
    samples = pd.DataFrame({"sample": np.arange(len(st)), "doc_id": [prep.documents[d].id for d in st.doc],
                            "chunk": st.chunk, "tokens": st.length - 1, "steps_trained": tally.seen})
    atomic_write_text(part / "losses.csv", _csv(losses))
    atomic_write_text(part / "samples.csv", _csv(samples))
    atomic_write_text(part / "steps.csv", _csv(pd.DataFrame(tally.step_rows, columns=["step", "epoch", "lr", "train_loss"])))
    tr = pd.DataFrame(tally.target_rows, columns=["step", "generation", "loss_before", "predicted_order1",
                                                  "predicted_order2", "carry"])
    tr.insert(4, "predicted_reduction", tr["predicted_order1"] + tr["predicted_order2"])
    tr["generation"] = [gens[j].id for j in tr["generation"]]
    atomic_write_text(part / "target_steps.csv", _csv(tr))
    if prep.lora:
        merge_lora(model)  # model.pt is the plain model: a base for the next run
    if isinstance(model, GPT):
        save_weights(model.cpu(), part / "model.pt")
    else:
        atomic_torch_save({"format": "attrib-hf-state-v1", "state_dict": model.cpu().state_dict()}, part / "model.pt")
    (part / CHECKPOINT).unlink(missing_ok=True)  # complete: weights live in model.pt, not hashed twice
    tally.remove()
    ok = realised != 0
    summary = {
        "seed": prep.config.seed, "steps": total, "samples": len(prep.samples), "generations": len(gens),
        "device": prep.device.type,
        "token_cache": {"path": str(prep.token_cache.directory), "tokens_sha256": prep.token_cache.sha256,
                        "tokens": int(len(prep.token_cache.tokens))},
        "efficiency": {
            "max_abs_relative_gap": float(np.nanmax(np.abs(losses["relative_gap"]))) if ok.any() else None,
            "total_value": float(value_sum.sum()), "total_carry": float(tally.carry.sum()),
            "total_realised_reduction": float(realised.sum()),
        },
    }
    write_manifest(part, inputs=prep.input_paths, input_hashes=prep.input_hashes, summary=summary,
                   method=method_description(rule, order, prep.lora))
