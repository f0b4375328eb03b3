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
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn as nn
from torch.func import functional_call

from attribcli.inrun.rules import rule_for


class UnsupportedModel(ValueError):
    """The model has a trainable parameter no per-layer rule covers, or a weight shared by two layers."""


class GhostTracker:
    def __init__(self, model: nn.Module):
        self.model = model
        self.layers: list[tuple[str, nn.Module]] = []
        owners: dict[int, str] = {}
        for name, module in model.named_modules():
            own = [p for p in module.parameters(recurse=False) if p.requires_grad]
            if not own:
                continue
            if rule_for(module) is None:
                raise UnsupportedModel(
                    f"layer '{name}' ({type(module).__name__}) has trainable parameters and no in-run rule")
            for p in own:
                if id(p) in owners:
                    raise UnsupportedModel(f"parameter shared by '{owners[id(p)]}' and '{name}' (tied weights)")
                owners[id(p)] = name
            self.layers.append((name, module))
        self._phase: str | None = None
        self._store: dict[str, dict[str, list]] = {}
        self._dual: list = []
        self._handles = [m.register_forward_hook(self._forward_hook) for _, m in self.layers]
        self._names = {id(m): n for n, m in self.layers}

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    @contextmanager
    def capture(self, phase: str):
        """Record ``a`` and ``b`` of every tracked layer for the forward run inside this block.

        ``phase="target"`` also freezes the parameters, so the targets' graph reaches no parameter."""
        if phase not in ("train", "target", "dual"):
            raise ValueError(phase)
        self._phase = phase
        params = [p for p in self.model.parameters() if p.requires_grad] if phase == "target" else []
        for p in params:
            p.requires_grad_(False)
        try:
            yield
        finally:
            for p in params:
                p.requires_grad_(True)
            self._phase = None

    def _forward_hook(self, module, inputs, output):
        if self._phase is None:
            return None
        phase, name = self._phase, self._names[id(module)]
        if not output.requires_grad and output.grad_fn is None:
            # First layer of a frozen target pass (an embedding of integer ids): make its output a
            # leaf that asks for a gradient, so b flows back to it and to every layer after it.
            output = output.requires_grad_(True)
        if phase == "dual":  # forward-over-reverse pass: keep the dual tensors, b comes from autograd.grad
            self._dual.append((name, inputs[0], output))
            return output
        slot = {"a": inputs[0].detach(), "b": None}
        self._store.setdefault(name, {"train": [], "target": []})[phase].append(slot)

        def keep_grad(grad, slot=slot):
            slot["b"] = grad.detach()

        output.register_hook(keep_grad)
        return output

    def dots(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """``[N, M]`` inner products of per-sample training gradients with per-target gradients."""
        total = None
        for name, module in self.layers:
            total = _add(total, self.layer_dots(name, module))
        if total is None:
            raise RuntimeError("nothing captured: run both capture phases and backward first")
        return total.to(dtype)

    def layer_dots(self, name: str, module: nn.Module) -> torch.Tensor | None:
        store = self._store.get(name)
        if not store or not store["train"] or not store["target"]:
            return None
        rule = rule_for(module)
        out = None
        for x in store["train"]:          # a layer called several times: per-sample grad is the sum
            for y in store["target"]:     # over calls, so the inner product is the sum over pairs
                if x["b"] is None or y["b"] is None:
                    raise RuntimeError(f"no gradient reached layer '{name}': call backward() first")
                out = _add(out, rule.pair_dots(module, x["a"], x["b"], y["a"], y["b"]))
        return out

    def routes(self) -> dict[str, str]:
        """How each layer's dot products were computed in the last step (for the run log)."""
        out = {}
        for name, module in self.layers:
            store = self._store.get(name)
            if store and store["train"] and store["target"]:
                out[name] = rule_for(module).route(module, store["train"][0]["a"], store["target"][0]["a"])
        return out

    # -- directions: per-target vectors that are not plain gradients (optimizer rules, second order) --

    def target_grads(self) -> dict[str, dict[str, torch.Tensor]]:
        """``{layer: {param: [M, *shape]}}``: each target's gradient (M of them, none per sample)."""
        out = {}
        for name, module in self.layers:
            rule = rule_for(module)
            for y in self._store.get(name, {}).get("target", []):
                g = rule.target_grads(module, y["a"], y["b"])
                out[name] = g if name not in out else {k: out[name][k] + g[k] for k in g}
        return out

    def direction_dots(self, D: dict[str, dict[str, torch.Tensor]], dtype=torch.float64) -> torch.Tensor:
        """``[N, M]``: each training sample's gradient dotted with each target's direction ``D``."""
        total = None
        for name, module in self.layers:
            if name not in D:
                continue
            rule = rule_for(module)
            for x in self._store.get(name, {}).get("train", []):
                total = _add(total, rule.direction_dots(module, x["a"], x["b"], D[name]))
        if total is None:
            raise RuntimeError("nothing captured for direction_dots")
        return total.to(dtype)

    def hessian_directions(self, target_losses_fn, inputs, tangent: dict[str, torch.Tensor]):
        """``{layer: {param: [M, *shape]}}`` = ``H_v · d`` for every target v, with ``d`` = ``tangent``
        (parameter name → tensor), in ONE forward-over-reverse pass over the targets.

        Parameters become dual numbers ``w + ε d``; the targets' forward and the backward to every
        layer output run on them, so each captured ``a`` and ``b`` carries its directional derivative
        ``(ȧ, ḃ)``. A layer's target gradient is a function of ``(a, b)`` (the rule's ``target_grads``);
        evaluated on the dual ``(a, b)`` its tangent is its derivative along d: the layer block of
        ``H_v d``. Targets stay separate rows throughout: no cross terms."""
        params = dict(self.model.named_parameters())
        self._dual = []
        with fwAD.dual_level():
            duals = {n: fwAD.make_dual(p.detach(), tangent[n].to(p.dtype)) if n in tangent else p.detach()
                     for n, p in params.items()}
            self._phase = "dual"
            try:
                losses = target_losses_fn(lambda x: functional_call(self.model, duals, (x,)), *inputs)
            finally:
                self._phase = None
            outs = [o for _, _, o in self._dual]
            grads = torch.autograd.grad(losses.sum(), outs, allow_unused=True)
            result: dict[str, dict[str, torch.Tensor]] = {}
            modules = dict(self.layers)
            for (name, a, _), b in zip(self._dual, grads):
                if b is None:
                    continue
                module = modules[name]
                with torch.no_grad():  # forward-mode tangents still flow; no reverse graph is needed
                    g = rule_for(module).target_grads(module, a, b)  # detach() would drop the tangents
                h = {k: _tangent(v) for k, v in g.items()}
                result[name] = h if name not in result else {k: result[name][k] + h[k] for k in h}
        self._dual = []
        return result

    def clear(self) -> None:
        self._store = {}


def _tangent(t: torch.Tensor) -> torch.Tensor:
    primal, tangent = fwAD.unpack_dual(t)
    return torch.zeros_like(primal) if tangent is None else tangent.clone()


def _add(total, x):
    if x is None:
        return total
    return x if total is None else total + x
