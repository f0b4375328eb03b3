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
import torch.nn as nn

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
        if phase not in ("train", "target"):
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
        if not output.requires_grad:
            # First layer of the frozen target pass (an embedding of integer ids): make its output a
            # leaf that asks for a gradient, so b flows back to it and to every layer after it.
            output = output.detach().requires_grad_(True)
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

    def clear(self) -> None:
        self._store = {}


def _add(total, x):
    if x is None:
        return total
    return x if total is None else total + x
