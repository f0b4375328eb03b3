"""Dot products through a per-element scale, one layer and one block of targets at a time.

Under AdamW a sample's share of the update is ``K ⊙ g_z`` with ``K`` a different number for every weight, so
``<K ⊙ g_z, g_v>`` has no low-rank form for the ghost products: each target's gradient is formed. Formed for
the whole model at once, with a scaled copy per scale, that is several times M x the trainable parameters
(14 GiB at GPT-2's 124M with 8 generations, issue 30). Here each layer's target gradients are formed for a
block of targets, every product that needs them is taken (this step's samples, the open step's, the carry
vectors), and they are dropped before the next layer: the peak is one block of the largest layer. An
untied embedding is read at the rows its samples use, never as a vocabulary-sized direction per target.

Each layer's ``[n, m]`` part is what ``tracker.direction_dots`` computes for it; the parts are summed in
float64, layer by layer, in the tracker's layer order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from attribcli.inrun.rules import EmbeddingRule, LinearRule, flatten_tokens, rule_for
from attribcli.inrun.tracker import GhostTracker, kept

STREAM_MAX_ELEMENTS = 1 << 25  # target-gradient numbers of one layer formed at once (128 MiB in float32)


@dataclass
class Job:
    """One ``[n, M]`` product: the samples of ``train`` (captures, one dict per micro-batch), each sample's
    gradient scaled by ``K`` (per parameter name: a number or a tensor of the parameter's shape)."""

    train: list
    K: Mapping


def streamed_dots(tracker: GhostTracker, jobs: list[Job], vectors: list[Mapping], names: dict,
                  budget: int = STREAM_MAX_ELEMENTS) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``([n_j, M] per job, [M] per vector)`` in float64: ``<K_j ⊙ g_z, g_v>`` for every sample z of job j and
    target v, and ``<c, g_v>`` for every vector c (parameter name → tensor; a tied weight counted once)."""
    M = tracker.target_count()
    out = [[None] * len(job.train) for job in jobs]
    carried = [torch.zeros(M, dtype=torch.float64) for _ in vectors]
    for unit in tracker.units():
        if len(unit) == 1 and isinstance(rule_for(tracker.module(unit[0])), EmbeddingRule):
            _embedding(tracker, unit[0], jobs, vectors, names, out, carried)
            continue
        n = max((sum(_rows_in(mb, unit) for mb in job.train) for job in jobs), default=0)
        size = tracker.unit_size(unit)
        dense = _dense_weight(tracker, unit)
        if dense is not None and (n + M) * size > budget:
            _sliced(tracker, dense, n, jobs, vectors, names, out, carried, budget)
            continue
        block = max(1, budget // max(1, size))
        parts = [[[] for _ in job.train] for job in jobs]
        for start in range(0, M, block):
            rows = slice(start, min(M, start + block))
            G = tracker.unit_target_grads(unit, rows)
            for j, job in enumerate(jobs):
                for k, mb in enumerate(job.train):
                    parts[j][k].append(_unit_dots(tracker, unit, mb, G, job.K, names))
            for v, vec in enumerate(vectors):
                carried[v][rows] += _vector_dots(unit, G, vec, names)
            del G
        for j in range(len(jobs)):
            for k, cols in enumerate(parts[j]):
                if cols and cols[0] is not None:
                    out[j][k] = _add(out[j][k], torch.cat(cols, dim=1))
    return [_rows(rows) for rows in out], carried


def _rows_in(mb: dict, unit) -> int:
    """Samples of one micro-batch's captures (of the unit's first captured layer)."""
    for name in unit:
        for x in mb.get(name, []):
            return x["a"].shape[0]
    return 0


def _dense_weight(tracker, unit) -> tuple[str, str | None] | None:
    """(the Linear-like layer, the embedding tied to it or None) when the unit's weight can be cut into rows of
    its ``[d_out, d_in]`` layout: a Linear or Conv1D layer, or an embedding tied to a Linear head."""
    if len(unit) == 1:
        return (unit[0], None) if isinstance(rule_for(tracker.module(unit[0])), LinearRule) else None
    for emb, head, kind in tracker.ties:
        if (emb, head) == unit and kind == "linear":
            return head, emb
    return None


def _sliced(tracker, dense, n: int, jobs, vectors, names, out, carried, budget) -> None:
    """A large dense unit cut into slices of its output rows: each slice's per-sample and target gradients are
    formed once (``b[..., rows]ᵀ a``), scaled, dotted and dropped, so neither side is formed twice and the peak
    is one slice for the ``n`` samples and twice for every target (a 50257 x 768 head: about 2,000 rows at a time
    at batch 4 with 8 generations). A tied embedding adds its rows (its gradient scattered at the ids in the
    slice)."""
    head, emb = dense
    module = tracker.module(head)
    rule = rule_for(module)
    transposed = rule._weight(module)[1]
    d_out, d_in = rule.dims(module)
    M = tracker.target_count()
    wname = names[(head, "weight")] if module.weight.requires_grad else None
    bname = names.get((head, "bias")) if module.bias is not None and module.bias.requires_grad else None
    step = max(1, budget // max(1, (n + 2 * M) * d_in))
    ys = tracker.target_slots(head)
    ys_emb = tracker.target_slots(emb) if emb else []
    for r0 in range(0, d_out, step):
        r = slice(r0, min(d_out, r0 + step))
        Gy = _slice_grads(ys, ys_emb, tracker.module(emb) if emb else None, r) if wname else None
        By = sum(flatten_tokens(y["b"], 1)[..., r].sum(1) for y in ys) if bname else None
        for j, job in enumerate(jobs):
            Dw = _rows_of(job.K, wname, r, transposed) * Gy if wname else None
            Db = _rows_of(job.K, bname, r, False) * By if bname else None
            for k, mb in enumerate(job.train):
                xs = mb.get(head, [])
                if not xs:
                    continue
                part = None
                if wname:
                    Gx = _slice_grads(xs, mb.get(emb, []) if emb else [], tracker.module(emb) if emb else None, r)
                    part = Gx.reshape(Gx.shape[0], -1) @ Dw.reshape(M, -1).to(Gx.dtype).T
                if bname:
                    Bx = sum(flatten_tokens(x["b"], 1)[..., r].sum(1) for x in xs)
                    part = _add(part, Bx @ Db.to(Bx.dtype).T)
                out[j][k] = _add(out[j][k], part)
        for v, vec in enumerate(vectors):
            if wname and wname in vec:
                carried[v] += _mv(Gy, _rows_of(vec, wname, r, transposed))
            if bname and bname in vec:
                carried[v] += _mv(By, _rows_of(vec, bname, r, False))


def _slice_grads(slots, emb_slots, emb, r: slice) -> torch.Tensor:
    """``[n, |r|, d_in]``: rows ``r`` of each sequence's weight gradient (Linear layout), summed over the layer's
    calls; with a tied embedding, its gradient's rows ``r`` (``b`` at the tokens whose id falls in them) added."""
    total = None
    for x in slots:
        if x.get("per_sample") is not None:
            g = x["per_sample"][:, r, :]
        else:
            a, b = flatten_tokens(x["a"], 1), flatten_tokens(x["b"], 1)
            g = torch.bmm(b[..., r].transpose(1, 2), a)
        total = g if total is None else total + g
    for e in emb_slots:
        ids, b = flatten_tokens(e["a"], 0), flatten_tokens(e["b"], 1)
        b = EmbeddingRule._unpadded(emb, ids, b)
        hit = (ids >= r.start) & (ids < r.stop)
        n, size = ids.shape[0], r.stop - r.start
        at = ((ids - r.start) + size * torch.arange(n, device=ids.device)[:, None])[hit]
        rows = b.new_zeros(n * size, b.shape[-1]).index_add_(0, at, b[hit]).view(n, size, -1)
        total = rows.to(total.dtype) + total if total is not None else rows
    return total


