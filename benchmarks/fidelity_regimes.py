"""Per-step fidelity of the values across optimizer regimes: do they add up to what each step did?

Trains the config (the sample by default) once per regime with ``attrib train``, changing only the
optimizer settings and the valuation order, and reads each run's ``fidelity`` (attribcli/training/
fidelity.py): per-step Pearson of predicted (values + carry) vs realised loss reductions, Σ values + carry
vs the realised reduction, misvalued steps (the loss rose while the values say it fell), and the share of
|value| held by the first 10 % of steps against the share of the reduction they realised.

    python benchmarks/fidelity_regimes.py                      # the regimes below, on the sample
    python benchmarks/fidelity_regimes.py --regimes adamw adamw-warmup --orders 1
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from plotting import png_figure  # noqa: E402  (benchmarks/plotting.py)

REGIMES = {  # name: training overrides
    "sgd": {"optimizer": "sgd", "lr": 0.005},                     # the sample's settings
    "adamw": {"optimizer": "adamw", "lr": 0.001, "warmup_steps": 0},
    "adamw-warmup": {"optimizer": "adamw", "lr": 0.001, "warmup_steps": 20},
    "sgd-large": {"optimizer": "sgd", "lr": 0.02},
}


def config_for(base: Path, folder: Path, training: dict, order: int, max_steps: int | None) -> Path:
    """``base`` with its paths made absolute and the regime's settings, written into ``folder``."""
    cfg = yaml.safe_load(base.read_text())
    for key in ("corpus", "holders", "generations", "token_cache"):
        if cfg["data"].get(key):
            cfg["data"][key] = str((base.parent / cfg["data"][key]).resolve())
    if cfg["model"].get("base_weights"):
        cfg["model"]["base_weights"] = str((base.parent / cfg["model"]["base_weights"]).resolve())
    cfg["run_dir"] = "run"
    cfg["training"] = {**cfg.get("training", {}), **training, "checkpoint_every": 10**6,
                       **({"max_steps": max_steps} if max_steps else {})}
    cfg.setdefault("attribution", {})["order"] = order
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def measure(base: Path, name: str, order: int, max_steps: int | None, work: Path) -> dict:
    cfg = config_for(base, work / f"{name}-o{order}", REGIMES[name], order, max_steps)
    r = subprocess.run([sys.executable, "-m", "attribcli", "train", str(cfg)], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{name} order {order}: attrib train failed: {r.stderr.strip().splitlines()[-1]}")
    return json.loads((cfg.parent / "run/manifest.json").read_text())["fidelity"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    ap.add_argument("--orders", nargs="+", type=int, default=[1, 2], choices=[1, 2])
    ap.add_argument("--max-steps", type=int, help="stop each run after this many steps (default: the config's)")
    ap.add_argument("--png", help="also draw per-step Pearson and Σ/realised per regime to this PNG")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.regimes:
            for order in args.orders:
                f = measure(Path(args.config).resolve(), name, order, args.max_steps, Path(tmp))
                rows.append((name, order, f))
    print(f"{'regime':<14} {'order':>5} {'steps':>5} {'Pearson':>8} {'Σ values+carry':>15} {'realised':>9} "
          f"{'ratio':>6} {'misvalued':>9} {'early |value| / realised':>25}")
    for name, order, f in rows:
        p = f["per_step_pearson"]
        ratio = f["predicted_reduction"] / f["realised_reduction"] if f["realised_reduction"] else float("nan")
        ev, er = f["early_value_share"], f["early_realised_share"]
        early = f"{ev:.2f} / {er:.2f}" if ev is not None and er is not None else "n/a"
        print(f"{name:<14} {order:>5} {f['steps']:>5} {'n/a' if p is None else f'{p:.3f}':>8} "
              f"{f['predicted_reduction']:>15.4g} {f['realised_reduction']:>9.4g} {ratio:>6.2f} "
              f"{f['misvalued_steps']:>9} {early:>25}")
    with png_figure(args.png, ncols=2, title="Per-step fidelity by regime") as axes:
        if axes is not None:
            labels = [f"{n} o{o}" for n, o, _ in rows]
            axes[0].bar(labels, [f["per_step_pearson"] or 0 for _, _, f in rows])
            axes[0].axhline(0.95, color="tab:red", linewidth=1)
            axes[0].set_title("per-step Pearson, predicted vs realised")
            axes[1].bar(labels, [f["predicted_reduction"] / f["realised_reduction"] if f["realised_reduction"]
                                 else 0 for _, _, f in rows])
            axes[1].axhline(1.0, color="tab:red", linewidth=1)
            axes[1].set_title("Σ values + carry / realised reduction")
            for ax in axes:
                ax.tick_params(axis="x", labelrotation=45, labelsize=8)


if __name__ == "__main__":
    main()
