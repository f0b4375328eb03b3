"""Real-size models under AdamW: seconds per step and peak memory, plain and tracked, and attrib plan's prediction.

    python benchmarks/real_size.py [--work DIR] [--model gpt2-124m llama-125m] [--context 256 1024]
                                   [--generations 8 64] [--lora 16] [--full/--no-full] [--steps 3]
                                   [--modes plain plain+gen order1 path]
                                   [--target-chunk 0 2] [--out FILE]

For each model (benchmarks/real_models.py: transformers configs at their real sizes, random weights), context,
number of generations and fine-tuning kind (full, LoRA), each mode runs in its own process
(benchmarks/throughput.py's child: a warm-up step, then ``--steps`` timed steps of batch 4 from the config's
corpus, every sample a full window): "plain" is forward, backward and the AdamW step; "plain+gen" adds the
generations' own forward and backward (what any valuation must spend); "order1" and "path" are attrib's tracked
steps. Peak memory is the process's peak resident set (VmHWM) on the CPU, torch's peak allocation on CUDA.
The tracking tax is (tracked − plain+gen) / plain
per step. ``attrib plan CONFIG --json`` runs first for each configuration; its predicted peaks are set beside the
measured ones. Rows are printed as they finish; ``--out`` also writes the table as Markdown.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from real_models import save_model, write_config  # noqa: E402  (benchmarks/real_models.py)

MODES = {"plain": "plain", "plain+gen": "plain+gen", "order1": "order 1", "path": "path"}


def child(config: Path, mode: str, steps: int, batch: int, device: str = "cpu", kept: int | None = None) -> dict:
    args = [sys.executable, str(ROOT / "benchmarks/throughput.py"), "--config", str(config), "--steps", str(steps),
            "--device", device, "--optimizer", "adamw", "--child", MODES[mode], "--batch-size", str(batch)]
    if kept is not None:
        args += ["--kept-per-sample", str(kept)]
    start = time.perf_counter()
    out = subprocess.run(args, capture_output=True, text=True)
    if out.returncode:
        return {"mode": mode, "error": (out.stderr.strip().splitlines() or ["killed"])[-1][:120],
                "returncode": out.returncode, "wall": time.perf_counter() - start}
    return json.loads(out.stdout.strip().splitlines()[-1])


def planned(config: Path) -> dict | None:
    out = subprocess.run([sys.executable, "-m", "attribcli", "plan", str(config), "--json"], capture_output=True,
                         text=True, cwd=ROOT)
    return json.loads(out.stdout) if out.returncode == 0 else {"error": out.stderr.strip()[-200:]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/attrib-real-size"))
    ap.add_argument("--model", nargs="+", default=["gpt2-124m", "llama-125m"])
    ap.add_argument("--context", type=int, nargs="+", default=[256])
    ap.add_argument("--generations", type=int, nargs="+", default=[8])
    ap.add_argument("--lora", type=int, nargs="*", default=[16], help="LoRA ranks to run besides full fine-tuning")
    ap.add_argument("--no-full", action="store_true", help="LoRA only")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--kept-per-sample", type=int, metavar="ELEMENTS",
                    help="the tracker's budget of kept per-sample gradient numbers (default: attrib's own)")
    ap.add_argument("--target-chunk", type=int, nargs="+", default=[0],
                    help="attribution.target_chunk: generations per backward pass (0: all at once)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    head = ("| model | trained | context | gens | mode | s/step | peak GiB | time / plain | memory / plain | tax "
            "| path nodes | plan: peak GiB (error) |")
    lines = [head, "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines), flush=True)
    for name in a.model:
        folder = save_model(name, a.work / name)
        for ctx in a.context:
            for g in a.generations:
                for rank, chunk in ((r, c) for r in ([] if a.no_full else [None]) + a.lora for c in a.target_chunk):
                    cfg = write_config(folder, context=ctx, lora=rank, generations=g, batch=a.batch_size,
                                       device=a.device, target_chunk=chunk or None)
                    plan = planned(cfg)
                    res = {m: child(cfg, m, a.steps, a.batch_size, a.device, a.kept_per_sample) for m in a.modes}
                    plain = res.get("plain", {})
                    step = {m: r["batch"] / r["samples_per_s"] for m, r in res.items() if "error" not in r}
                    gens = f"{g} (chunks of {chunk})" if chunk else str(g)
                    for m, r in res.items():
                        kind = f"LoRA r{rank}" if rank else "full"
                        trained = f"{kind}, {r.get('trained', 0) / 1e6:.1f}M" if "trained" in r else kind
                        if "error" in r:
                            row = [name, trained, str(ctx), gens, m, "", f"failed: {r['error']}", "", "", "", "", ""]
                        else:
                            tax = ((step[m] - step["plain+gen"]) / step["plain"]
                                   if m not in ("plain", "plain+gen") and "plain+gen" in step and "plain" in step
                                   else None)
                            key = "plain_peak" if m == "plain" else "tracked_peak" if m == "path" else None  # its rule
                            pred = ""
                            if key and plan and key in plan:
                                pred = f"{plan[key] / 2**30:.2f} ({plan[key] / r['peak_bytes'] - 1:+.0%})"
                            row = [name, trained, str(ctx), gens, m, f"{step[m]:.2f}",
                                   f"{r['peak_bytes'] / 2**30:.2f}",
                                   f"{step[m] / step['plain']:.2f}" if "plain" in step else "",
                                   f"{r['peak_bytes'] / plain['peak_bytes']:.2f}" if "peak_bytes" in plain else "",
                                   f"{tax:.0%}" if tax is not None else "",
                                   f"{r['nodes']:.1f}" if r.get("nodes") else "", pred]
                        lines.append("| " + " | ".join(row) + " |")
                        print(lines[-1], flush=True)
    if a.out:
        a.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