def _rows_of(values: Mapping, name: str, r: slice, transposed: bool):
    """Rows ``r`` of parameter ``name``'s entry in the Linear layout (a Conv1D's is stored transposed); a number as
    it is."""
    t = _part(values, name, (slice(None), r) if transposed else r)
    return t.T.contiguous() if transposed and isinstance(t, torch.Tensor) else t


def _part(values: Mapping, name: str, index):
    """``values[name][index]`` (a number as it is): a lazy mapping (optim.AdamScale, optim.Carry, ...) forms that
    part only (its ``part``)."""
    if hasattr(values, "part"):
        return values.part(name, index)
    t = values[name]
    return t[index] if isinstance(t, torch.Tensor) else t


def _unit_dots(tracker, unit, mb, G, K, names) -> torch.Tensor | None:
    """``[n, m]``: one micro-batch's samples, scaled by K, dotted with the unit's target gradients G."""
    total = None
    for name in unit:
        if name not in G:
            continue
        xs = mb.get(name, [])
        if not xs:
            continue
        module = tracker.module(name)
        rule = rule_for(module)
        D, side = _scaled_side(rule, K, names, name, G[name], xs[0]["a"].shape[0])  # one micro-batch: same n
        for x in xs:
            total = _add(total, rule.direction_dots(module, x["a"], x["b"], D, **kept(x), **side))
    return total


