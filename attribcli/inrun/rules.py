"""Per-layer rules: inner products of per-sample gradients without forming them for every sample.

Each rule sees, for one layer, the layer input ``a`` and the gradient of the loss with respect to the
layer output ``b``, captured for two sets of sequences: X (training samples, ``N`` of them) and
Y (target generations, ``M``). Three operations, one registered rule per layer type:

- ``pair_dots(module, a_x, b_x, a_y, b_y) -> [N, M]``: ``<∇θ l_x, ∇θ l_y>`` summed over the layer's
  parameters θ (the first-order SGD value);
- ``target_grads(module, a_y, b_y) -> {param: [M, *shape]}``: one gradient per *target* (M of them,
  never one per training sample), for directions that are not plain gradients (Adam's
  preconditioned direction, Hessian-vector products);
- ``direction_dots(module, a_x, b_x, D) -> [N, M]``: ``<∇θ l_x, D_y>`` for any per-target direction D;
- ``project(module, a, b, mats) -> {param: [N, k]}``: each sample's gradient under a Kronecker projection
  ``R G Cᵀ`` (``R``, ``C`` per parameter, in the parameter's own layout), formed from the projected ``a`` and
  ``b`` without the gradient itself (the gradient index, projection.py).

Shapes: ``a`` is ``[N, T, ...]`` and ``b`` is ``[N, T, d_out]``; X and Y may have different lengths
(T vs S). Padded positions must carry ``b = 0`` (they do when the loss masks them out).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

RULES: dict[type[nn.Module], "LayerRule"] = {}
MATERIALIZE_MAX_ELEMENTS = 1 << 27  # per-sample gradients of one layer above this: never materialized


def register(*module_types: type[nn.Module]):
    def deco(cls):
        for t in module_types:
            RULES[t] = cls()
        return cls
    return deco


def rule_for(module: nn.Module) -> "LayerRule | None":
    """The rule registered for the module's exact type. A subclass inherits its base's rule only while it
    computes what the base computes (same ``forward``): a Linear subclass with a ``forward`` of its own
    may do anything, so it gets no rule (and the tracker refuses it) unless one is registered for it."""
    kind = type(module)
    if kind in RULES:
        return RULES[kind]
    for base in kind.__mro__[1:]:
        if base in RULES:
            return RULES[base] if kind.forward is base.forward else None
    return None


def trainable(module: nn.Module) -> dict[str, nn.Parameter]:
    return {n: p for n, p in module.named_parameters(recurse=False) if p.requires_grad}


def flatten_tokens(t: torch.Tensor, last: int) -> torch.Tensor:
    """Flatten every dim between the batch dim and the last ``last`` dims into one token dim."""
    return t.reshape(t.shape[0], -1, *t.shape[t.dim() - last:]) if last else t.reshape(t.shape[0], -1)


def _gram_pair(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``G[n, m, t, s] = <x[n, t], y[m, s]>`` as one matrix product."""
    N, T, d = x.shape
    M, S, _ = y.shape
    return (x.reshape(N * T, d) @ y.reshape(M * S, d).T).view(N, T, M, S).permute(0, 2, 1, 3)


