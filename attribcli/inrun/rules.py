"""Per-layer rules: inner products of per-sample gradients without materializing them.

Each rule sees, for one layer, the layer input ``a`` and the gradient of the loss with respect to the
layer output ``b``, captured for two sets of sequences: X (training samples, ``N`` of them) and
Y (target generations, ``M``). It returns the ``[N, M]`` matrix ``<grad_params l_x, grad_params l_y>``
summed over the layer's parameters. One rule per layer type, registered in ``RULES``.

Shapes: ``a`` is ``[N, T, ...]`` and ``b`` is ``[N, T, d_out]``; X and Y may have different lengths
(T vs S). Padded positions must carry ``b = 0`` (they do when the loss masks them out).
"""

from __future__ import annotations

import torch
import torch.nn as nn

RULES: dict[type[nn.Module], "LayerRule"] = {}


def register(*module_types: type[nn.Module]):
    def deco(cls):
        for t in module_types:
            RULES[t] = cls()
        return cls
    return deco


def rule_for(module: nn.Module) -> "LayerRule | None":
    for cls in type(module).__mro__:
        if cls in RULES:
            return RULES[cls]
    return None


def _tokens(t: torch.Tensor, last: int) -> torch.Tensor:
    """Flatten every dim between the batch dim and the last ``last`` dims into one token dim."""
    return t.reshape(t.shape[0], -1, *t.shape[t.dim() - last:]) if last else t.reshape(t.shape[0], -1)


def _gram_pair(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``G[n, m, t, s] = <x[n, t], y[m, s]>`` as one matrix product."""
    N, T, d = x.shape
    M, S, _ = y.shape
    return (x.reshape(N * T, d) @ y.reshape(M * S, d).T).view(N, T, M, S).permute(0, 2, 1, 3)


class LayerRule:
    """Interface: ``pair_dots(module, a_x, b_x, a_y, b_y) -> [N, M]``."""

    def pair_dots(self, module, a_x, b_x, a_y, b_y) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


@register(nn.Linear)
class LinearRule(LayerRule):
    """``s = a Wᵀ + c``; a sample's weight gradient is ``bᵀ a`` (d_out×d_in). Two exact routes, neither of
    which forms a per-sample training gradient; each call takes the cheaper for its shapes:

    - ``ghost``: ``<b_x b_yᵀ, a_x a_yᵀ>_F``, two token-by-token Gram matrices, ~T·S·(d_in+d_out) per pair;
    - ``project``: form each *target's* gradient ``G_y = b_yᵀ a_y`` once (M of them), then
      ``<∇W_x, G_y> = Σ_t b_x,tᵀ G_y a_x,t``, ~T·d_in·d_out per pair: cheaper for long sequences.

    The bias gradient ``Σ_t b_t`` is d_out numbers per sample and is formed directly."""

    def __init__(self, route: str = "auto"):
        self.route = route

    @staticmethod
    def choose(T: int, S: int, d_in: int, d_out: int) -> str:
        return "ghost" if T * S * (d_in + d_out) <= T * d_in * d_out else "project"

    def pair_dots(self, module, a_x, b_x, a_y, b_y):
        a_x, b_x, a_y, b_y = _tokens(a_x, 1), _tokens(b_x, 1), _tokens(a_y, 1), _tokens(b_y, 1)
        route = self.route
        if route == "auto":
            route = self.choose(a_x.shape[1], a_y.shape[1], a_x.shape[2], b_x.shape[2])
        out = self._ghost(a_x, b_x, a_y, b_y) if route == "ghost" else self._project(a_x, b_x, a_y, b_y)
        if module.bias is not None and module.bias.requires_grad:
            out = out + b_x.sum(1) @ b_y.sum(1).T
        return out

    @staticmethod
    def _ghost(a_x, b_x, a_y, b_y):
        return (_gram_pair(a_x, a_y) * _gram_pair(b_x, b_y)).sum((2, 3))

    @staticmethod
    def _project(a_x, b_x, a_y, b_y):
        N, T, d_in = a_x.shape
        G = torch.einsum("mse,msd->med", b_y, a_y)  # one gradient per target: [M, d_out, d_in]
        a_flat, b_flat = a_x.reshape(N * T, d_in), b_x.reshape(N * T, -1)
        out = a_x.new_empty(N, G.shape[0])
        for j in range(G.shape[0]):  # one target at a time: an [N·T, d_out] intermediate, no more
            out[:, j] = (a_flat @ G[j].T).mul_(b_flat).view(N, -1).sum(1)
        return out


@register(nn.Embedding)
class EmbeddingRule(LayerRule):
    """Row lookup ``s_t = W[id_t]``. Per-sample ``∇W`` scatters ``b_t`` into row ``id_t``, so two samples'
    gradients meet only where they use the same id: ``Σ_{t,s} [id_t = id_s] <b_t, b_s>``. Rows at
    ``padding_idx`` get no gradient and are left out."""

    def pair_dots(self, module, a_x, b_x, a_y, b_y):
        ids_x, ids_y = _tokens(a_x, 0), _tokens(a_y, 0)
        b_x, b_y = _tokens(b_x, 1), _tokens(b_y, 1)
        same = ids_x[:, None, :, None] == ids_y[None, :, None, :]
        if module.padding_idx is not None:
            same &= (ids_x != module.padding_idx)[:, None, :, None]
        return (_gram_pair(b_x, b_y) * same).sum((2, 3))


@register(nn.LayerNorm)
class LayerNormRule(LayerRule):
    """``s = x̂ ⊙ γ + β`` with ``x̂`` the normalized input. Per-sample ``∇γ = Σ_t b_t ⊙ x̂_t`` and
    ``∇β = Σ_t b_t`` have d numbers each: formed directly (exact and cheap)."""

    def pair_dots(self, module, a_x, b_x, a_y, b_y):
        gx, gy = self._per_sample(module, a_x, b_x), self._per_sample(module, a_y, b_y)
        return gx @ gy.T

    @staticmethod
    def _per_sample(module, a, b):
        dims = tuple(range(a.dim() - len(module.normalized_shape), a.dim()))
        parts = []
        if module.weight is not None and module.weight.requires_grad:
            mean = a.mean(dims, keepdim=True)
            var = a.var(dims, unbiased=False, keepdim=True)
            xhat = (a - mean) * torch.rsqrt(var + module.eps)
            parts.append((b * xhat).reshape(a.shape[0], -1, *module.normalized_shape).sum(1).flatten(1))
        if module.bias is not None and module.bias.requires_grad:
            parts.append(b.reshape(a.shape[0], -1, *module.normalized_shape).sum(1).flatten(1))
        return torch.cat(parts, dim=1)