def _scaled_side(rule, K, names, name, G: dict, n: int) -> tuple[dict, dict]:
    """The directions to dot with, and the rule's ``sample_scale`` when the scale goes on the samples' side: a
    dense weight with a per-element scale and fewer samples than targets in the block (scaling n sample
    gradients instead of m target gradients; the same product)."""
    k = K[names[(name, "weight")]] if "weight" in G else None
    if isinstance(rule, LinearRule) and isinstance(k, torch.Tensor) and n < G["weight"].shape[0]:
        D = {attr: g if attr == "weight" else _scaled(K, names[(name, attr)], g) for attr, g in G.items()}
        return D, {"sample_scale": k}
    return {attr: _scaled(K, names[(name, attr)], g) for attr, g in G.items()}, {}


def _vector_dots(unit, G, vec, names) -> torch.Tensor:
    total, seen = 0, set()
    for name in unit:
        for attr, g in G.get(name, {}).items():
            pname = names[(name, attr)]
            if pname in seen or pname not in vec:
                continue
            seen.add(pname)
            total = total + _mv(g, vec[pname])
    return total


def _embedding(tracker, name, jobs, vectors, names, out, carried) -> None:
    """An untied embedding: its products read at rows only (EmbeddingRule.scaled_dots, vector_dots)."""
    module, rule = tracker.module(name), rule_for(tracker.module(name))
    if not module.weight.requires_grad:
        return
    pname = names[(name, "weight")]
    ys = tracker.target_slots(name)
    for j, job in enumerate(jobs):
        if pname not in job.K:
            continue
        for k, mb in enumerate(job.train):
            for x in mb.get(name, []):
                K = _part(job.K, pname, rule.rows_used(x["a"]))  # the scale at the rows the samples use only
                for y in ys:
                    out[j][k] = _add(out[j][k], rule.scaled_dots(module, x["a"], x["b"], y["a"], y["b"], K,
                                                                 at_rows=True).double())
    for v, vec in enumerate(vectors):
        if pname in vec:
            for y in ys:
                carried[v] += rule.vector_dots(module, y["a"], y["b"], vec[pname]).double()


def _mv(G: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """``[m]`` float64: each row of ``G`` (one target's gradient) dotted with the vector ``c``, in G's dtype (a
    float64 copy of every target's gradient would cost more than the product)."""
    if _swapped(G):  # a Conv1D's target gradients are a transposed view: read them in their memory order
        G, c = G.mT, c.mT
    return torch.mv(G.reshape(G.shape[0], -1), c.reshape(-1).to(G.dtype)).double()


def _scaled(K: Mapping, name: str, g: torch.Tensor) -> torch.Tensor:
    """``K ⊙ g`` in the memory order of ``g``: a Conv1D's target gradients are a transposed view of ``[m, d_out,
    d_in]``, and multiplying them as laid out by the parameter would read ``g`` strided and copy the product
    again when it is flattened (2.7 s of a 23 s GPT-2 124M step, issue 30)."""
    k = K[name]
    if isinstance(k, torch.Tensor) and _swapped(g):
        return (k.mT.contiguous() * g.mT).mT
    return k * g


def _swapped(g: torch.Tensor) -> bool:
    """``g`` is ``[m, x, y]`` stored as ``[m, y, x]``."""
    return g.dim() == 3 and not g.is_contiguous() and g.mT.is_contiguous()


def _rows(per_mb: list) -> torch.Tensor:
    if any(r is None for r in per_mb):
        raise RuntimeError("nothing captured: run both capture phases and backward first")
    return torch.cat([r.double() for r in per_mb])


def _add(total, x):
    if x is None:
        return total
    x = x.double()
    return x if total is None else total + x
