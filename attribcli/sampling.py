"""Which generations a survey values: a revenue-weighted sample, drawn so anyone can draw it again.

Probability proportional to revenue, without replacement (πps), as royalty societies sample performances:
generation g is drawn with probability ``π_g = min(1, c · R_g)`` (``R_g`` its revenue in minor units), ``c``
such that the ``π`` add up to the sample size K. A generation whose revenue alone would give ``π ≥ 1`` is
taken with certainty (the census of the largest), the others by randomized systematic sampling: in a
seeded random order, every ``R_rest / k``-th unit of their revenue from a seeded random start, which draws
exactly ``k`` of them, each with exactly its ``π`` (a generation of revenue 0 is never drawn: it has no money
to estimate). Randomized systematic sampling is close to the maximum-entropy design of these ``π``, so
Deville's variance approximation holds for it (money/survey.py).

Exact and portable: the order is the SHA-256 of (seed, generation id), the start a SHA-256 of the seed, and
the selection integer arithmetic on the revenues, so the same revenues, K and seed draw the same generations
on every machine and with every library version; ``attrib verify`` draws the sample again from them.
K at least the number of generations with revenue is a census: every one is taken with certainty.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

METHOD = ("pps-randomized-systematic: inclusion probability proportional to revenue (certainty where it would "
          "reach 1), order sha256(seed, generation id), start sha256(seed)")


@dataclass(frozen=True)
class Design:
    """One survey's draw over a period's generations (in the period's order)."""

    ids: tuple[str, ...]
    revenue: np.ndarray     # int64 minor units, per generation
    certain: np.ndarray     # bool: taken with certainty (π = 1)
    selected: np.ndarray    # bool: in the sample (certain ones included)
    k: int                  # sample size asked for
    seed: int

    @property
    def rest_revenue(self) -> int:
        """Revenue of the generations sampled with π < 1."""
        return int(self.revenue[~self.certain].sum())

    @property
    def rest_k(self) -> int:
        """Draws among them."""
        return int(self.selected.sum() - self.certain.sum())

    @property
    def census(self) -> bool:
        """Every generation with revenue is taken: the estimate is the census itself."""
        return bool(np.all(self.certain | (self.revenue == 0)))

    def inclusion(self) -> np.ndarray:
        """π per generation: 1 for the certain ones, ``k_rest · R_g / R_rest`` for the others."""
        rest = self.rest_revenue
        pi = np.where(self.certain, 1.0, 0.0)
        if rest:
            pi = np.where(self.certain, 1.0, self.rest_k * self.revenue.astype(np.float64) / rest)
        return pi


def draw(ids: list[str], revenue, k: int, seed: int) -> Design:
    """The sample of ``k`` generations (at most as many as have revenue)."""
    revenue = np.asarray(revenue, dtype=np.int64)
    if len(ids) != len(revenue) or len(set(ids)) != len(ids):
        raise ValueError("one revenue per generation, and generation ids unique")
    if k < 1 or (revenue < 0).any():
        raise ValueError("k must be at least 1 and revenues at least 0")
    certain = _certain(revenue, k)
    rest = np.flatnonzero(~certain & (revenue > 0))
    k_rest = min(k, int((revenue > 0).sum())) - int(certain.sum())
    selected = certain.copy()
    if k_rest > 0:
        order = np.array(sorted(rest.tolist(), key=lambda i: _key(seed, ids[i])), dtype=np.int64)
        total = int(revenue[order].sum())
        start = int.from_bytes(hashlib.sha256(f"attrib-survey\0{seed}\0start".encode()).digest()[:8], "big") % total
        selected[order[systematic(revenue[order].tolist(), k_rest, start)]] = True
    return Design(tuple(ids), revenue, certain, selected, k, seed)


def systematic(revenue: list[int], k: int, start: int) -> np.ndarray:
    """Which of the units (in this order, each ``k · R < Σ R``) the points ``(start + j · Σ R) / k``,
    ``j = 0 … k−1``, fall in: exactly ``k`` of them. Over the ``Σ R`` integer starts, unit g is drawn by exactly
    ``k · R_g`` of them: π_g exactly. Points below x: ``ceil((k·x − start) / Σ R)``, in Python integers."""
    total = sum(revenue)
    cum = [0]
    for r in revenue:
        cum.append(cum[-1] + r)
    below = np.array([min(max(0, -((start - k * c) // total)), k) for c in cum], dtype=np.int64)
    return np.diff(below) > 0


def _certain(revenue: np.ndarray, k: int) -> np.ndarray:
    """Generations whose revenue is at least the rest's share of one draw: taken with certainty, largest first
    (each one taken lowers the rest's revenue and draws, so the next is tested against the new share)."""
    out = np.zeros(len(revenue), dtype=bool)
    positive = int((revenue > 0).sum())
    if k >= positive:
        out[revenue > 0] = True
        return out
    order = np.argsort(-revenue, kind="stable")
    rest, draws = int(revenue.sum()), k
    for i in order:
        r = int(revenue[i])
        if draws == 0 or draws * r < rest:
            break
        out[i] = True
        rest, draws = rest - r, draws - 1
    return out


def _key(seed: int, gid: str) -> bytes:
    return hashlib.sha256(f"attrib-survey\0{seed}\0{gid}".encode()).digest()
