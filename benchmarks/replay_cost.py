"""What a replay costs against the training run it re-runs, and as the number of generations grows.

    python benchmarks/replay_cost.py [--steps 20] [--generations 1 8 32] [--segments 2]

All on the sample's model, data and training settings (``configs/sample.yaml``), cut to ``--steps``
steps, in one invocation on this machine, each command timed from the outside (``attrib`` in its own
process, as a user runs it):

- training without generations (``data.generations`` left out, ``training.replay_segments`` = --segments):
  the run the replays re-run;
- training with the sample's 8 generations (the in-run alternative);
- ``attrib replay`` of M generations for each M in --generations (the sample's 8, cycled under new ids),
  serially, then the sample's 8 again with ``--nproc`` = --segments (segments side by side).

Reported: each time, its ratio to the two training runs, and the replay's extra time per generation
over training without generations.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--generations", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--segments", type=int, default=2, help="replay segments kept, and --nproc of the last replay")
    a = ap.parse_args()

    from sample_runs import attrib, sample_overrides, single_owner_documents

    from tests.runs import write_config

    config_path = Path(a.config).resolve()
    base, _, _, _ = single_owner_documents(config_path)
    sample_gens = [json.loads(line) for line in (config_path.parent / base["data"]["generations"]).resolve()
                   .read_text().splitlines() if line.strip()]
    times: dict[str, float] = {}

    def timed(label, *args):
        t0 = time.time()
        attrib(*args)
        times[label] = time.time() - t0

    with tempfile.TemporaryDirectory(prefix="replay_cost_") as tmp:
        work = Path(tmp)
        sets = {}
        for m in sorted(set(a.generations) | {8}):
            path = work / f"gens-{m}.jsonl"
            path.write_text("".join(json.dumps({**sample_gens[i % len(sample_gens)], "id": f"g{i:04d}"}) + "\n"
                                    for i in range(m)))
            sets[m] = path
        for name, gens in (("without", None), ("with", sets[8])):
            overrides = sample_overrides(config_path, base, generations=sets[8])
            overrides["training"] = {**overrides["training"], "max_steps": a.steps,
                                     "replay_segments": a.segments if gens is None else 1}
            overrides["data__generations"] = None if gens is None else str(gens)
            cfg = write_config(work / name, **overrides)
            timed(f"train, {'no generations' if gens is None else '8 generations'}", "train", cfg, "--overwrite")
        run = work / "without" / "run"
        for m in a.generations:
            timed(f"replay, {m} generation{'s' if m > 1 else ''}", "replay", run, "--generations", sets[m],
                  "--name", f"m{m}")
        timed(f"replay, 8 generations, --nproc {a.segments}", "replay", run, "--generations", sets[8],
              "--name", "side", "--nproc", a.segments)
        same = all((run / "valuations/side" / f).read_bytes() == (run / "valuations/m8" / f).read_bytes()
                   for f in ("values.npy", "losses.csv")) if 8 in a.generations else None
        kept = sum(p.stat().st_size for p in (run / "checkpoints").glob("step-*.pt"))

    t0, t8 = times["train, no generations"], times["train, 8 generations"]
    print(f"replay cost on the sample model, {a.steps} steps, {a.segments} segments "
          f"({kept / 2**20:.1f} MiB of kept checkpoints)")
    print(f"{'command':34s} | {'seconds':>7s} | {'/ train, none':>13s} | {'/ train, 8':>10s} | extra s per generation")
    print("-" * 96)
    for label, s in times.items():
        m = next((int(w) for w in label.replace(",", " ").split() if w.isdigit()), 0) if "replay" in label else 0
        extra = f"{(s - t0) / m:.2f}" if m else ""
        print(f"{label:34s} | {s:7.1f} | {s / t0:13.2f} | {s / t8:10.2f} | {extra}")
    if same is not None:
        print(f"segments side by side give the serial replay's bytes: {same}")


if __name__ == "__main__":
    main()
