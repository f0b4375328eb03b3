"""Per-step fidelity of the values across optimizer regimes: do they add up to what each step did?

Trains the config (the sample by default) once per regime and valuation rule with ``attrib train``,
changing only the optimizer settings and ``attribution``, and reads each run's ``fidelity``
(attribcli/training/fidelity.py): per-step Pearson of predicted (values + carry) vs realised loss
reductions, Σ values + carry vs the realised reduction, misvalued steps (the loss rose while the values
say it fell), and the share of |value| held by the first 10 % of steps against the share of the
reduction they realised.

Rules: ``o1`` and ``o2`` (Taylor, first and second order), ``path`` (the path rule at its defaults), and
``dense``: the path rule with 33 nodes on every step, the reference for per-sample accuracy. When
``dense`` is among the rules, every other rule's values are compared with its values sample by sample
(relative L2 error of values.npy, mean Spearman over samples per generation).

    python benchmarks/fidelity_regimes.py                      # every regime and rule, on the sample
    python benchmarks/fidelity_regimes.py --regimes adamw adamw-warmup --rules o1 path
    python benchmarks/fidelity_regimes.py --generations gens.jsonl   # other generations, same corpus
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plotting import png_figure  # noqa: E402  (benchmarks/plotting.py)

REGIMES = {  # name: training overrides
    "sgd": {"optimizer": "sgd", "lr": 0.005},                     # the byte-level sample's settings
    "adamw": {"optimizer": "adamw", "lr": 0.001, "warmup_steps": 0},
    "adamw-warmup": {"optimizer": "adamw", "lr": 0.001, "warmup_steps": 20},  # the sample's settings
    "sgd-large": {"optimizer": "sgd", "lr": 0.02},
}
RULES = {  # name: attribution overrides
    "o1": {"rule": "taylor", "order": 1},
    "o2": {"rule": "taylor", "order": 2},
    "path": {"rule": "path"},
    "dense": {"rule": "path", "path_tolerance": 1e-12, "path_max_nodes": 33},
}


def config_for(base: Path, folder: Path, training: dict, attribution: dict, max_steps: int | None,
               generations: Path | None = None) -> Path:
    """``base`` with its paths made absolute and the regime's settings, written into ``folder``."""
    from sample_runs import absolute_config  # benchmarks/sample_runs.py

    cfg = absolute_config(base)  # every file it names, data.reference included
    cfg["run_dir"] = "run"
    cfg["training"] = {**cfg.get("training", {}), **training, "checkpoint_every": 10**6,
                       **({"max_steps": max_steps} if max_steps else {})}
    cfg["attribution"] = {k: v for k, v in (cfg.get("attribution") or {}).items() if k == "target_chunk"} | attribution
    if generations:
        cfg["data"]["generations"] = str(generations.resolve())
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def measure(base: Path, name: str, rule: str, max_steps: int | None, work: Path,
            generations: Path | None = None) -> tuple[dict, np.ndarray, float]:
    """(the run's fidelity, its values.npy, seconds of ``attrib train``)."""
    cfg = config_for(base, work / f"{name}-{rule}", REGIMES[name], RULES[rule], max_steps, generations)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "attribcli", "train", str(cfg)], capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{name} {rule}: attrib train failed: {r.stderr.strip().splitlines()[-1]}")
    run = cfg.parent / "run"
    return json.loads((run / "manifest.json").read_text())["fidelity"], np.load(run / "values.npy"), seconds


def per_sample(values: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(relative L2 error against ``ref``, mean Spearman over samples per generation)."""
    err = float(np.linalg.norm(values - ref) / np.linalg.norm(ref))
    ranks = [_spearman(values[:, j], ref[:, j]) for j in range(ref.shape[1])]
    return err, float(np.mean(ranks))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = np.argsort(np.argsort(a, kind="stable")), np.argsort(np.argsort(b, kind="stable"))
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--generations", type=Path, help="value these generations instead of the config's")
    ap.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    ap.add_argument("--rules", nargs="+", default=list(RULES), choices=list(RULES))
    ap.add_argument("--max-steps", type=int, help="stop each run after this many steps (default: the config's)")
    ap.add_argument("--png", help="also draw per-step Pearson and Σ/realised per regime to this PNG")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.regimes:
            runs = {rule: measure(Path(args.config).resolve(), name, rule, args.max_steps, Path(tmp),
                                  args.generations) for rule in args.rules}
            ref = runs["dense"][1] if "dense" in runs else None
            for rule, (f, values, seconds) in runs.items():
                rows.append((name, rule, f, seconds, per_sample(values, ref) if ref is not None else None))
    print(f"{'regime':<14} {'rule':>5} {'steps':>5} {'Pearson':>8} {'Σ values+carry':>15} {'realised':>9} "
          f"{'ratio':>6} {'misvalued':>9} {'early |value| / realised':>25} {'nodes':>5} {'train s':>8} "
          f"{'L2 err vs dense':>15} {'Spearman':>8}")
    for name, rule, f, seconds, acc in rows:
        p = f["per_step_pearson"]
        ratio = f["predicted_reduction"] / f["realised_reduction"] if f["realised_reduction"] else float("nan")
        ev, er = f["early_value_share"], f["early_realised_share"]
        early = f"{ev:.2f} / {er:.2f}" if ev is not None and er is not None else "n/a"
        nodes = f"{f['path_nodes_mean']:.2f}" if "path_nodes_mean" in f else "-"
        err, rho = (f"{acc[0]:.4f}", f"{acc[1]:.4f}") if acc else ("-", "-")
        print(f"{name:<14} {rule:>5} {f['steps']:>5} {'n/a' if p is None else f'{p:.3f}':>8} "
              f"{f['predicted_reduction']:>15.4g} {f['realised_reduction']:>9.4g} {ratio:>6.2f} "
              f"{f['misvalued_steps']:>9} {early:>25} {nodes:>5} {seconds:>8.1f} {err:>15} {rho:>8}", flush=True)
    with png_figure(args.png, ncols=2, title="Per-step fidelity by regime") as axes:
        if axes is not None:
            labels = [f"{n} {r}" for n, r, *_ in rows]
            axes[0].bar(labels, [f["per_step_pearson"] or 0 for _, _, f, *_ in rows])
            axes[0].axhline(0.95, color="tab:red", linewidth=1)
            axes[0].set_title("per-step Pearson, predicted vs realised")
            axes[1].bar(labels, [f["predicted_reduction"] / f["realised_reduction"] if f["realised_reduction"]
                                 else 0 for _, _, f, *_ in rows])
            axes[1].axhline(1.0, color="tab:red", linewidth=1)
            axes[1].set_title("Σ values + carry / realised reduction")
            for ax in axes:
                ax.tick_params(axis="x", labelrotation=45, labelsize=8)


if __name__ == "__main__":
    main()
