"""attrib next to GhostSuite and Opacus on the same work: time per step and agreement of the values.

    python benchmarks/side_by_side.py --ghostsuite DIR [--python PEERS_PYTHON] [--steps 8] [--batch 16]
        [--seq 128] [--layers 4] [--width 192] [--heads 4] [--vocab 2048] [--lr 0.02] [--repeat 2]
        [--markdown OUT.md] [--dry-run]

GhostSuite (https://github.com/Jiachen-T-Wang/GhostSuite, MIT; the In-Run Data Shapley authors' engine,
``ghostEngines.GradDotProdEngine``) is not on the package index and is never installed: ``--ghostsuite DIR``
is the path of a checkout (``git clone https://github.com/Jiachen-T-Wang/GhostSuite DIR``), put on the
child's ``sys.path``. Its code pins transformers 4.54.1; Opacus 1.6 is the materialising baseline. Both
run in the peers venv (never the project's environment), which also needs attrib itself:

    python -m venv /tmp/peers-venv
    /tmp/peers-venv/bin/pip install torch==2.13.0          # the CPU wheel
    /tmp/peers-venv/bin/pip install -c benchmarks/peers-constraints.txt "transformers==4.54.1" "opacus>=1.6,<1.7"
    /tmp/peers-venv/bin/pip install -e . --no-deps && /tmp/peers-venv/bin/pip install click numpy pandas pyyaml rich
    python benchmarks/side_by_side.py --ghostsuite DIR --python /tmp/peers-venv/bin/python

Every mode runs in its own process (``--python``, the same interpreter for all, so the same torch and
transformers), builds the same Hugging Face GPT-2 (``GPT2LMHeadModel`` from a local ``GPT2Config``: no
download; untied head, no dropout) from the same initial weights, and takes the same SGD steps on the same
fixed-length random-token batches (every position scored, so a sequence's mean loss is the same quantity
in every tool). One warm-up step, then ``--steps`` timed steps; a mode's figure is the median step, the best
of ``--repeat`` runs of it. Modes:

* plain: forward + backward of the batch, ``optimizer.step()`` (the baseline of every ratio);
* plain + k gen.: the same plus the k generations' own forward and backward (no hooks): what any
  method must spend on the generations, so ``attrib - (plain + k gen.)`` is attrib's tracking tax;
* GhostSuite: ``GradDotProdEngine`` with one validation sample concatenated to the batch, one backward, as
  its README's loop does. It logs, per training sample, the dot product with the summed validation
  gradient (its dot products in bfloat16, by design); HF's loss is the mean over all B+1 rows' tokens, so
  its figure is ``<g_z, g_v> / (B+1)^2`` with g the per-sequence mean-loss gradients (checked: see the
  agreement column). Its forward has one more position than the others (HF shifts labels inside: T+1
  input tokens for T scored ones);
* Opacus: ``GradSampleModule`` per-sample gradients of the batch and the generation (one forward and
  backward of both), flattened and dotted; the batch's mean of them is the step's gradient;
* attrib k gen.: ``tracked_step`` at order 1, plain SGD, on ``attribcli.model.hf.HFCausalLM``.

Every mode's process makes the allocator setting ``attrib`` makes (attribcli/allocator.py: freed blocks kept for
the next step, not faulted in again), GhostSuite's and Opacus's included; ``ATTRIB_SYSTEM_MALLOC=1`` leaves
glibc's defaults to every mode.

Values are put on attrib's scale, ``lr <g_z / B, g_v>`` per step (GhostSuite x ``lr (B+1)^2 / B``,
Opacus x ``lr / B``), and compared with attrib's one-generation values over every step x sample:
Pearson, and max |peer - attrib| / max |attrib|. ``--dry-run``: every mode at a tiny size, GhostSuite
and Opacus skipped when absent (the benchmark smoke test).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from ranking import pearson  # noqa: E402  (benchmarks/ranking.py)

GENERATIONS = 8
ABSENT = "absent"


# ----------------------------------------------------------------------------------------------- child side


def _spec(work: Path) -> dict:
    return json.loads((work / "spec.json").read_text())


def _model(work: Path):
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    s = _spec(work)
    cfg = GPT2Config(vocab_size=s["vocab"], n_positions=s["seq"] + 1, n_embd=s["width"], n_layer=s["layers"],
                     n_head=s["heads"], resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                     tie_word_embeddings=False, attn_implementation=s["attention"])
    torch.manual_seed(s["seed"])
    model = GPT2LMHeadModel(cfg)
    init = work / "init.pt"
    if init.is_file():
        model.load_state_dict(torch.load(init))
    else:  # the first mode writes the initial weights every other mode starts from
        torch.save(model.state_dict(), init)
    return model.to(s["device"]).eval()


def _data(work: Path):
    """``[steps + 1, B, T + 1]`` training tokens (the first batch is the warm-up) and ``[8, T + 1]`` generations."""
    import torch

    s = _spec(work)
    g = torch.Generator().manual_seed(s["seed"])
    train = torch.randint(0, s["vocab"], (s["steps"] + 1, s["batch"], s["seq"] + 1), generator=g)
    gens = torch.randint(0, s["vocab"], (GENERATIONS, s["seq"] + 1), generator=g)
    return train.to(s["device"]), gens.to(s["device"])


def _losses(model, tokens):
    """Per-sequence mean next-token loss, ``[n]``: inputs ``tokens[:, :-1]``, targets ``tokens[:, 1:]``."""
    import torch

    x, y = tokens[:, :-1], tokens[:, 1:]
    pos = torch.arange(x.shape[1], device=x.device).expand_as(x)
    logits = model(input_ids=x, position_ids=pos, use_cache=False).logits
    return _nll(logits, y).mean(1)


def _nll(logits, y):
    """``[n, T]`` next-token losses, the logits scored as one ``[n·T, V]`` matrix, as attrib's sequence_losses
    and HF's own loss (GhostSuite's) do: over ``[n, V, T]`` the CPU's cross-entropy costs 5-7x as much."""
    import torch.nn.functional as F

    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none").view(y.shape)


