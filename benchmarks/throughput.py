"""Tracked training vs plain training: throughput and peak memory, as ratios measured in one run.

    python benchmarks/throughput.py [--config configs/sample.yaml] [--steps 10] [--order 1 2] [--no-path]
                                    [--optimizer sgd|adamw] [--batch-size N] [--device cpu|cuda]
                                    [--precision fp32|bf16] [--tax] [--repeat R]
    python benchmarks/throughput.py --synthetic 64x64 256x256 1024x256 [--batch-size 8] [--generations 4]
    python benchmarks/throughput.py --corpus 64 256 1024 [--synthetic 128x128] [--png scaling.png]

``--synthetic TxW``: instead of the sample, a 2-layer built-in GPT of width W on random T-token
samples and T-token generations (one row of the table per size), to see the ratios across sequence
lengths and widths.

``--corpus N ...``: one epoch over a synthetic corpus of N samples (the first ``--synthetic`` size,
default 128x128), each mode keeping its ``[N, generations]`` value table as training does: total
seconds, seconds per sample and peak memory as the corpus grows (the per-step cost does not depend on
N, so the time should grow linearly; the value table adds N x generations x 8 bytes).

``--repeat R``: each mode's fastest of R runs, the modes taken in turn (plain, plain+gen, order 1, ...,
then again), so that a slow spell of a shared machine (10-30 % between runs on 2 cores) falls on every mode
alike instead of on whichever ran during it.

``--png PATH`` draws the ratios (or, with ``--corpus``, seconds against corpus size).

Every mode runs the same model, data and steps. "plain" is forward + backward + optimizer step on the
training batch; "order N" is attrib's tracked step (attribcli.inrun.step.tracked_step): the targets'
forward, their share of the one backward pass, the per-layer dot products, and for order 2 the
forward-over-reverse pass; "path" is the path rule (attribcli.inrun.path.path_step, its default tolerance
and nodes): each step closed by the next one's target pass, plus a pass per extra node where a step's
residual asks for it (the data decide how many: the figure is for this model, data and learning rate).
Every mode runs with the allocator setting ``attrib`` itself makes (attribcli/allocator.py; set
``ATTRIB_SYSTEM_MALLOC=1`` to measure without it). Peak memory: on CUDA, torch's peak allocation; on CPU, each
mode runs in its own child process and reports its peak resident set (so the figure includes the Python/torch
baseline).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from peak import peak_rss_bytes  # noqa: E402  (benchmarks/peak.py)
from plotting import png_figure  # noqa: E402  (benchmarks/plotting.py)


def synthetic(size: str, batch: int, generations: int, device, seed: int = 0):
    """(model, training batches source, targets) for a TxW size: random tokens, a 2-layer GPT."""
    from attribcli.model.gpt import GPT, GPTConfig
    from attribcli.training.steps import pad_batch

    T, W = (int(x) for x in size.lower().split("x"))
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=257, context_length=T, n_layer=2, n_head=max(1, W // 64), n_embd=W)).to(device)
    g = torch.Generator().manual_seed(seed)

    def seqs(n, first):
        return [(torch.randint(0, 256, (T + 1,), generator=g).tolist(), first) for _ in range(n)]

    targets = pad_batch(seqs(generations, T // 2), device)
    return model, lambda: pad_batch(seqs(batch, 1), device), targets


def measure(config: str, steps: int, mode: str, device: str, optimizer: str, batch_size: int | None,
            size: str | None = None, generations: int = 4, corpus: int | None = None, precision: str = "fp32") -> dict:
    import dataclasses

    from attribcli.allocator import keep_freed_memory

    keep_freed_memory()  # every mode, as `attrib` does (ATTRIB_SYSTEM_MALLOC=1 measures without it)
    from attribcli.config import load_config
    from attribcli.inrun.optim import attach_names, update_rule
    from attribcli.inrun.path import path_step
    from attribcli.inrun.step import tracked_step
    from attribcli.inrun.tracker import GhostTracker
    from attribcli.model.gpt import sequence_losses
    from attribcli.training.prepare import prepare
    from attribcli.training.steps import pad_batch, target_batch

    cfg = load_config(config)
    cfg = dataclasses.replace(cfg, training=dataclasses.replace(
        cfg.training, optimizer=optimizer, batch_size=batch_size or cfg.training.batch_size))
    dev = torch.device(device)
    B = cfg.training.batch_size
    if corpus:
        steps = -(-corpus // B)  # one epoch
    if size:
        model, make_batch, targets = synthetic(size, B, generations, dev)
        batches = [make_batch() for _ in range(steps + 1)]
        n_generations = generations
    else:
        prep = prepare(cfg)
        model = prep.model.to(dev)
        batches = [pad_batch([(list(prep.samples[(s * B + i) % len(prep.samples)].tokens), 1) for i in range(B)], dev)
                   for s in range(steps + 1)]
        targets = target_batch(prep.generations, dev, tok=prep.tokenizer)
        n_generations = len(prep.generations)
    rule = update_rule(cfg.training)
    opt = rule.make(model.parameters(), cfg.training)
    attach_names(opt, model)
    tracker = GhostTracker(model) if not mode.startswith("plain") else None
    order = int(mode[-1]) if mode.startswith("order") else 0
    values = np.zeros((corpus, n_generations)) if corpus and tracker is not None else None

    half = torch.bfloat16 if precision == "bf16" else None
    chunk = cfg.attribution.target_chunk  # the config's generations per backward pass, as `attrib train` takes them
    opened = None
    nodes: list[float] = []  # path rule: the mean nodes per generation of each closed step

    def step(b, i=None):
        nonlocal opened
        if mode == "path":  # the warm-up and the last step close at once; the others by the next step's pass
            done, opened = path_step(model, tracker, opt, rule, [b], targets, losses=sequence_losses, opened=opened,
                                     close=i is None or i == steps - 1, tag=i, autocast=half,
                                     target_chunk=chunk)
            for r in done:
                if r.tag is not None and r.nodes is not None:
                    nodes.append(float(np.mean(r.nodes)))
                if values is not None and r.tag is not None:
                    rows = min(B, corpus - r.tag * B)
                    values[r.tag * B:r.tag * B + rows] += r.first[:rows]
        elif tracker is None:
            opt.zero_grad(set_to_none=True)
            with torch.autocast(dev.type, dtype=half, enabled=half is not None):
                loss = sequence_losses(model(b[0]), b[1], b[2]).mean()
            if mode == "plain+gen":  # the generations' own forward and backward, untracked, in the config's chunks
                size = chunk or targets[0].shape[0]  # (timing only: their gradient joins the step's)
                for k in range(0, targets[0].shape[0], size):
                    with torch.autocast(dev.type, dtype=half, enabled=half is not None):
                        x, y, m = (t[k:k + size] for t in targets)
                        loss = loss + sequence_losses(model(x), y, m).sum()
                    loss.backward()  # the first chunk with the batch's loss
                    loss = 0
            else:
                loss.backward()
            opt.step()
        else:
            r = tracked_step(model, tracker, opt, rule, [b], targets, order=order, autocast=half,
                             losses=sequence_losses, target_chunk=chunk)
            if values is not None and i is not None:  # the run's value table, as training keeps it (training/tally.py)
                rows = min(B, corpus - i * B)
                values[i * B:i * B + rows] += r.first[:rows] + (r.second[:rows] if r.second is not None else 0)

    step(batches[0])  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for i, b in enumerate(batches[1:]):
        step(b, i)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    peak = (torch.cuda.max_memory_allocated() if dev.type == "cuda"
            else peak_rss_bytes())
    return {"mode": mode, "steps": steps, "seconds": secs, "samples_per_s": steps * B / secs,
            "peak_bytes": peak, "tokens_per_sample": int(batches[1][0].shape[1]),
            "generations": n_generations, "threads": torch.get_num_threads(), "batch": B,
            "corpus": corpus, "precision": precision, "nodes": float(np.mean(nodes)) if nodes else None,
            "parameters": sum(p.numel() for p in model.parameters()),
            "trained": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def run_child(a, mode: str, size: str | None = None, corpus: int | None = None) -> dict:
    """One mode in a fresh process, so each peak memory figure is its own."""
    args = [sys.executable, __file__, "--config", a.config, "--steps", str(a.steps), "--device", a.device,
            "--optimizer", a.optimizer, "--child", mode, "--generations", str(a.generations),
            "--precision", a.precision]
    if size:
        args += ["--size", size, "--batch-size", str(a.batch_size or 8)]
    elif a.batch_size:
        args += ["--batch-size", str(a.batch_size)]
    if corpus:
        args += ["--corpus-size", str(corpus)]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def best_of(a, modes: list[str], size: str | None = None, corpus: int | None = None) -> dict:
    """Each mode's fastest of ``--repeat`` child runs, the modes interleaved round-robin."""
    best: dict = {}
    for _ in range(a.repeat):
        for m in modes:
            r = run_child(a, m, size, corpus)
            if m not in best or r["seconds"] < best[m]["seconds"]:
                best[m] = r
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--order", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    ap.add_argument("--no-path", action="store_true", help="leave out the path rule")
    ap.add_argument("--tax", action="store_true", help="also time plain + the generations' own forward and backward, "
                    "and print each tracked mode's tracking tax: (tracked - that) / plain step time")
    ap.add_argument("--repeat", type=int, default=1, help="each mode's fastest of R runs, the modes in turn")
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw"])
    ap.add_argument("--batch-size", type=int, help="override training.batch_size")
    ap.add_argument("--synthetic", nargs="+", metavar="TxW", help="sizes: tokens x width, e.g. 64x64 1024x256")
    ap.add_argument("--generations", type=int, default=4, help="with --synthetic: generations per step")
    ap.add_argument("--corpus", nargs="+", type=int, metavar="N", help="one epoch over N synthetic samples, per N")
    ap.add_argument("--png", help="write a plot of the table (needs matplotlib)")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16: autocast forward passes")
    ap.add_argument("--size", help=argparse.SUPPRESS)
    ap.add_argument("--corpus-size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--kept-per-sample", type=int, metavar="ELEMENTS",
                    help="per-sample weight-gradient numbers the tracker keeps a step (tracker.SHARED_MAX_ELEMENTS: "
                         "memory traded for not forming them again for the dot products)")
    a = ap.parse_args()
    modes = ["plain"] + (["plain+gen"] if a.tax else []) + [f"order {o}" for o in a.order] + \
        ([] if a.no_path else ["path"])
    if a.kept_per_sample is not None:
        import attribcli.inrun.tracker as tracker_module
        tracker_module.SHARED_MAX_ELEMENTS = a.kept_per_sample
    if a.child:
        print(json.dumps(measure(a.config, a.steps, a.child, a.device, a.optimizer, a.batch_size, a.size,
                                 a.generations, a.corpus_size, a.precision)))
        return
    if a.corpus:
        size = (a.synthetic or ["128x128"])[0]
        print(f"device {a.device} ({torch.get_num_threads()} threads), optimizer {a.optimizer}, one epoch, "
              f"batch {a.batch_size or 8}, {a.generations} generations, 2-layer GPT {size}, random tokens")
        print(f"{'samples':>8s} " + " ".join(f"{m + ' s':>11s} {'us/sample':>9s} {'MiB':>6s}" for m in modes)
              + " " + " ".join(f"{o + '/plain':>13s}" for o in modes[1:]))
        table = {}
        for n in a.corpus:
            res = table[n] = best_of(a, modes, size, n)
            print(f"{n:8d} " + " ".join(f"{r['seconds']:11.2f} {r['seconds'] / n * 1e6:9.0f} "
                                        f"{r['peak_bytes'] / 2**20:6.0f}" for r in res.values())
                  + " " + " ".join(f"{res['plain']['seconds'] / res[m]['seconds']:13.3f}" for m in modes[1:]),
                  flush=True)
        with png_figure(a.png, ncols=2, title=f"One epoch vs corpus size ({size}, {a.device})") as axes:
            if axes is not None:
                ns = list(table)
                for m in modes:
                    axes[0].loglog(ns, [table[n][m]["seconds"] for n in ns], "o-", label=m)
                    axes[1].semilogx(ns, [table[n][m]["peak_bytes"] / 2**20 for n in ns], "o-", label=m)
                axes[0].set(xlabel="samples in the corpus", ylabel="seconds per epoch")
                axes[1].set(xlabel="samples in the corpus", ylabel="peak MiB")
                axes[0].legend()
        return
    if a.synthetic:
        print(f"device {a.device} ({torch.get_num_threads()} threads), optimizer {a.optimizer}, {a.steps} steps, "
              f"batch {a.batch_size or 8}, {a.generations} generations, 2-layer GPT, random tokens")
        print(f"{'T x W':>10s} " + " ".join(f"{m + ' thr.':>13s} {'mem':>6s}" for m in modes[1:]))
        rows = {}
        for size in a.synthetic:
            res = best_of(a, modes, size)
            p = res["plain"]
            rows[size] = {m: res[m]["samples_per_s"] / p["samples_per_s"] for m in modes[1:]}
            print(f"{size:>10s} " + " ".join(
                f"{res[m]['samples_per_s'] / p['samples_per_s']:13.3f} "
                f"{res[m]['peak_bytes'] / p['peak_bytes']:6.2f}" for m in modes[1:]), flush=True)
            _print_tax(res)
        _plot_ratios(a.png, rows, f"Tracked / plain throughput ({a.device}, batch {a.batch_size or 8})")
        return
    res = best_of(a, modes)
    p = res["plain"]
    print(f"device {a.device} ({torch.get_num_threads()} threads), optimizer {a.optimizer}, {p['steps']} steps, "
          f"batch {p['batch']} x {p['tokens_per_sample']}-token samples, {p['generations']} generations")
    print(f"{'mode':8s} {'samples/s':>10s} {'peak MiB':>9s} {'throughput/plain':>17s} {'memory/plain':>13s}")
    for mode, r in res.items():
        print(f"{mode:8s} {r['samples_per_s']:10.2f} {r['peak_bytes'] / 2**20:9.1f} "
              f"{r['samples_per_s'] / p['samples_per_s']:17.3f} {r['peak_bytes'] / p['peak_bytes']:13.3f}")
    _print_tax(res)
    _plot_ratios(a.png, {f"batch {p['batch']}": {m: res[m]["samples_per_s"] / p["samples_per_s"] for m in modes[1:]}},
                 f"Tracked / plain throughput ({a.device}, {a.optimizer})")


