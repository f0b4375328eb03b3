"""Capture layer inputs and output gradients for training samples and targets in one backward pass.

Use per optimizer step::

    with tracker.capture("train"):
        train_loss = per_sample_losses(model(x)).mean()
    with tracker.capture("target"):          # parameters frozen: targets add nothing to .grad
        target_losses = per_target_losses(model(v))
    (train_loss + target_losses.sum()).backward()   # ONE backward pass fills both
    dots = tracker.dots()                     # [N, M] = <∇(train_loss)_i, ∇ l_v_j>, per-sample
    optimizer.step()

The targets run as a second forward over frozen parameters rather than as extra rows of the same
batch: the training forward is then byte-for-byte the one plain training would run, the parameter
gradient is the training gradient alone (no subtraction, no padding to a common length), and the one
backward pass still yields every layer's ``a`` and ``b`` for both sets. Each target is kept as its own
row to the end, so several targets never mix (no cross terms between generations).

Each ``capture("train")`` block is one micro-batch: with gradient accumulation, every micro-batch's
samples become further rows of the result (they are different samples), while a layer called several
times inside one forward contributes the sum over its calls (one sample's gradient is that sum).
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn as nn
from torch.func import functional_call

from attribcli.inrun.rules import LinearRule, rule_for

Captures = dict[str, list[dict]]  # layer name → one slot {"a", "b"} per call of the layer
SHARED_MAX_ELEMENTS = 1 << 27  # per-sample weight-gradient numbers kept a step (512 MiB in float32)


class UnsupportedModel(ValueError):
    """The model has a trainable parameter no per-layer rule covers, or a weight shared by two layers."""


class GhostTracker:
    def __init__(self, model: nn.Module):
        self.model = model
        self.layers: list[tuple[str, nn.Module]] = []
        owners: dict[int, list[tuple[str, str]]] = {}
        for name, module in model.named_modules():
            own = {a: p for a, p in module.named_parameters(recurse=False) if p.requires_grad}
            if not own:
                continue
            if rule_for(module) is None:
                raise UnsupportedModel(
                    f"layer '{name}' ({type(module).__name__}) has trainable parameters and no in-run rule")
            for attr, p in own.items():
                owners.setdefault(id(p), []).append((name, attr))
            self.layers.append((name, module))
        self._modules = dict(self.layers)
        canonical = {id(p): n for n, p in model.named_parameters()}
        self._param_names = {use: canonical[pid] for pid, uses in owners.items() for use in uses}
        self.ties = [self._tie(uses) for uses in owners.values() if len(uses) > 1]
        self._names = {id(m): n for n, m in self.layers}
        tied = {n for tie in self.ties for n in tie[:2]}
        # layers whose batch gradient the tracker forms itself from the captures (capture(shared=True)): the
        # dense ones (LinearRule and Conv1D's), each weight its own
        self._shareable = [(n, m) for n, m in self.layers if isinstance(rule_for(m), LinearRule) and n not in tied]
        self._unshared: list[tuple[Captures, list[tuple[str, nn.Module, list[str]]]]] = []
        self._phase: str | None = None
        self._train: list[Captures] = []   # one entry per micro-batch
        self._target: Captures = {}
        self._dual: list = []
        self._handles = [m.register_forward_hook(self._forward_hook) for _, m in self.layers]

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def param_names(self) -> dict[tuple[str, str], str]:
        """(layer, parameter attribute) → the parameter's name in ``model.named_parameters()`` (a tied
        weight has one name, used by both layers)."""
        return dict(self._param_names)

    def _tie(self, uses: list[tuple[str, str]]) -> tuple[str, str, str]:
        """A weight shared by an embedding and an output head (GPT-2's tied embeddings):
        (embedding layer, head layer, head kind). Any other sharing is refused."""
        kinds = {name: self._modules[name] for name, _ in uses}
        emb = [n for n, m in kinds.items() if isinstance(m, nn.Embedding)]
        head = [n for n, m in kinds.items() if not isinstance(m, nn.Embedding) and hasattr(rule_for(m), "_weight")]
        if len(uses) != 2 or len(emb) != 1 or len(head) != 1 or any(a != "weight" for _, a in uses):
            raise UnsupportedModel(f"parameter shared by {', '.join(repr(n) for n, _ in uses)} (tied weights other "
                                   "than an embedding and its output head)")
        module = self._modules[head[0]]
        return emb[0], head[0], "conv1d" if rule_for(module)._weight(module)[1] else "linear"

    @contextmanager
    def capture(self, phase: str, shared: bool = False):
        """Record ``a`` and ``b`` of every tracked layer for the forward run inside this block.

        ``"train"``: one micro-batch of training samples. ``"target"``: the generations; parameters are
        frozen inside, so the targets' graph reaches no parameter and leaves ``.grad`` alone.

        ``shared`` (train): the dense layers' parameters are frozen too, so autograd skips their weight
        gradients, and ``share_grads()`` forms them after the backward from the per-sample gradients, which
        the dot products then reuse: the per-sample gradients a dense layer's values need are the batch
        gradient's own terms, so they cost nothing beyond summing them (GhostSuite, likewise, forms the
        training gradient itself from its captures)."""
        if phase not in ("train", "target"):
            raise ValueError(phase)
        if phase == "train":
            self._train.append({})
        else:
            self._target = {}
        params = [p for p in self.model.parameters() if p.requires_grad] if phase == "target" else []
        if phase == "train" and shared:
            layers = [(n, m, [a for a, q in m.named_parameters(recurse=False) if q.requires_grad])
                      for n, m in self._shareable]
            layers = [entry for entry in layers if entry[2]]
            self._unshared.append((self._train[-1], layers))
            params = [getattr(m, a) for _, m, attrs in layers for a in attrs]
        for p in params:
            p.requires_grad_(False)
        self._phase = phase
        try:
            yield
        finally:
            for p in params:
                p.requires_grad_(True)
            self._phase = None

    def share_grads(self) -> None:
        """After the training backward: add the batch gradient of the layers frozen by ``capture("train",
        shared=True)`` to ``.grad`` (micro-batches in order, calls summed), keeping each call's per-sample
        weight gradients in its capture for the dot products. A no-op when nothing is pending.

        At most ``SHARED_MAX_ELEMENTS`` per-sample numbers are kept a step, in layer order (a layer beyond
        that gets one product over its tokens, as autograd's, and its dot products form them again), so
        which layers keep them depends on the batch's shapes alone: a plain step takes the same path as a
        tracked one, to the last bit."""
        if not self._unshared:
            return
        budget = SHARED_MAX_ELEMENTS
        for mb, layers in self._unshared:
            for name, module, attrs in layers:
                rule = rule_for(module)
                for slot in mb.get(name, []):
                    if slot["b"] is None:
                        continue
                    n = slot["a"].shape[0] * math.prod(rule._weight(module)[0].shape)
                    keep = n <= budget
                    budget -= n if keep else 0
                    grads, slot["per_sample"] = rule.batch_grads(module, slot["a"], slot["b"], keep)
                    for attr in attrs:
                        p, g = getattr(module, attr), grads[attr].to(getattr(module, attr).dtype)
                        if p.grad is None:
                            p.grad = g
                        else:
                            p.grad.add_(g)
        self._unshared = []

    def _forward_hook(self, module, inputs, output):
        if self._phase is None:
            return None
        name = self._names[id(module)]
        if not output.requires_grad and output.grad_fn is None:
            # First layer of a frozen target pass (an embedding of integer ids): make its output a
            # leaf that asks for a gradient, so b flows back to it and to every layer after it.
            output = output.requires_grad_(True)
        if self._phase == "dual":  # forward-over-reverse pass: keep the dual tensors as they are
            self._dual.append((name, inputs[0], output))
            return output
        slot = {"a": _full(inputs[0].detach()), "b": None}
        store = self._train[-1] if self._phase == "train" else self._target
        store.setdefault(name, []).append(slot)

        def keep_grad(grad, slot=slot):
            slot["b"] = _full(grad.detach())

        output.register_hook(keep_grad)
        return output

    # -- first order: per-sample gradient · per-target gradient ------------------------------------

    def dots(self, dtype: torch.dtype = torch.float64, train: list[Captures] | None = None) -> torch.Tensor:
        """``[N, M]`` inner products of per-sample training gradients with per-target gradients
        (N = samples of every micro-batch captured since the last ``clear``, in order; or of ``train``, the
        captures of an earlier step kept by ``take_train``). A tied weight's per-sample gradient is the sum
        of its two uses, so the cross terms between them are added."""
        train = self._train if train is None else train
        out = self._per_micro_batch(lambda name, module, x: _sum(
            rule_for(module).pair_dots(module, x["a"], x["b"], y["a"], y["b"], **kept(x))
            for y in self._target.get(name, []) if _has_grad(name, x, y)), dtype, train)
        if self.ties:
            from attribcli.inrun.hf_rules import tied_embedding_head_dots

            rows = []
            for mb in train:
                total = None
                for emb, head, kind in self.ties:
                    for ex in mb.get(emb, []):
                        for hx in mb.get(head, []):
                            for ey in self._target.get(emb, []):
                                for hy in self._target.get(head, []):
                                    total = _add(total, tied_embedding_head_dots(
                                        self._modules[emb], ex["a"], ex["b"], ey["a"], ey["b"], kind,
                                        hx["a"], hx["b"], hy["a"], hy["b"]))
                rows.append(total)
            if all(r is not None for r in rows):
                out = out + torch.cat(rows).to(dtype)
        return out

    def layer_dots(self, name: str) -> torch.Tensor | None:
        """One layer's contribution to ``dots()`` (for tests and diagnostics)."""
        module = self._modules[name]
        parts = [_sum(rule_for(module).pair_dots(module, x["a"], x["b"], y["a"], y["b"])
                      for x in mb.get(name, []) for y in self._target.get(name, [])) for mb in self._train]
        parts = [p for p in parts if p is not None]
        return torch.cat(parts) if parts else None

    def routes(self) -> dict[str, str]:
        """How each layer's dot products are computed for the current shapes (for the run log)."""
        out = {}
        for name, module in self.layers:
            xs, ys = (self._train[0].get(name) if self._train else None), self._target.get(name)
            if xs and ys:
                out[name] = rule_for(module).route(module, xs[0]["a"], ys[0]["a"], **kept(xs[0]))
        return out

    # -- directions: per-target vectors that are not plain gradients (optimizer rules, second order) --

    def target_grads(self) -> dict[str, dict[str, torch.Tensor]]:
        """``{layer: {param: [M, *shape]}}``: each target's gradient (M of them, none per sample)."""
        out: dict[str, dict[str, torch.Tensor]] = {}
        for name, module in self.layers:
            for y in self._target.get(name, []):
                out[name] = _merge(out.get(name), rule_for(module).target_grads(module, y["a"], y["b"]))
        return self._tied_total(out)

    def units(self) -> list[tuple[str, ...]]:
        """The tracked layers grouped by the weights they share: one layer each, a tied embedding with its
        head as one unit (a tied weight's gradient is the sum of both uses: its direction is formed for both)."""
        tied = {n: tie[:2] for tie in self.ties for n in tie[:2]}
        out, seen = [], set()
        for name, _ in self.layers:
            unit = tied.get(name, (name,))
            if unit not in seen:
                seen.add(unit)
                out.append(unit)
        return out

    def unit_size(self, unit: tuple[str, ...]) -> int:
        """Trainable numbers of a unit's layers (a tied weight once)."""
        params = {id(p): p.numel() for n in unit for p in self._modules[n].parameters(recurse=False) if p.requires_grad}
        return sum(params.values())

    def shareable_size(self) -> int:
        """Weight numbers of the dense layers whose per-sample gradients ``share_grads`` may keep (one sample's)."""
        return sum(math.prod(rule_for(m).dims(m)) for _, m in self._shareable
                   if any(p.requires_grad for p in m.parameters(recurse=False)))

    def target_count(self) -> int:
        """M: the targets of the current target captures."""
        for slots in self._target.values():
            for y in slots:
                return y["a"].shape[0]
        raise RuntimeError("nothing captured: run the target pass first")

    def unit_target_grads(self, unit: tuple[str, ...], rows: slice) -> dict[str, dict[str, torch.Tensor]]:
        """``{layer: {param: [m, *shape]}}``: the gradients of targets ``rows`` for one unit's layers only."""
        out: dict[str, dict[str, torch.Tensor]] = {}
        for name in unit:
            module = self._modules[name]
            for y in self._target.get(name, []):
                _has_grad(name, y, y)
                out[name] = _merge(out.get(name), rule_for(module).target_grads(module, y["a"][rows], y["b"][rows]))
        return self._tied_total(out)

    def target_slots(self, name: str) -> list[dict]:
        """The current target captures of one layer (one slot per call)."""
        return self._target.get(name, [])

    def module(self, name: str) -> nn.Module:
        return self._modules[name]

    def _tied_total(self, D: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, torch.Tensor]]:
        """Per-target direction of a tied weight = the sum of its two uses' parts, seen by both layers."""
        for emb, head, _ in self.ties:
            if emb in D and head in D:
                total = D[emb]["weight"] + D[head]["weight"]
                D[emb] = {**D[emb], "weight": total}
                D[head] = {**D[head], "weight": total}
        return D

    def direction_dots(self, D: dict[str, dict[str, torch.Tensor]], dtype=torch.float64,
                       train: list[Captures] | None = None) -> torch.Tensor:
        """``[N, M]``: each training sample's gradient dotted with each target's direction ``D``."""
        return self._per_micro_batch(lambda name, module, x: rule_for(module).direction_dots(
            module, x["a"], x["b"], D[name], **kept(x)) if name in D else None, dtype,
            self._train if train is None else train)

    def hessian_directions(self, target_losses_fn, inputs, tangent: dict[str, torch.Tensor],
                           at: dict[str, torch.Tensor] | None = None):
        """``{layer: {param: [M, *shape]}}`` = ``H_v · d`` for every target v, with ``d`` = ``tangent``
        (parameter name → tensor), in ONE forward-over-reverse pass over the targets.

        Parameters become dual numbers ``w + ε d``; the targets' forward and the backward to every
        layer output run on them, so each captured ``a`` and ``b`` carries its directional derivative
        ``(ȧ, ḃ)``. A layer's target gradient is a function of ``(a, b)`` (the rule's ``target_grads``);
        evaluated on the dual ``(a, b)`` its tangent is its derivative along d: the layer block of
        ``H_v d``. Targets stay separate rows throughout: no cross terms.

        ``target_losses_fn(forward, *inputs)`` must return the ``[M]`` target losses, calling
        ``forward(x)`` for the logits. ``at``: parameter values to expand around (default: current)."""
        params = {n: p.detach() for n, p in self.model.named_parameters()} | (at or {})
        self._dual = []
        result: dict[str, dict[str, torch.Tensor]] = {}
        with fwAD.dual_level():
            duals = {n: fwAD.make_dual(p, tangent[n].to(p.dtype)) if n in tangent else p for n, p in params.items()}
            self._phase = "dual"
            try:
                losses = target_losses_fn(lambda x: functional_call(self.model, duals, (x,)), *inputs)
            finally:
                self._phase = None
            grads = torch.autograd.grad(losses.sum(), [o for _, _, o in self._dual], allow_unused=True)
            for (name, a, _), b in zip(self._dual, grads):
                if b is None:
                    continue
                module = self._modules[name]
                with torch.no_grad():  # forward-mode tangents still flow; no reverse graph is needed
                    g = rule_for(module).target_grads(module, a, b)  # detach() would drop the tangents
                result[name] = _merge(result.get(name), {k: _tangent(v) for k, v in g.items()})
        self._dual = []
        return self._tied_total(result)

    def captured(self, phase: str) -> list[Captures]:
        """The captures of this step: the training micro-batches, or the targets as one batch."""
        return self._train if phase == "train" else [self._target]

    def take_train(self) -> list[Captures]:
        """The training captures of this step, handed over and forgotten here: the path rule dots them with
        the next step's target captures (the gradient at the step's end point)."""
        train, self._train = self._train, []
        return train

    def clear(self) -> None:
        self._train, self._target, self._unshared = [], {}, []

    def _per_micro_batch(self, layer_fn, dtype, train: list[Captures]) -> torch.Tensor:
        rows = []
        for mb in train:
            total = None
            for name, module in self.layers:
                for x in mb.get(name, []):
                    total = _add(total, layer_fn(name, module, x))
            if total is not None:
                rows.append(total)
        if not rows:
            raise RuntimeError("nothing captured: run both capture phases and backward first")
        return torch.cat(rows).to(dtype)