class LayerRule:
    """Interface; ``pair_dots`` defaults to dotting with the materialized target gradients."""

    def pair_dots(self, module, a_x, b_x, a_y, b_y) -> torch.Tensor:
        return self.direction_dots(module, a_x, b_x, self.target_grads(module, a_y, b_y))

    def target_grads(self, module, a_y, b_y) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def direction_dots(self, module, a_x, b_x, D: dict[str, torch.Tensor]) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def route(self, module, a_x, a_y) -> str:
        return "exact"

    def project(self, module, a, b, mats: dict) -> dict[str, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError(f"no projection for {type(module).__name__}")


def outer_projection(left: torch.Tensor, right: torch.Tensor, mats: tuple) -> torch.Tensor:
    """``[N, k_r·k_c]``: ``Σ_t (R left_t)(C right_t)ᵀ`` = ``R (Σ_t left_t right_tᵀ) Cᵀ``, flattened, from
    ``[N, T, r]`` and ``[N, T, c]`` token factors (``left`` may already be projected: ``mats[0]`` None)."""
    R, C = mats
    pl = left if R is None else left @ R.T.to(left.dtype)
    return torch.bmm(pl.transpose(1, 2), right @ C.T.to(right.dtype)).flatten(1)


@register(nn.Linear)
class LinearRule(LayerRule):
    """``s = a Wᵀ + c``; a sample's weight gradient is ``bᵀ a`` (d_out×d_in). Three exact routes; each call
    takes the cheapest for its shapes (N samples of T tokens, M targets of S tokens):

    - ``ghost``: ``<b_x b_yᵀ, a_x a_yᵀ>_F``, two token Gram matrices: N·M·T·S·(d_in+d_out);
    - ``materialize``: form the N per-sample gradients (N·T·d_in·d_out) and the M target gradients, then one
      [N, M] product (N·M·d_in·d_out): cheapest for long sequences; the samples are formed in chunks that fit
      ``MATERIALIZE_MAX_ELEMENTS`` (a 50257 x 768 head: one sample at a time), so memory stays bounded;
    - ``project`` (only when asked for): form only the M target gradients ``G_y`` and project each sample on
      them, ``Σ_t b_x,tᵀ G_y a_x,t`` (N·M·T·d_in·d_out): never cheaper than chunked materializing for M > 1.

    The bias gradient ``Σ_t b_t`` is d_out numbers per sample and is formed directly."""

    def __init__(self, route: str = "auto"):
        self.forced = route

    @staticmethod
    def choose(N: int, T: int, M: int, S: int, d_in: int, d_out: int) -> str:
        ghost = N * M * T * S * (d_in + d_out)
        materialize = N * T * d_in * d_out + M * S * d_in * d_out + N * M * d_in * d_out
        return "ghost" if ghost < materialize else "materialize"

    @staticmethod
    def _weight(module) -> tuple[torch.Tensor, bool]:
        """(the [d_out, d_in] weight view, whether the module stores it transposed)."""
        return module.weight, False

    def dims(self, module) -> tuple[int, int]:
        """(d_out, d_in) of the layer, whatever its weight's layout."""
        w, transposed = self._weight(module)
        return tuple((w.T if transposed else w).shape)

    def route(self, module, a_x, a_y, per_sample: torch.Tensor | None = None) -> str:
        if per_sample is not None:  # the samples' gradients are formed already (the tracker's shared gradient)
            return "materialize"
        if self.forced != "auto":
            return self.forced
        a_x, a_y = flatten_tokens(a_x, 1), flatten_tokens(a_y, 1)
        d_out, d_in = self._weight(module)[0].shape if not self._weight(module)[1] else self._weight(module)[0].T.shape
        return self.choose(a_x.shape[0], a_x.shape[1], a_y.shape[0], a_y.shape[1], d_in, d_out)

    def pair_dots(self, module, a_x, b_x, a_y, b_y, per_sample: torch.Tensor | None = None):
        route = self.route(module, a_x, a_y, per_sample)
        if route != "ghost":
            return self.direction_dots(module, a_x, b_x, self.target_grads(module, a_y, b_y), route=route,
                                       per_sample=per_sample)
        a_x, b_x, a_y, b_y = (flatten_tokens(t, 1) for t in (a_x, b_x, a_y, b_y))
        out = (_gram_pair(a_x, a_y) * _gram_pair(b_x, b_y)).sum((2, 3))
        if self._has_bias(module):
            out = out + b_x.sum(1) @ b_y.sum(1).T
        return out

    @staticmethod
    def _has_bias(module) -> bool:
        return module.bias is not None and module.bias.requires_grad

    @staticmethod
    def per_sample_weight_grads(a, b) -> torch.Tensor:
        """``[N, d_out, d_in]``: each sample's weight gradient ``Σ_t b_tᵀ a_t`` (in the Linear layout)."""
        a, b = flatten_tokens(a, 1), flatten_tokens(b, 1)
        return torch.bmm(b.transpose(1, 2), a)

    def batch_grads(self, module, a, b, keep: bool) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
        """The batch's gradient of the layer's parameters, from one call's captures (what autograd would
        add to ``.grad``), and, when ``keep``, the per-sample weight gradients it was summed from (the
        first-order dot products then reuse them instead of forming them a second time)."""
        a, b = flatten_tokens(a, 1), flatten_tokens(b, 1)
        N, T, d_in = a.shape
        d_out = b.shape[2]
        grads, per_sample = {}, None
        if keep:
            per_sample = self.per_sample_weight_grads(a, b)
            g = per_sample.sum(0)
        else:  # one product over every token, as autograd's own weight gradient
            g = b.reshape(N * T, d_out).T @ a.reshape(N * T, d_in)
        grads["weight"] = g.T.contiguous() if self._weight(module)[1] else g
        if module.bias is not None:
            grads["bias"] = b.sum((0, 1))
        return grads, per_sample

    def target_grads(self, module, a_y, b_y):
        a_y, b_y = flatten_tokens(a_y, 1), flatten_tokens(b_y, 1)
        G = {}
        if module.weight.requires_grad:
            g = torch.bmm(b_y.transpose(1, 2), a_y)  # [M, d_out, d_in]
            G["weight"] = g.transpose(1, 2) if self._weight(module)[1] else g
        if self._has_bias(module):
            G["bias"] = b_y.sum(1)
        return G

    def project(self, module, a, b, mats):
        a, b = flatten_tokens(a, 1), flatten_tokens(b, 1)
        out = {}
        if "weight" in mats:  # Linear's weight is [d_out, d_in] (rows follow b), Conv1D's [d_in, d_out]
            out["weight"] = outer_projection(*((a, b) if self._weight(module)[1] else (b, a)), mats["weight"])
        if "bias" in mats:
            out["bias"] = b.sum(1) @ mats["bias"][0].T.to(b.dtype)
        return out

    def direction_dots(self, module, a_x, b_x, D, route: str | None = None, per_sample: torch.Tensor | None = None,
                       sample_scale: torch.Tensor | None = None):
        """``per_sample``: the samples' weight gradients ``[N, d_out, d_in]`` when already formed
        (``per_sample_weight_grads``, which the tracker keeps when it builds the batch gradient from them).
        ``sample_scale``: a per-element scale of the weight, in the parameter's layout, applied to the samples'
        gradients rather than to the M directions (``<s ⊙ g_x, D_y> = <g_x, s ⊙ D_y>``: the cheaper side when
        N < M)."""
        a_x, b_x = flatten_tokens(a_x, 1), flatten_tokens(b_x, 1)
        N, T, d_in = a_x.shape
        out = None
        if "weight" in D:
            W = D["weight"].transpose(1, 2) if self._weight(module)[1] else D["weight"]  # [M, d_out, d_in]
            M, d_out = W.shape[0], W.shape[1]
            s = None
            if sample_scale is not None:
                s = sample_scale.T.contiguous() if self._weight(module)[1] else sample_scale
            if per_sample is not None:
                route = "materialize"
            route = route or "materialize"
            if route == "materialize":  # in chunks of samples whose gradients fit the budget (all at once when small)
                flat = W.reshape(M, -1).T

                def scaled(g):
                    return (g if s is None else g * s).reshape(g.shape[0], -1)

                if per_sample is not None:
                    out = scaled(per_sample) @ flat  # [N, d_out·d_in] x [d_out·d_in, M]
                else:
                    step = max(1, MATERIALIZE_MAX_ELEMENTS // (d_in * d_out))
                    out = torch.cat([scaled(self.per_sample_weight_grads(a_x[i:i + step], b_x[i:i + step])) @ flat
                                     for i in range(0, N, step)])
            else:  # project: one target at a time keeps the intermediate at [N·T, d_out]
                W = W if s is None else W * s
                a_flat, b_flat = a_x.reshape(N * T, d_in), b_x.reshape(N * T, d_out)
                out = torch.stack([((a_flat @ W[j].T) * b_flat).view(N, -1).sum(1) for j in range(M)], dim=1)
        if "bias" in D:
            bias = b_x.sum(1) @ D["bias"].T
            out = bias if out is None else out + bias
        return out


@register(nn.Embedding)
class EmbeddingRule(LayerRule):
    """Row lookup ``s_t = W[id_t]``. Per-sample ``∇W`` scatters ``b_t`` into row ``id_t``, so two samples'
    gradients meet only where they use the same id. Two exact routes:

    - ``ghost``: ``Σ_{t,s} [id_t = id_s] <b_t, b_s>``: N·M·T·S·d, no V-sized tensor;
    - ``gather``: every gradient summed into the rows the targets use (K ≤ min(V, M·S) of them), then one
      ``[N, K·d] x [K·d, M]`` product: N·T·d + M·S·d + N·M·K·d, and never a V-sized tensor either (the
      M x V x d target gradients cost a zero-fill and a gather per target a step: about 40 ms of a 0.34 s
      plain step on the sample model, benchmarks/RESULTS.md).

    Rows at ``padding_idx`` get no gradient and are left out."""

    def __init__(self, route: str = "auto"):
        self.forced = route

    def route(self, module, a_x, a_y) -> str:
        if self.forced != "auto":
            return self.forced
        rows = min(module.num_embeddings, a_y.numel())
        return "gather" if a_y.shape[0] * rows * module.embedding_dim <= MATERIALIZE_MAX_ELEMENTS // 4 else "ghost"

    def pair_dots(self, module, a_x, b_x, a_y, b_y):
        ids_x, ids_y = flatten_tokens(a_x, 0), flatten_tokens(a_y, 0)
        b_x, b_y = flatten_tokens(b_x, 1), flatten_tokens(b_y, 1)
        if self.route(module, a_x, a_y) == "gather":
            rows = torch.unique(ids_y)
            G_y = self._at_rows(module, ids_y, b_y, rows).reshape(ids_y.shape[0], -1)
            return self._row_dots(module, ids_x, b_x, rows, G_y)
        same = ids_x[:, None, :, None] == ids_y[None, :, None, :]
        if module.padding_idx is not None:
            same &= (ids_x != module.padding_idx)[:, None, :, None]
        return (_gram_pair(b_x, b_y) * same).sum((2, 3))

    @staticmethod
    def _unpadded(module, ids: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """``b`` with the tokens at ``padding_idx`` zeroed: those rows get no gradient."""
        return b if module.padding_idx is None else b * (ids != module.padding_idx)[..., None]

    @staticmethod
    def _at_rows(module, ids: torch.Tensor, b: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """``[N, K, d]``: each sequence's gradient at the sorted ids ``rows`` (tokens at other ids dropped)."""
        N, _, d = b.shape
        b = EmbeddingRule._unpadded(module, ids, b)
        ids = ids.contiguous()
        pos = torch.searchsorted(rows, ids).clamp_max(rows.numel() - 1)
        hit = rows[pos] == ids
        at = (pos + rows.numel() * torch.arange(N, device=ids.device)[:, None])[hit]
        return b.new_zeros(N * rows.numel(), d).index_add_(0, at, b[hit]).view(N, rows.numel(), d)

    def _row_dots(self, module, ids, b, rows, G) -> torch.Tensor:
        """``[N, M]``: the samples' gradients at ``rows`` dotted with ``G`` (``[M, K·d]``, the same rows),
        in chunks of samples so that a chunk's ``[n, K, d]`` stays within the materialize budget."""
        N = ids.shape[0]
        step = max(1, MATERIALIZE_MAX_ELEMENTS // 4 // max(1, G.shape[1]))
        return torch.cat([self._at_rows(module, ids[i:i + step], b[i:i + step], rows).flatten(1) @ G.T
                          for i in range(0, N, step)])

    def target_grads(self, module, a_y, b_y):
        ids, b = flatten_tokens(a_y, 0), flatten_tokens(b_y, 1)
        M, S, d = b.shape
        b = EmbeddingRule._unpadded(module, ids, b)
        rows = (ids + module.num_embeddings * torch.arange(M, device=ids.device)[:, None]).reshape(-1)
        g = b.new_zeros(M * module.num_embeddings, d).index_add_(0, rows, b.reshape(-1, d))
        return {"weight": g.view(M, module.num_embeddings, d)}

    def project(self, module, a, b, mats):
        ids, b = flatten_tokens(a, 0), flatten_tokens(b, 1)
        b = EmbeddingRule._unpadded(module, ids, b)
        R, C = mats["weight"]  # row id_t of R's columns is R applied to the one-hot row of the gradient
        return {"weight": outer_projection(R.T.to(b.dtype)[ids], b, (None, C))}

    def scaled_dots(self, module, a_x, b_x, a_y, b_y, K, at_rows: bool = False) -> torch.Tensor:
        """``[N, M]`` = ``<K ⊙ g_x, g_y>`` for a per-element scale ``K`` (``[V, d]`` or a number): the targets'
        gradients formed at the rows the samples use only (``[M, K, d]``, K ≤ N·T), never V-sized. ``at_rows``:
        ``K`` is already those rows (``[K, d]``, the rows of ``rows_used(a_x)``)."""
        ids, b = flatten_tokens(a_x, 0), flatten_tokens(b_x, 1)
        rows = self.rows_used(a_x)
        G = self._at_rows(module, flatten_tokens(a_y, 0), flatten_tokens(b_y, 1), rows)
        D = (K if at_rows or not isinstance(K, torch.Tensor) else K[rows]) * G
        dtype = torch.promote_types(b.dtype, D.dtype)
        return self._row_dots(module, ids, b.to(dtype), rows, D.reshape(D.shape[0], -1).to(dtype))

    @staticmethod
    def rows_used(a_x) -> torch.Tensor:
        """The sorted ids the samples use: the only rows of the weight their gradients touch."""
        return torch.unique(flatten_tokens(a_x, 0))

    def vector_dots(self, module, a_y, b_y, C: torch.Tensor) -> torch.Tensor:
        """``[M]`` = ``<C, g_y>`` for one ``[V, d]`` vector: ``Σ_s <C[id_s], b_s>``."""
        ids, b = flatten_tokens(a_y, 0), flatten_tokens(b_y, 1)
        b = EmbeddingRule._unpadded(module, ids, b)
        return (C[ids].to(b.dtype) * b).sum((1, 2))

    def direction_dots(self, module, a_x, b_x, D):
        """The directions read at the ids the samples use only (``[M, K, d]``, K ≤ N·T), then one product."""
        ids, b, W = flatten_tokens(a_x, 0), flatten_tokens(b_x, 1), D["weight"]
        dtype = torch.promote_types(b.dtype, W.dtype)
        rows = torch.unique(ids)
        return self._row_dots(module, ids, b.to(dtype), rows, W[:, rows].reshape(W.shape[0], -1).to(dtype))


@register(nn.LayerNorm)
class LayerNormRule(LayerRule):
    """``s = x̂ ⊙ γ + β`` with ``x̂`` the normalized input. Per-sample ``∇γ = Σ_t b_t ⊙ x̂_t`` and
    ``∇β = Σ_t b_t`` have d numbers each: formed directly (exact and cheap)."""

    def pair_dots(self, module, a_x, b_x, a_y, b_y):
        gx, gy = self._per_sample(module, a_x, b_x), self._per_sample(module, a_y, b_y)
        return sum(gx[k].flatten(1) @ gy[k].flatten(1).T for k in gx)

    def target_grads(self, module, a_y, b_y):
        return self._per_sample(module, a_y, b_y)

    def direction_dots(self, module, a_x, b_x, D):
        gx = self._per_sample(module, a_x, b_x)
        return sum(gx[k].flatten(1) @ D[k].flatten(1).T for k in gx)

    def project(self, module, a, b, mats):
        g = self._per_sample(module, a, b)
        return {k: g[k].flatten(1) @ mats[k][0].T.to(g[k].dtype) for k in mats}

    @staticmethod
    def _per_sample(module, a, b) -> dict[str, torch.Tensor]:
        shape = (a.shape[0], -1, *module.normalized_shape)
        out = {}
        if module.weight is not None and module.weight.requires_grad:
            xhat = F.layer_norm(a, module.normalized_shape, eps=module.eps)  # one fused kernel, as forward
            out["weight"] = (b * xhat).reshape(shape).sum(1)
        if module.bias is not None and module.bias.requires_grad:
            out["bias"] = b.reshape(shape).sum(1)
        return out
