"""Random projections of per-sample gradients, formed from the captures (never from the gradients).

A parameter of shape ``[r, c]`` gets two fixed Gaussian matrices ``R`` (``[k_r, r]``) and ``C``
(``[k_c, c]``), entries of variance ``1/k``, and a gradient ``G`` is stored as ``R G Cᵀ`` (``k_r·k_c``
numbers): a Kronecker-factored projection, as LoGra and LogIX use. A sample's gradient of a linear layer is
``Σ_t b_t a_tᵀ``, so its projection is ``Σ_t (R b_t)(C a_t)ᵀ``: the captured inputs and output gradients are
projected first, token by token, and only the small product is formed (each layer's rule, rules.py). A
vector parameter (a bias, a norm's scale) of size ``d`` gets one matrix ``[k, d]``. Inner products are
kept in expectation, ``E <R X Cᵀ, R Y Cᵀ> = <X, Y>``; a parameter given at least its own size is not
projected at all (``R``, ``C`` are identities: lossless).

The ``dim`` numbers per sample are shared out over the trainable parameters by water-filling: each gets an
equal share, a parameter smaller than its share keeps its full size and leaves the rest to the others.
The error of a Kronecker projection grows as ``1/k_r + 1/k_c``: the effective dimension of a matrix's
projection is its smaller side, not ``k_r·k_c`` (a share of 36 numbers as 6 × 6 keeps about 3). So a
matrix whose share is small is projected in two stages (``stages``): Kronecker to ``WIDE × WIDE`` first
(from the captures, as above), then that small product by a dense Gaussian ``S`` to its share ``k``, whose
error is ``1/k``: about ``2/WIDE + 1/k`` in all, for a few more multiplications per token.

Generations are projected either the same way from their captures, or, when a per-element preconditioner
must be applied to them first (AdamW, optim.py ``split``), from their materialised gradients (M of them,
never one per training sample), ``R (P ⊙ G_v) Cᵀ``.
"""

from __future__ import annotations

import math
import zlib

import torch

from attribcli.inrun.rules import rule_for
from attribcli.inrun.tracker import Captures, GhostTracker


def shares(sizes: dict[str, int], dim: int) -> dict[str, int]:
    """Water-filling: ``dim`` numbers over parameters of these sizes, each at most its own size."""
    out, left = {}, dict(sizes)
    budget = dim
    while left:
        share = budget // len(left)
        small = {n: s for n, s in left.items() if s <= share}
        if not small:
            out.update({n: max(1, share) for n in left})
            break
        for n, s in small.items():
            out[n] = s
            budget -= s
            del left[n]
    return {n: out[n] for n in sizes}


WIDE = 64  # sides of the first stage of a two-stage projection
DENSE_MAX = 1 << 22  # at most this many entries in one parameter's second-stage matrix


def stages(shape: tuple[int, ...], budget: int) -> tuple[tuple[int, ...], int | None]:
    """The Kronecker sides and, when a second dense stage pays, its size: ``((k_r, k_c), k)`` or
    ``((k_r, k_c), None)``; a vector ``((k,), None)``."""
    if len(shape) == 2 and shape[0] * shape[1] > budget:
        wide = (min(shape[0], WIDE), min(shape[1], WIDE))
        if wide[0] * wide[1] > budget and budget * wide[0] * wide[1] <= DENSE_MAX:
            return wide, budget
    return factor_sizes(shape, budget), None


