"""Do the values describe the training? Each step's predicted loss reduction against the realised one.

In-Run Data Shapley values a step by expanding its effect on each generation's loss; the sum over the
batch (plus the optimizer's carry) predicts the step's reduction of that loss. The realised reduction
costs nothing to measure: it is this step's target loss minus the next step's (the last step: minus the
final loss). Every run records both per step (``target_steps.csv``) and summarises them here, in
``losses.csv``, the manifest and every statement: a royalty statement is worth what its values are.

A run is flagged when, summed over generations,

- the per-step Pearson correlation of predicted and realised reductions is below ``MIN_PEARSON``;
- Σ values + carry is off the realised reduction of the whole run by more than ``MAX_SUM_GAP`` (relative);
- more than ``MAX_MISVALUED_SHARE`` of the steps raised the loss while the values say they lowered it by
  more than ``TOLERANCE`` × the mean |realised| change of a step (a misvalued step);
- the first ``EARLY`` of the steps take more than ``MAX_EARLY_RATIO`` × the share of |value| that the
  share of the realised reduction they achieved would justify (values crowding onto the first batches).
"""

from __future__ import annotations

import math

import numpy as np

MIN_PEARSON = 0.9
MAX_SUM_GAP = 0.25
TOLERANCE = 0.05
MAX_MISVALUED_SHARE = 0.05
EARLY = 0.10
MAX_EARLY_RATIO = 2.0
WORST = 3


def realised_per_step(loss_before: np.ndarray, loss_final: np.ndarray) -> np.ndarray:
    """``[steps, generations]`` realised reduction of each step: loss before it minus loss after it."""
    after = np.vstack([loss_before[1:], loss_final[None, :]])
    return loss_before - after


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """None where it is undefined (fewer than 2 steps, or one side constant)."""
    if len(x) < 2 or np.std(x) == 0 or np.std(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def misvalued(predicted: np.ndarray, realised: np.ndarray) -> np.ndarray:
    """Steps whose loss rose while the values say it fell by more than the tolerance (1-D, one per step)."""
    tol = TOLERANCE * float(np.mean(np.abs(realised))) if len(realised) else 0.0
    return (realised < 0) & (predicted > tol)


def per_generation(predicted: np.ndarray, realised: np.ndarray) -> tuple[list, list]:
    """(per-step Pearson, misvalued steps) of each generation, for ``losses.csv``."""
    corr = [pearson(predicted[:, j], realised[:, j]) for j in range(predicted.shape[1])]
    bad = [int(misvalued(predicted[:, j], realised[:, j]).sum()) for j in range(predicted.shape[1])]
    return corr, bad


def summary(predicted: np.ndarray, realised: np.ndarray, value_abs: np.ndarray,
            nodes: np.ndarray | None = None) -> dict:
    """The run's fidelity: ``predicted`` and ``realised`` are ``[steps, generations]`` (predicted: values of
    both orders plus the carry), ``value_abs`` the Σ |value| of each step over its samples and generations,
    ``nodes`` (path rule) the quadrature nodes each step took for each generation."""
    P, R = predicted.sum(1), realised.sum(1)
    T = len(P)
    total_p, total_r = float(P.sum()), float(R.sum())
    bad = misvalued(P, R)
    early = max(1, math.ceil(EARLY * T))
    abs_total = float(value_abs.sum())
    early_value = float(value_abs[:early].sum()) / abs_total if abs_total else None
    early_realised = float(R[:early].sum()) / total_r if total_r > 0 else None
    worst = np.argsort(-np.abs(P - R), kind="stable")[:WORST]
    out = {
        "steps": T,
        "per_step_pearson": pearson(P, R),
        "predicted_reduction": total_p,
        "realised_reduction": total_r,
        "sum_gap": (total_p - total_r) / abs(total_r) if total_r else None,
        "misvalued_steps": int(bad.sum()),
        "misvalued_tolerance": TOLERANCE,
        "early_steps": early,
        "early_value_share": early_value,
        "early_realised_share": early_realised,
        "worst_steps": [{"step": int(i) + 1, "predicted": float(P[i]), "realised": float(R[i])} for i in worst],
    }
    if nodes is not None:
        out["path_nodes_mean"] = float(nodes.mean())
        out["path_steps_refined"] = int((nodes > 2).any(1).sum())
    out["problems"] = problems(out)
    out["description"] = describe(out)
    return out


def problems(s: dict) -> list[str]:
    """What makes the values fail to describe the training, one phrase each (empty: they describe it)."""
    out = []
    if s["per_step_pearson"] is not None and s["per_step_pearson"] < MIN_PEARSON:
        out.append(f"per-step Pearson {s['per_step_pearson']:.2f} < {MIN_PEARSON}")
    if s["sum_gap"] is not None and abs(s["sum_gap"]) > MAX_SUM_GAP:
        out.append(f"Σ values + carry {s['predicted_reduction']:.4g} vs realised {s['realised_reduction']:.4g} nats "
                   f"({s['sum_gap']:+.0%})")
    if s["steps"] and s["misvalued_steps"] > MAX_MISVALUED_SHARE * s["steps"]:
        out.append(f"{s['misvalued_steps']} of {s['steps']} steps raised the loss while the values say it fell")
    ev, er = s["early_value_share"], s["early_realised_share"]
    if ev is not None and ev > MAX_EARLY_RATIO * max(er or 0.0, 0.0):
        out.append(f"the first {s['early_steps']} steps hold {ev:.0%} of |value| but realised "
                   f"{(er or 0.0):.0%} of the reduction")
    return out


def describe(s: dict) -> str:
    """One line for the training log and the statement."""
    p = s["per_step_pearson"]
    gap = s["sum_gap"]
    return (f"per-step Pearson {'n/a' if p is None else f'{p:.3f}'}; Σ values + carry {s['predicted_reduction']:.4g} "
            f"vs realised {s['realised_reduction']:.4g} nats" + ("" if gap is None else f" ({gap:+.1%})")
            + f"; {s['misvalued_steps']} of {s['steps']} steps misvalued (loss rose, values say it fell)"
            + (f"; path rule: {s['path_nodes_mean']:.2f} nodes a step on average, {s['path_steps_refined']} steps "
               "refined" if "path_nodes_mean" in s else ""))