def loss_jvp(model: nn.Module, target_losses_fn, inputs, tangent: dict[str, torch.Tensor],
             at: dict[str, torch.Tensor]) -> torch.Tensor:
    """``[M]`` directional derivatives of the target losses at ``at`` along ``tangent`` (forward mode only)."""
    with fwAD.dual_level(), torch.no_grad():
        duals = {n: fwAD.make_dual(at[n], tangent[n].to(at[n].dtype)) if n in tangent else at[n] for n in at}
        losses = target_losses_fn(lambda x: functional_call(model, duals, (x,)), *inputs)
        return _tangent(losses)


def _full(t: torch.Tensor) -> torch.Tensor:
    """Captures from bf16/fp16 autocast are upcast: dot products accumulate over many tokens."""
    return t.float() if t.dtype in (torch.bfloat16, torch.float16) else t


def kept(x: dict) -> dict:
    """The rule's keyword for a capture's kept per-sample weight gradients (``share_grads``), if any."""
    return {"per_sample": x["per_sample"]} if x.get("per_sample") is not None else {}


def _has_grad(name, x, y) -> bool:
    if x["b"] is None or y["b"] is None:
        raise RuntimeError(f"no gradient reached layer '{name}': call backward() first")
    return True


def _tangent(t: torch.Tensor) -> torch.Tensor:
    primal, tangent = fwAD.unpack_dual(t)
    return torch.zeros_like(primal) if tangent is None else tangent.clone()


def _merge(a: dict | None, b: dict) -> dict:
    return b if a is None else {k: a[k] + b[k] for k in b}


def _sum(xs):
    total = None
    for x in xs:
        total = _add(total, x)
    return total


def _add(total, x):
    if x is None:
        return total
    return x if total is None else total + x
