"""Does a step's predicted loss reduction match the realised one? First vs second order, several lrs.

    python benchmarks/utility_approximation.py [--config configs/sample.yaml] [--steps 6] [--lrs 1e-3 5e-3 2e-2 5e-2]
        [--png out.png]

For each learning rate, from the same starting weights (the sample's base model), ``--steps`` SGD steps
with attrib's tracked step (order 2). Per step and generation: the predicted reduction of the
generation's loss, Σ_z φ1 (first order) and Σ_z (φ1 + φ2) (second order), against the realised one,
l_v(w_t) − l_v(w_{t+1}). Reported: Spearman and Pearson over (step, generation) pairs, and the median
relative error |predicted − realised| / |realised|. In-Run Data Shapley's efficiency rests on this
expansion: where it holds, the values of a step's samples add up to what the step did.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from plotting import png_figure  # noqa: E402  (benchmarks/plotting.py)
from ranking import spearman  # noqa: E402  (benchmarks/ranking.py)


def main() -> None:
    import dataclasses

    from attribcli.config import load_config
    from attribcli.inrun.optim import attach_names, update_rule
    from attribcli.inrun.step import tracked_step
    from attribcli.inrun.tracker import GhostTracker
    from attribcli.model.gpt import sequence_losses
    from attribcli.training.prepare import prepare
    from attribcli.training.steps import epoch_order, pad_batch, target_batch, target_losses

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 5e-3, 2e-2, 5e-2])
    ap.add_argument("--png", default=None, help="predicted vs realised scatter per lr (needs matplotlib)")
    a = ap.parse_args()
    cfg = load_config(a.config)
    prep = prepare(cfg)
    start = copy.deepcopy(prep.model)
    targets = target_batch(prep.generations, "cpu", tok=prep.tokenizer)
    order = epoch_order(cfg.seed, 0, len(prep.samples))
    B = cfg.training.batch_size
    batches = [pad_batch([(list(prep.samples[i].tokens), 1) for i in order[k * B:(k + 1) * B]], "cpu")
               for k in range(a.steps)]
    print(f"sample model, SGD, batch {B}, {a.steps} steps per lr, {len(prep.generations)} generations: "
          f"{a.steps * len(prep.generations)} (step, generation) pairs per lr")
    print(f"{'lr':>8s} | {'Spearman o1':>11s} {'o1+o2':>7s} | {'Pearson o1':>10s} {'o1+o2':>7s} | "
          f"{'median rel. err. o1':>19s} {'o1+o2':>7s}")
    results = []  # (lr, realised, predicted o1, predicted o1+o2) per lr
    for lr in a.lrs:
        model = copy.deepcopy(start)
        t = dataclasses.replace(cfg.training, lr=lr)
        rule = update_rule(t)
        opt = rule.make(model.parameters(), t)
        attach_names(opt, model)
        tracker = GhostTracker(model)
        real, p1, p12 = [], [], []
        before = target_losses(model, targets)
        for b in batches:
            r = tracked_step(model, tracker, opt, rule, [b], targets, order=2, losses=sequence_losses)
            after = target_losses(model, targets)
            real.extend(before - after)
            p1.extend(r.first.sum(0))
            p12.extend(r.first.sum(0) + r.second.sum(0))
            before = after
        real, p1, p12 = map(np.asarray, (real, p1, p12))
        results.append((lr, real, p1, p12))
        err = lambda p: float(np.median(np.abs(p - real) / np.maximum(np.abs(real), 1e-12)))  # noqa: E731
        print(f"{lr:8.0e} | {spearman(p1, real):11.3f} {spearman(p12, real):7.3f} | "
              f"{np.corrcoef(p1, real)[0, 1]:10.3f} {np.corrcoef(p12, real)[0, 1]:7.3f} | "
              f"{err(p1):19.3f} {err(p12):7.3f}", flush=True)

    with png_figure(a.png, ncols=len(results), width=4.2,
                    title=f"Predicted vs realised loss reduction per (step, generation), SGD, {a.steps} steps") as axes:
        if axes is None:
            return
        for ax, (lr, real, p1, p12) in zip(axes, results):
            ax.scatter(real, p1, s=14, marker="o", label="first order")
            ax.scatter(real, p12, s=14, marker="x", label="first + second order")
            lo, hi = min(real.min(), p1.min(), p12.min()), max(real.max(), p1.max(), p12.max())
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x")
            ax.set_title(f"lr {lr:.0e}")
            ax.set_xlabel("realised loss reduction")
            ax.set_ylabel("predicted loss reduction")
        axes[0].legend(fontsize=7)


if __name__ == "__main__":
    main()