def factor_sizes(shape: tuple[int, ...], budget: int) -> tuple[int, ...]:
    """``(k_r, k_c)`` for a matrix, ``(k,)`` for a vector, within ``budget`` numbers. A Kronecker projection's
    error on an inner product grows as ``1/k_r + 1/k_c`` (each projected side adds its own), so a side that
    fits is kept whole (no error from it) and otherwise the two sides are made equal."""
    if len(shape) == 1:
        return (min(shape[0], budget),)
    r, c = shape
    if r * c <= budget:
        return r, c
    side = max(1, math.isqrt(budget))
    if min(r, c) <= side:
        return (r, max(1, budget // r)) if r <= c else (max(1, budget // c), c)
    return side, side


class Projector:
    """The projection of every trainable parameter of a tracked model, and the per-sample product."""

    def __init__(self, tracker: GhostTracker, mats: dict[str, tuple]):
        self.tracker = tracker
        self.mats = mats                                         # parameter name → (R, C), (R, C, S) or (R,)
        self.sizes = {n: ms[2].shape[0] if len(ms) == 3 else math.prod(m.shape[0] for m in ms)
                      for n, ms in mats.items()}
        self.offsets, at = {}, 0
        for n, size in self.sizes.items():
            self.offsets[n] = at
            at += size
        self.dim = at

    @classmethod
    def create(cls, tracker: GhostTracker, dim: int, seed: int) -> "Projector":
        params = {n: p for n, p in tracker.model.named_parameters() if p.requires_grad}
        budget = shares({n: p.numel() for n, p in params.items()}, dim)
        mats = {}
        for n, p in params.items():
            shape = tuple(p.shape) if p.dim() <= 2 else (p.shape[0], math.prod(p.shape[1:]))
            ks, dense = stages(shape, budget[n])
            gen = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(n.encode()))
            sizes = list(zip(ks, shape)) + ([(dense, math.prod(ks))] if dense else [])
            mats[n] = tuple(torch.eye(d, dtype=p.dtype) if k == d else
                            torch.randn(k, d, generator=gen, dtype=torch.float64).div_(math.sqrt(k)).to(p.dtype)
                            for k, d in sizes)
        return cls(tracker, {n: tuple(m.to(params[n].device) for m in ms) for n, ms in mats.items()})

    def state(self) -> dict:
        return {n: [m.cpu() for m in ms] for n, ms in self.mats.items()}

    @classmethod
    def load(cls, tracker: GhostTracker, state: dict) -> "Projector":
        device = next(tracker.model.parameters()).device
        return cls(tracker, {n: tuple(m.to(device) for m in ms) for n, ms in state.items()})

    def captured(self, captures: list[Captures], sides: dict[str, tuple] | None = None) -> torch.Tensor:
        """``[N, dim]`` projected gradients of the sequences captured (micro-batches are further rows; a
        layer called twice, or a weight tied to two layers, adds its uses: one gradient is their sum).
        ``sides`` (``rank_one``'s, per parameter) scales each gradient first, ``(p_r p_cᵀ) ⊙ G``: the
        projection matrices' columns are scaled, ``(R diag p_r) G (C diag p_c)ᵀ``, still from the captures."""
        names = self.tracker.param_names()
        mats = self.mats if not sides else {
            n: tuple(m * s.to(m.dtype)[None, :] for m, s in zip(ms, sides[n])) + ms[2:] if n in sides else ms
            for n, ms in self.mats.items()}
        rows = []
        for mb in captures:
            out = None
            for name, module in self.tracker.layers:
                rule = rule_for(module)
                for x in mb.get(name, []):
                    if x["b"] is None:
                        raise RuntimeError(f"no gradient reached layer '{name}': call backward() first")
                    own = {attr: mats[names[(name, attr)]][:2] for attr in _attrs(module, names, name)}
                    for attr, v in rule.project(module, x["a"], x["b"], own).items():
                        dense = mats[names[(name, attr)]][2:]
                        if dense:  # the second stage, on the small product
                            v = v @ dense[0].T.to(v.dtype)
                        if out is None:
                            out = v.new_zeros(v.shape[0], self.dim)
                        at = self.offsets[names[(name, attr)]]
                        out[:, at:at + v.shape[1]] += v
            if out is not None:
                rows.append(out)
        return torch.cat(rows)

    def dense(self, grads: dict[str, torch.Tensor]) -> torch.Tensor:
        """``[M, dim]`` from materialised gradients, parameter name → ``[M, *shape]``."""
        M = next(iter(grads.values())).shape[0]
        out = next(iter(grads.values())).new_zeros(M, self.dim)
        for n, g in grads.items():
            ms, at = self.mats[n], self.offsets[n]
            g = g.reshape(M, ms[0].shape[1], -1) if len(ms) >= 2 else g.reshape(M, -1)
            v = (ms[0].to(g.dtype) @ g @ ms[1].T.to(g.dtype)).flatten(1) if len(ms) >= 2 else g @ ms[0].T.to(g.dtype)
            if len(ms) == 3:
                v = v @ ms[2].T.to(g.dtype)
            out[:, at:at + v.shape[1]] = v
        return out


def rank_one(P: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """A positive per-element scale as ``p_r p_cᵀ`` (its matrix view, as the projection's): the least-squares
    fit of ``log P`` by row plus column terms (geometric means), so the row and column factors of a
    preconditioner can ride on the captures; a vector is its own factor."""
    if P.dim() <= 1:
        return (P,)
    L = P.reshape(P.shape[0], -1).double().log()
    return L.mean(1).exp().to(P.dtype), (L.mean(0) - L.mean()).exp().to(P.dtype)


def outer(sides: tuple[torch.Tensor, ...], shape) -> torch.Tensor:
    """``rank_one``'s factors back as a tensor of ``shape``."""
    return (sides[0] if len(sides) == 1 else sides[0][:, None] * sides[1][None, :]).reshape(shape)


def _attrs(module, names: dict, layer: str) -> list[str]:
    return [attr for attr, p in module.named_parameters(recurse=False) if p.requires_grad and (layer, attr) in names]


def by_parameter(tracker: GhostTracker, grads: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Per-layer target gradients (``tracker.target_grads``) keyed by parameter name, a tied weight once."""
    names = tracker.param_names()
    return {names[(layer, attr)]: g for layer, per in grads.items() for attr, g in per.items()}
