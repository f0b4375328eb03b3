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
projection is its smaller side, not ``k_r·k_c`` (``factor_sizes``).

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
        self.mats = mats                                         # parameter name → (R, C) or (R,)
        self.sizes = {n: math.prod(m.shape[0] for m in ms) for n, ms in mats.items()}
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
            ks = factor_sizes(shape, budget[n])
            gen = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(n.encode()))
            mats[n] = tuple(torch.eye(d, dtype=p.dtype) if k == d else
                            torch.randn(k, d, generator=gen, dtype=torch.float64).div_(math.sqrt(k)).to(p.dtype)
                            for k, d in zip(ks, shape))
        return cls(tracker, {n: tuple(m.to(params[n].device) for m in ms) for n, ms in mats.items()})

    def state(self) -> dict:
        return {n: [m.cpu() for m in ms] for n, ms in self.mats.items()}

    @classmethod
    def load(cls, tracker: GhostTracker, state: dict) -> "Projector":
        device = next(tracker.model.parameters()).device
        return cls(tracker, {n: tuple(m.to(device) for m in ms) for n, ms in state.items()})

    def captured(self, captures: list[Captures]) -> torch.Tensor:
        """``[N, dim]`` projected gradients of the sequences captured (micro-batches are further rows; a
        layer called twice, or a weight tied to two layers, adds its uses: one gradient is their sum)."""
        names = self.tracker.param_names()
        rows = []
        for mb in captures:
            out = None
            for name, module in self.tracker.layers:
                rule = rule_for(module)
                for x in mb.get(name, []):
                    if x["b"] is None:
                        raise RuntimeError(f"no gradient reached layer '{name}': call backward() first")
                    mats = {attr: self.mats[names[(name, attr)]] for attr in _attrs(module, names, name)}
                    for attr, v in rule.project(module, x["a"], x["b"], mats).items():
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
            g = g.reshape(M, ms[0].shape[1], -1) if len(ms) == 2 else g.reshape(M, -1)
            v = (ms[0].to(g.dtype) @ g @ ms[1].T.to(g.dtype)).flatten(1) if len(ms) == 2 else g @ ms[0].T.to(g.dtype)
            out[:, at:at + v.shape[1]] = v
        return out


def _attrs(module, names: dict, layer: str) -> list[str]:
    return [attr for attr, p in module.named_parameters(recurse=False) if p.requires_grad and (layer, attr) in names]


def by_parameter(tracker: GhostTracker, grads: dict[str, dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Per-layer target gradients (``tracker.target_grads``) keyed by parameter name, a tied weight once."""
    names = tracker.param_names()
    return {names[(layer, attr)]: g for layer, per in grads.items() for attr, g in per.items()}
