"""Correlation helpers shared by the benchmarks (numpy only: no scipy in the project's environment)."""

from __future__ import annotations

import numpy as np


def ranks(a) -> np.ndarray:
    """Ranks 1..n, tied values sharing the average of their ranks (as Spearman's rho requires)."""
    a = np.asarray(a, dtype=float).ravel()
    r = np.empty(len(a))
    r[np.argsort(a, kind="mergesort")] = np.arange(1, len(a) + 1)
    for v in np.unique(a):
        tie = a == v
        if tie.sum() > 1:
            r[tie] = r[tie].mean()
    return r


def pearson(a, b) -> float:
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def spearman(a, b) -> float:
    return pearson(ranks(a), ranks(b))
