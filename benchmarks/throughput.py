"""Tracked training vs plain training: throughput and peak memory, as ratios measured in one run.

    python benchmarks/throughput.py [--config configs/sample.yaml] [--steps 10] [--order 1 2]
                                    [--optimizer sgd|adamw] [--batch-size N] [--device cpu|cuda]
    python benchmarks/throughput.py --synthetic 64x64 256x256 1024x256 [--batch-size 8] [--generations 4]

``--synthetic TxW``: instead of the sample, a 2-layer built-in GPT of width W on random T-token
samples and T-token generations (one row of the table per size), to see the ratios across sequence
lengths and widths.

Every mode runs the same model, data and steps. "plain" is forward + backward + optimizer step on the
training batch; "order N" is attrib's tracked step (attribcli.inrun.step.tracked_step): the targets'
forward, their share of the one backward pass, the per-layer dot products, and for order 2 the
forward-over-reverse pass. Peak memory: on CUDA, torch's peak allocation; on CPU, each mode runs in its
own child process and reports its peak resident set (so the figure includes the Python/torch baseline).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def synthetic(size: str, batch: int, generations: int, device, seed: int = 0):
    """(model, training batches source, targets) for a TxW size: random tokens, a 2-layer GPT."""
    from attribcli.model.gpt import GPT, GPTConfig
    from attribcli.train import pad_batch

    T, W = (int(x) for x in size.lower().split("x"))
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=257, context_length=T, n_layer=2, n_head=max(1, W // 64), n_embd=W)).to(device)
    g = torch.Generator().manual_seed(seed)

    def seqs(n, first):
        return [(torch.randint(0, 256, (T + 1,), generator=g).tolist(), first) for _ in range(n)]

    targets = pad_batch(seqs(generations, T // 2), device)
    return model, lambda: pad_batch(seqs(batch, 1), device), targets


def measure(config: str, steps: int, mode: str, device: str, optimizer: str, batch_size: int | None,
            size: str | None = None, generations: int = 4) -> dict:
    import dataclasses

    from attribcli.config import load_config
    from attribcli.inrun.optim import attach_names, update_rule
    from attribcli.inrun.step import tracked_step
    from attribcli.inrun.tracker import GhostTracker
    from attribcli.model.gpt import sequence_losses
    from attribcli.train import pad_batch, prepare, target_batch

    cfg = load_config(config)
    cfg = dataclasses.replace(cfg, training=dataclasses.replace(
        cfg.training, optimizer=optimizer, batch_size=batch_size or cfg.training.batch_size))
    dev = torch.device(device)
    B = cfg.training.batch_size
    if size:
        model, make_batch, targets = synthetic(size, B, generations, dev)
        batches = [make_batch() for _ in range(steps + 1)]
        n_generations = generations
    else:
        prep = prepare(cfg)
        model = prep.model.to(dev)
        batches = [pad_batch([(list(prep.samples[(s * B + i) % len(prep.samples)].tokens), 1) for i in range(B)], dev)
                   for s in range(steps + 1)]
        targets = target_batch(prep.generations, dev)
        n_generations = len(prep.generations)
    rule = update_rule(cfg.training)
    opt = rule.make(model.parameters(), cfg.training)
    attach_names(opt, model)
    tracker = GhostTracker(model) if mode != "plain" else None
    order = int(mode[-1]) if mode != "plain" else 0

    def step(b):
        if tracker is None:
            opt.zero_grad(set_to_none=True)
            sequence_losses(model(b[0]), b[1], b[2]).mean().backward()
            opt.step()
        else:
            tracked_step(model, tracker, opt, rule, [b], targets, order=order)

    step(batches[0])  # warm-up
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for b in batches[1:]:
        step(b)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    secs = time.perf_counter() - t0
    peak = (torch.cuda.max_memory_allocated() if dev.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"mode": mode, "steps": steps, "seconds": secs, "samples_per_s": steps * B / secs,
            "peak_bytes": peak, "tokens_per_sample": int(batches[1][0].shape[1]),
            "generations": n_generations, "threads": torch.get_num_threads(), "batch": B}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--order", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    ap.add_argument("--optimizer", default="sgd", choices=["sgd", "adamw"])
    ap.add_argument("--batch-size", type=int, help="override training.batch_size")
    ap.add_argument("--synthetic", nargs="+", metavar="TxW", help="sizes: tokens x width, e.g. 64x64 1024x256")
    ap.add_argument("--generations", type=int, default=4, help="with --synthetic: generations per step")
    ap.add_argument("--size", help=argparse.SUPPRESS)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(measure(a.config, a.steps, a.child, a.device, a.optimizer, a.batch_size, a.size,
                                 a.generations)))
        return
    if a.synthetic:
        print(f"device {a.device} ({torch.get_num_threads()} threads), optimizer {a.optimizer}, {a.steps} steps, "
              f"batch {a.batch_size or 8}, {a.generations} generations, 2-layer GPT, random tokens")
        print(f"{'T x W':>10s} " + " ".join(f"{'order ' + str(o) + ' thr.':>13s} {'mem':>6s}" for o in a.order))
        for size in a.synthetic:
            res = {}
            for mode in ["plain"] + [f"order {o}" for o in a.order]:
                out = subprocess.run([sys.executable, __file__, "--steps", str(a.steps), "--device", a.device,
                                      "--optimizer", a.optimizer, "--child", mode, "--size", size,
                                      "--batch-size", str(a.batch_size or 8), "--generations", str(a.generations)],
                                     capture_output=True, text=True, check=True)
                res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            p = res["plain"]
            print(f"{size:>10s} " + " ".join(
                f"{res[f'order {o}']['samples_per_s'] / p['samples_per_s']:13.3f} "
                f"{res[f'order {o}']['peak_bytes'] / p['peak_bytes']:6.2f}" for o in a.order), flush=True)
        return
    res = {}
    for mode in ["plain"] + [f"order {o}" for o in a.order]:
        out = subprocess.run([sys.executable, __file__, "--config", a.config, "--steps", str(a.steps),
                              "--device", a.device, "--optimizer", a.optimizer, "--child", mode]
                             + (["--batch-size", str(a.batch_size)] if a.batch_size else []),
                             capture_output=True, text=True, check=True)
        res[mode] = json.loads(out.stdout.strip().splitlines()[-1])
    p = res["plain"]
    print(f"device {a.device} ({torch.get_num_threads()} threads), optimizer {a.optimizer}, {p['steps']} steps, "
          f"batch {p['batch']} x {p['tokens_per_sample']}-token samples, {p['generations']} generations")
    print(f"{'mode':8s} {'samples/s':>10s} {'peak MiB':>9s} {'throughput/plain':>17s} {'memory/plain':>13s}")
    for mode, r in res.items():
        print(f"{mode:8s} {r['samples_per_s']:10.2f} {r['peak_bytes'] / 2**20:9.1f} "
              f"{r['samples_per_s'] / p['samples_per_s']:17.3f} {r['peak_bytes'] / p['peak_bytes']:13.3f}")


if __name__ == "__main__":
    main()