def _timed(steps: int, one, device: str) -> list[float]:
    import torch

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    out = []
    for i in range(steps + 1):
        sync()
        t0 = time.perf_counter()
        one(i)
        sync()
        if i:  # step 0 warms up
            out.append(time.perf_counter() - t0)
    return out


def child(mode: str, work: Path, ghostsuite: str | None) -> dict:
    import torch

    from attribcli.allocator import keep_freed_memory

    keep_freed_memory()  # every mode, peers included: the allocator is the process's, not the engine's
    s = _spec(work)
    model, (train, gens) = _model(work), _data(work)
    opt = torch.optim.SGD(model.parameters(), lr=s["lr"])
    values = []
    if mode.startswith("plain"):
        k = int(mode.split("+")[1]) if "+" in mode else 0

        def one(i):
            opt.zero_grad(set_to_none=True)
            loss = _losses(model, train[i]).mean()
            total = loss + _losses(model, gens[:k]).sum() if k else loss
            total.backward()  # timing only: the generations' gradient joins the step's (it is not used)
            opt.step()
    elif mode == "ghostsuite":
        sys.path.insert(0, ghostsuite)
        from ghostEngines import GradDotProdEngine

        engine = GradDotProdEngine(module=model, val_batch_size=1, loss_reduction="mean", use_dummy_bias=False)
        engine.attach(opt)

        def one(i):
            x = torch.cat([train[i], gens[:1]])
            engine.attach_train_batch(x, x, i, None)
            loss = model(input_ids=x, labels=x, use_cache=False).loss
            loss.backward()
            engine.prepare_gradients()
            opt.step()
            engine.aggregate_and_log()
            engine.clear_gradients()
            opt.zero_grad(set_to_none=True)

        def done():
            scale = s["lr"] * (s["batch"] + 1) ** 2 / s["batch"]
            return [e["dot_product"].double().cpu().numpy()[:, None] * scale for e in engine.dot_product_log]
    elif mode == "opacus":
        from opacus import GradSampleModule

        gsm = GradSampleModule(model, loss_reduction="sum").train()  # Opacus captures in training mode only

        def one(i):
            opt.zero_grad(set_to_none=True)
            for p in model.parameters():
                p.grad_sample = None
            both = torch.cat([train[i], gens[:1]])
            x, y = both[:, :-1], both[:, 1:]
            pos = torch.arange(x.shape[1], device=x.device).expand_as(x).contiguous()
            logits = gsm(input_ids=x, position_ids=pos, use_cache=False).logits
            per = _nll(logits, y).mean(1)
            per.sum().backward()
            G = torch.cat([p.grad_sample.reshape(both.shape[0], -1) for p in model.parameters()], 1)
            B = train[i].shape[0]
            for p in model.parameters():
                p.grad = p.grad_sample[:B].mean(0)
                p.grad_sample = None
            values.append((G[:B] @ G[B:].T).double().cpu().numpy() * s["lr"] / B)
            opt.step()
    elif mode.startswith("attrib"):
        import attribcli.inrun.hf_rules  # noqa: F401  (registers GPT-2's Conv1D rule, as load_hf does)
        from attribcli.inrun.optim import attach_names, update_rule
        from attribcli.inrun.step import tracked_step
        from attribcli.inrun.tracker import GhostTracker
        from attribcli.model.gpt import sequence_losses
        from attribcli.model.hf import HFCausalLM

        k = int(mode.split("+")[1])
        wrapped = HFCausalLM(model)
        opt = torch.optim.SGD(wrapped.parameters(), lr=s["lr"])
        attach_names(opt, wrapped)
        rule = update_rule(argparse.Namespace(optimizer="sgd", momentum=0.0, weight_decay=0.0))
        tracker = GhostTracker(wrapped)

        def batch(tokens):
            mask = torch.ones(tokens.shape[0], tokens.shape[1] - 1, dtype=torch.bool, device=tokens.device)
            return tokens[:, :-1], tokens[:, 1:], mask

        targets = batch(gens[:k])

        def one(i):
            r = tracked_step(wrapped, tracker, opt, rule, [batch(train[i])], targets, losses=sequence_losses)
            values.append(r.first)
    else:
        raise SystemExit(f"unknown mode {mode}")
    times = _timed(s["steps"], one, s["device"])
    with torch.no_grad():  # where the steps led: the generations' loss at the end (equal where the steps were)
        end = _losses(model, gens).mean().item()
    if mode == "ghostsuite":
        values = done()
    out = work / f"values-{mode}.npy"
    if values:
        np.save(out, np.stack(values[1:]))  # the timed steps (the warm-up's values are dropped)
    return {"mode": mode, "step_s": statistics.median(times), "end_loss": end,
            "values": str(out) if values else None, "threads": torch.get_num_threads()}