def _print_tax(res: dict) -> None:
    """The tracking tax: what a tracked step costs beyond plain training and the generations' own passes."""
    if "plain+gen" not in res:
        return
    step = {m: r["batch"] / r["samples_per_s"] for m, r in res.items()}  # s / step
    print("tracking tax / plain step: " + ", ".join(
        f"{m} {(step[m] - step['plain+gen']) / step['plain']:.1%}" for m in res if not m.startswith("plain"))
        + f"  (plain {step['plain']:.4f} s, plain + generations {step['plain+gen']:.4f} s a step)")


def _plot_ratios(path, rows: dict[str, dict[str, float]], title: str) -> None:
    """Grouped bars: one group per row of the table, one bar per order, with the targets as lines."""
    with png_figure(path, title=title, width=max(5.0, 1.2 * len(rows) + 2)) as axes:
        if axes is None:
            return
        ax, labels = axes[0], list(rows)
        orders = list(next(iter(rows.values())))
        for k, m in enumerate(orders):
            ax.bar([i + 0.8 * k / len(orders) for i in range(len(labels))], [rows[r][m] for r in labels],
                   width=0.8 / len(orders), label=m, color=f"C{k}")
        for target, k in ((0.95, 0), (0.6, 1)):
            ax.axhline(target, color=f"C{k}", ls="--", lw=0.8)
        ax.set_xticks([i + 0.4 - 0.4 / len(orders) for i in range(len(labels))], labels)
        ax.set(ylabel="tracked / plain throughput", ylim=(0, 1.05))
        ax.legend()

if __name__ == "__main__":
    main()
