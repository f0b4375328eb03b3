"""How well do values predict what a sample actually did to a generation's loss under AdamW?

    python benchmarks/adam_fidelity.py [--config configs/sample.yaml] [--warmup 20] [--steps 6] [--batch 8] [--lr 1e-3]
        [--png out.png]

For each step and each sample z of the batch, the *realised* effect of z is measured by re-taking the
same AdamW step from the same weights and optimizer state without z (its loss term removed, the rest
unchanged: the counterfactual of the Shapley game) and comparing each generation's loss after both
steps: effect = l_v(w_{t+1} without z) - l_v(w_{t+1}). The predictions are correlated with it over all
(step, sample, generation) triples, after ``--warmup`` plain AdamW steps (Adam's first steps are
nearly sign(g), a regime no first-order rule follows):

- attrib's AdamW rule, the step's preconditioner held fixed: <η(1-β1)/(bc1(√v̂+ε)) ⊙ ∇(l_z/B), ∇l_v>;
- the exact derivative of the step's update with respect to the batch gradient, J_t (v̂ moves too);
- the naive SGD proxy that ignores the preconditioner: η · <∇(l_z/B), ∇l_v>;
- the path rule (attribcli/inrun/path.py): the fixed-preconditioner share integrated along the real step.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from plotting import png_figure  # noqa: E402  (benchmarks/plotting.py)


def main() -> None:
    from attribcli.config import load_config
    from attribcli.inrun.optim import adamw_scale, attach_names, update_rule
    from attribcli.inrun.path import path_step
    from attribcli.inrun.tracker import GhostTracker
    from attribcli.model.gpt import sequence_losses
    from attribcli.training.prepare import prepare
    from attribcli.training.steps import epoch_order, pad_batch, target_batch, target_losses

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--png", default=None, help="predicted vs realised effect scatter (needs matplotlib)")
    a = ap.parse_args()
    cfg = load_config(a.config)
    cfg = dataclasses.replace(cfg, training=dataclasses.replace(cfg.training, optimizer="adamw", lr=a.lr,
                                                                batch_size=a.batch))
    prep = prepare(cfg)
    model = prep.model
    rule = update_rule(cfg.training)
    opt = rule.make(model.parameters(), cfg.training)
    attach_names(opt, model)
    tracker = GhostTracker(model)
    targets = target_batch(prep.generations, "cpu", tok=prep.tokenizer)
    order = np.concatenate([epoch_order(cfg.seed, e, len(prep.samples)) for e in range(4)])
    batches = [pad_batch([(list(prep.samples[i].tokens), 1) for i in order[k * a.batch:(k + 1) * a.batch]], "cpu")
               for k in range(a.warmup + a.steps)]
    for b in batches[:a.warmup]:
        opt.zero_grad(set_to_none=True)
        sequence_losses(model(b[0]), b[1], b[2]).mean().backward()
        opt.step()
    realised, preds = [], {"jacobian": [], "fixed": [], "naive": [], "path": []}
    names = tracker.param_names()
    group = opt.param_groups[0]
    for step, b in enumerate(batches[a.warmup:]):
        snapshot = copy.deepcopy((model, opt))  # the counterfactual steps start where the real one does
        after_without = []
        for z in range(b[0].shape[0]):
            m2, o2 = copy.deepcopy(snapshot)
            o2.zero_grad(set_to_none=True)
            keep = [i for i in range(b[0].shape[0]) if i != z]
            x, y, m = (t[keep] for t in b)
            (sequence_losses(m2(x), y, m).sum() / b[0].shape[0]).backward()
            o2.step()
            after_without.append(target_losses(m2, targets))
        with tracker.capture("train"):
            tl = sequence_losses(model(b[0]), b[1], b[2]).mean()
        with tracker.capture("target"):
            vl = sequence_losses(model(targets[0]), targets[1], targets[2])
        opt.zero_grad(set_to_none=True)
        (tl + vl.sum()).backward()
        G = tracker.target_grads()
        params = dict(model.named_parameters())

        def scaled(fn):
            return {layer: {attr: fn(params[names[(layer, attr)]]) * g for attr, g in per.items()}
                    for layer, per in G.items()}

        preds["jacobian"].append(tracker.direction_dots(scaled(
            lambda p: _jacobian(p.grad, opt.state.get(p, {}), a.lr, *group["betas"], group["eps"]))).numpy())
        preds["fixed"].append(tracker.direction_dots(scaled(
            lambda p: adamw_scale(p.grad, opt.state.get(p, {}), a.lr, *group["betas"], group["eps"]))).numpy())
        preds["naive"].append(a.lr * tracker.dots().numpy())
        tracker.clear()
        # the real step, valued by the path rule (its default tolerance and nodes), closed by a pass of its own
        (closed,), _ = path_step(model, tracker, opt, rule, [b], targets, losses=sequence_losses, close=True)
        preds["path"].append(closed.first)
        realised.append(np.stack(after_without) - target_losses(model, targets)[None, :])
        print(f"step {step + 1}/{a.steps}", file=sys.stderr)
    real = np.concatenate(realised).ravel()
    print(f"AdamW, lr {a.lr}, {a.warmup} warm-up steps, then {a.steps} steps x {a.batch} samples x "
          f"{len(prep.generations)} generations = {real.size} (step, sample, generation) triples")
    labels = {"fixed": "attrib AdamW rule (fixed precond.)", "path": "path rule (same K, along the step)",
              "jacobian": "update Jacobian (moves v too)", "naive": "naive SGD proxy"}
    pred, r = {}, {}
    for name, label in labels.items():
        pred[name] = np.concatenate(preds[name]).ravel()
        r[name] = np.corrcoef(pred[name], real)[0, 1]
        print(f"{label:38s} Pearson {r[name]:.4f}   sign agreement "
              f"{np.mean(np.sign(pred[name]) == np.sign(real)):.3f}")

    with png_figure(a.png, ncols=2, title=f"AdamW lr {a.lr}: predicted vs realised effect of a sample on a "
                    f"generation's loss ({real.size} triples)") as axes:
        if axes is None:
            return
        for ax, name in zip(axes, ("fixed", "naive")):
            ax.scatter(real, pred[name], s=10, alpha=0.6, color="C0" if name == "fixed" else "C1",
                       label=f"Pearson {r[name]:.4f}")
            lo, hi = min(real.min(), pred[name].min()), max(real.max(), pred[name].max())
            ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x")
            ax.set_title(labels[name])
            ax.set_xlabel("realised effect: loss without z - loss with z")
            ax.set_ylabel("predicted effect")
            ax.legend(fontsize=8)


def _jacobian(g, state, lr, b1, b2, eps):
    """d(AdamW update)/d(batch gradient), elementwise: the preconditioner's dependence on g included."""
    step = float(state["step"]) + 1 if "step" in state else 1.0
    m = state.get("exp_avg", torch.zeros_like(g)) * b1 + (1 - b1) * g
    v = state.get("exp_avg_sq", torch.zeros_like(g)) * b2 + (1 - b2) * g * g
    bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
    root = (v / bc2).sqrt()
    denom = root + eps
    through_v = torch.where(root > 0, (m / bc1) * (1 - b2) * g / (bc2 * denom * denom * root.clamp_min(1e-300)),
                            torch.zeros_like(g))
    return lr * ((1 - b1) / (bc1 * denom) - through_v)


if __name__ == "__main__":
    main()