# ---------------------------------------------------------------------------------------------- parent side


def run_mode(python: str, mode: str, work: Path, ghostsuite: str | None) -> dict | str:
    args = [python, __file__, "--child", mode, "--work", str(work)]
    if ghostsuite:
        args += ["--ghostsuite", ghostsuite]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode:
        last = (r.stderr.strip().splitlines() or ["?"])[-1]
        return ABSENT if "No module named" in last else f"failed: {last[:160]}"
    return json.loads(r.stdout.strip().splitlines()[-1])


def agreement(ref: np.ndarray, other: np.ndarray) -> tuple[float, float]:
    a, b = ref[..., 0].ravel(), other[..., 0].ravel()
    return pearson(a, b), float(np.abs(b - a).max() / np.abs(a).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ghostsuite", help="path of a GhostSuite checkout (its ghostEngines package)")
    ap.add_argument("--python", default=sys.executable, help="interpreter for every mode (the peers venv)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128, help="scored tokens per sequence")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--width", type=int, default=192)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=2048)
    ap.add_argument("--lr", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--attention", default="eager", choices=["eager", "sdpa"],
                    help="HF attention kernel, the same in every mode (attrib loads HF models with eager)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each mode; the best median step is kept")
    ap.add_argument("--markdown", help="also write the table as Markdown to this file")
    ap.add_argument("--dry-run", action="store_true", help="every mode at a tiny size (smoke test)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, Path(a.work), a.ghostsuite)))
        return
    if a.dry_run:
        a.steps, a.batch, a.seq, a.layers, a.width, a.heads, a.vocab, a.repeat = 2, 4, 16, 1, 32, 2, 64, 1
    if a.ghostsuite and not (Path(a.ghostsuite) / "ghostEngines").is_dir():
        ap.error(f"--ghostsuite {a.ghostsuite}: no ghostEngines/ there (git clone "
                 "https://github.com/Jiachen-T-Wang/GhostSuite DIR)")
    modes = ["plain", "plain+1", f"plain+{GENERATIONS}", "ghostsuite", "opacus", "attrib+1", f"attrib+{GENERATIONS}"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "spec.json").write_text(json.dumps({k: getattr(a, k) for k in (
            "steps", "batch", "seq", "layers", "width", "heads", "vocab", "lr", "seed", "attention", "device")}))
        res: dict[str, dict | str] = {}
        for _ in range(a.repeat):  # round robin, so a slow spell of the machine hits every mode alike
            for m in modes:
                if m == "ghostsuite" and not a.ghostsuite:
                    res[m] = "no --ghostsuite checkout given"
                    continue
                r = run_mode(a.python, m, work, a.ghostsuite)
                if isinstance(r, str):
                    res[m] = r
                elif not isinstance(res.get(m), dict) or r["step_s"] < res[m]["step_s"]:
                    res[m] = r
        lines = table(a, res)
    print("\n".join(lines))
    if a.markdown:
        Path(a.markdown).write_text("\n".join(lines) + "\n")


def table(a, res: dict) -> list[str]:
    plain = res["plain"]["step_s"]
    ref = np.load(res["attrib+1"]["values"]) if isinstance(res.get("attrib+1"), dict) else None
    threads = res["plain"]["threads"]
    lines = [f"HF GPT-2 {a.layers}x{a.width} ({a.heads} heads, vocab {a.vocab}, untied head), batch {a.batch} x "
             f"{a.seq} tokens, SGD lr {a.lr}, {a.steps} timed steps, {a.device} ({threads} threads); "
             f"median step, best of {a.repeat}", "",
             "| mode | s / step | x plain | tracking tax / plain | generations' loss at the end "
             "| values vs attrib (1 gen.): Pearson | max abs. diff / max |attrib| |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    names = {"plain": "plain training", "plain+1": "plain + 1 generation's fwd+bwd",
             f"plain+{GENERATIONS}": f"plain + {GENERATIONS} generations' fwd+bwd",
             "ghostsuite": "GhostSuite GradDotProdEngine (1 val.)", "opacus": "Opacus 1.6 GradSampleModule (1 gen.)",
             "attrib+1": "attrib order 1 (1 generation)",
             f"attrib+{GENERATIONS}": f"attrib order 1 ({GENERATIONS} generations)"}
    for m, name in names.items():
        r = res.get(m)
        if not isinstance(r, dict):
            lines.append(f"| {name} | {r} | | | | | |")
            continue
        tax = ""
        if m.startswith("attrib") and isinstance(res.get(m.replace("attrib", "plain")), dict):
            tax = f"{(r['step_s'] - res[m.replace('attrib', 'plain')]['step_s']) / plain:.1%}"
        agree = ["", ""]
        if ref is not None and r["values"] and m != "attrib+1":  # attrib with 8: its first generation is the one
            p, d = agreement(ref, np.load(r["values"]))
            agree = [f"{p:.5f}", f"{d:.2e}"]
        lines.append(f"| {name} | {r['step_s']:.4f} | {r['step_s'] / plain:.3f} | {tax} | {r['end_loss']:.5f} | "
                     f"{agree[0]} | {agree[1]} |")
    return lines


if __name__ == "__main__":
    main()
