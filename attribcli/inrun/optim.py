"""Optimizer rules: which part of a step's update belongs to which training sample.

The update a step applies is ``Δw = Σ_z u_z + c``: each sample of the batch owns a share ``u_z``, a
linear function of its gradient, ``u_z = K ⊙ ∇(l_z / B)``, and the rest ``c`` (the *carry*: momentum
from earlier batches, weight decay) belongs to no sample of this batch. A rule gives ``K`` for the
current step, computed from the optimizer state *before* the step so it can be applied to each
target while the target's captures exist.

- SGD (momentum μ, weight decay λ, as torch.optim.SGD): ``K = η``; the carry is ``η(μ·buf + λw)``.
  With μ = λ = 0 there is no carry and first-order values are the exact first-order Shapley values of
  each step's loss reduction (Wang et al., 2024).
- AdamW (torch.optim.AdamW): the current gradient enters ``m_t`` with weight ``1 − β1`` and the step
  divides by ``√v̂_t + ε``, so ``K = η (1 − β1) / (1 − β1^t) / (√(v_t / (1 − β2^t)) + ε)``, with ``v_t``
  including this step's squared batch gradient: the step's preconditioner held fixed (linearized Adam).
  benchmarks/adam_fidelity.py measures it against leave-one-out steps, next to the exact derivative of
  the update in g (which also moves v̂) and the naive SGD proxy: the fixed preconditioner predicted best.
  The carry is the momentum of earlier batches plus the decoupled decay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import torch


class Hyperparameters(Protocol):
    """The optimizer settings a rule needs, as plain numbers: the engine reads no config file
    (attribcli.config.TrainingConfig has these fields; a test or a peer benchmark may pass any object)."""

    optimizer: str        # "sgd" | "adamw"
    lr: float
    momentum: float
    weight_decay: float
    beta1: float
    beta2: float
    eps: float


@dataclass(frozen=True)
class UpdateRule:
    name: str
    formula: str
    approximates: str
    has_carry: bool

    def make(self, params, t: Hyperparameters) -> torch.optim.Optimizer:
        if self.name == "adamw":
            return torch.optim.AdamW(params, lr=t.lr, betas=(t.beta1, t.beta2), eps=t.eps,
                                     weight_decay=t.weight_decay)
        return torch.optim.SGD(params, lr=t.lr, momentum=t.momentum, weight_decay=t.weight_decay)

    def scale(self, optimizer: torch.optim.Optimizer) -> "dict[str, float] | AdamScale":
        """``K`` per parameter name for the step about to be taken (gradients must be in ``.grad``). Under
        AdamW a lazy mapping: each parameter's ``K`` is formed when read, so a whole-model copy is never held."""
        if self.name == "adamw":
            return AdamScale(optimizer, taken=False)
        names = optimizer.param_names
        return {names[p]: group["lr"] for group in optimizer.param_groups for p in group["params"]
                if p.grad is not None}

    def scale_taken(self, optimizer: torch.optim.Optimizer, before: "dict[str, float] | AdamScale"):
        """``K`` of the step just taken, for reading after ``optimizer.step()`` until the next one (the path
        rule's end point): under AdamW re-formed from the second moment the step left in the optimizer's state
        (``before``: the mapping ``scale`` gave before the step, for its learning rates); SGD's numbers as they were."""
        return AdamScale(optimizer, taken=True, lrs=before.lrs) if isinstance(before, AdamScale) else before

    def carry(self, optimizer: torch.optim.Optimizer, scale: "AdamScale | None" = None) -> "Carry":
        """The carry ``c`` of the step about to be taken, per parameter name, formed when read from the
        optimizer's state (empty without a carry): ``Δw = K ⊙ g + c``. ``scale``: this step's ``scale``, whose
        last part formed is reused (AdamW's carry shares its denominator)."""
        return Carry(optimizer, self.name, scale) if self.has_carry else Carry(None, self.name)


    def split(self, optimizer: torch.optim.Optimizer) -> tuple[float, dict[str, torch.Tensor] | None]:
        """``K`` as (a number, a per-element preconditioner or None): ``K = factor ⊙ P``. The gradient index
        (training/index.py) stores each sample's gradient times the factor, step by step, and applies one
        segment's ``P`` on the generation's side (``<P ⊙ g_z, g_v> = <g_z, P ⊙ g_v>``). Gradients must be in
        ``.grad``; every parameter must share one learning rate (one group, as ``make`` builds)."""
        groups = [g for g in optimizer.param_groups if any(p.grad is not None for p in g["params"])]
        if len({g["lr"] for g in groups}) > 1:
            raise ValueError("the gradient index needs one learning rate for every parameter")
        group = groups[0]
        if self.name == "sgd":
            return float(group["lr"]), None
        names, b1, b2 = optimizer.param_names, *group["betas"]
        pre, step = {}, 1.0
        for p in group["params"]:
            if p.grad is not None:
                state = optimizer.state.get(p, {})
                step = float(state["step"]) + 1 if "step" in state else 1.0
                pre[names[p]] = 1.0 / (_v_hat(p.grad, state, b2, step).sqrt() + group["eps"])
        return float(group["lr"]) * (1 - b1) / (1 - b1 ** step), pre


class PerParameter(Mapping):
    """Parameter name → tensor, formed when read: a whole-model copy is never held. ``part(name, index)`` forms
    ``self[name][index]`` from that part of the inputs only (the stream reads a large layer in slices of rows)."""

    _params: dict

    def part(self, name: str, index) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.part(name, ...)

    def __contains__(self, name) -> bool:  # Mapping's own would form the tensor to answer
        return name in self._params

    def __iter__(self):
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)


class AdamScale(PerParameter):
    """AdamW's ``K`` per parameter name, formed when read (one parameter's worth of memory at a time).

    ``taken=False``: the step about to be taken, from the state and this step's gradient in ``.grad``;
    ``taken=True``: the step last taken, from the second moment it left in the state (valid until the next
    step: reading it later raises). The two agree up to the rounding of the state's own update."""

    def __init__(self, optimizer: torch.optim.Optimizer, taken: bool, lrs: dict | None = None):
        names = optimizer.param_names
        self._optimizer, self.taken = optimizer, taken
        self._params: dict[str, tuple] = {}
        self._last: tuple | None = None
        self.lrs = dict(lrs or {})
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None and not taken or p not in optimizer.state and taken:
                    continue
                name = names[p]
                self.lrs.setdefault(name, group["lr"])
                state = optimizer.state.get(p, {})
                step = float(state["step"]) if "step" in state else 0.0
                self._params[name] = (p, group, step)

    def part(self, name: str, index) -> torch.Tensor:
        """``self[name][index]``, formed from that part of the gradient and the state only (the last one formed
        is kept: the stream reads a layer's scale for the samples, then for the carry)."""
        if isinstance(index, torch.Tensor):  # rows by id (an embedding's): not kept, a tensor is no key
            return self._form(name, index)
        key = (name, repr(index))  # ..., a slice, or a tuple of slices
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        out = self._form(name, index)
        self._last = (key, out)
        return out

    def _form(self, name: str, index) -> torch.Tensor:
        p, group, step = self._params[name]
        state = _state_part(self._optimizer, p, index)
        b1, b2 = group["betas"]
        if not self.taken:
            return adamw_scale(p.grad[index], state, self.lrs[name], b1, b2, group["eps"])
        if float(state["step"]) != step:
            raise RuntimeError("the scale of a step was read after the optimizer took another one")
        v_hat = state["exp_avg_sq"] / (1 - b2 ** step)
        return (self.lrs[name] * (1 - b1) / (1 - b1 ** step)) / (v_hat.sqrt() + group["eps"])


class Carry(PerParameter):
    """The carry of the step about to be taken, per parameter name, formed when read (see ``UpdateRule.carry``):

    - AdamW: ``c = lr λ w + lr b1 m_{t-1} / ((1 - b1^t)(√v̂_t + ε))``, the decoupled decay and the momentum of
      earlier batches (torch.optim.AdamW's update less ``K ⊙ g``);
    - SGD: ``c = lr (λ w + μ buf)``, the decay and the momentum buffer of earlier batches (none at the first step).
    """

    def __init__(self, optimizer: torch.optim.Optimizer | None, kind: str, scale: AdamScale | None = None):
        self._optimizer, self._kind, self._params, self._scale = optimizer, kind, {}, scale
        if optimizer is None:
            return
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self._params[optimizer.param_names[p]] = (p, group)

    def part(self, name: str, index) -> torch.Tensor:
        """``self[name][index]``, formed from that part of the weights and the state only."""
        p, group = self._params[name]
        state = _state_part(self._optimizer, p, index)
        w = p.detach()[index]
        lr, decay = group["lr"], group["weight_decay"]
        if self._kind == "adamw":
            b1, b2 = group["betas"]
            step = float(state["step"]) + 1 if "step" in state else 1.0
            out = lr * decay * w
            if "exp_avg" in state:  # lr b1 / (1 − b1^t) / denom = K · b1 / (1 − b1)
                if self._scale is not None and name in self._scale:
                    out = out + self._scale.part(name, index) * (b1 / (1 - b1)) * state["exp_avg"]
                else:
                    denom = _v_hat(p.grad[index], state, b2, step).sqrt() + group["eps"]
                    out = out + (lr * b1 / (1 - b1 ** step)) * state["exp_avg"] / denom
            return out
        out = lr * decay * w
        buf = state.get("momentum_buffer")
        if buf is not None and group["momentum"]:
            out = out + lr * group["momentum"] * buf
        return out


def _state_part(optimizer: torch.optim.Optimizer, p, index) -> dict:
    """The optimizer's state of ``p`` at ``index`` (its step count as it is)."""
    return {k: v[index] if isinstance(v, torch.Tensor) and v.dim() else v
            for k, v in optimizer.state.get(p, {}).items()}


def _v_hat(g: torch.Tensor, state: dict, b2: float, step: float) -> torch.Tensor:
    """AdamW's bias-corrected second moment for the step about to be taken (this step's gradient included)."""
    v = state.get("exp_avg_sq", torch.zeros_like(g)) * b2 + (1 - b2) * g * g
    return v / (1 - b2 ** step)


def adamw_scale(g: torch.Tensor, state: dict, lr: float, b1: float, b2: float, eps: float) -> torch.Tensor:
    """Weight of the current batch gradient in the AdamW step about to be taken from ``state``."""
    step = float(state["step"]) + 1 if "step" in state else 1.0
    return (lr * (1 - b1) / (1 - b1 ** step)) / (_v_hat(g, state, b2, step).sqrt() + eps)


def update_rule(t: Hyperparameters) -> UpdateRule:
    if t.optimizer == "adamw":
        return UpdateRule(
            "adamw", "phi[z, v] += <K_t ⊙ grad(l_z / B), grad l_v>, K_t = lr (1-b1)/(1-b1^t) / (sqrt(v_hat_t) + eps)",
            "the sample's share of this step's AdamW update with the step's preconditioner held fixed "
            "(linearized Adam); momentum carried from earlier batches and weight decay are reported as carry",
            has_carry=True)
    plain = t.momentum == 0 and t.weight_decay == 0
    return UpdateRule(
        "sgd", "phi[z, v] += lr_t * <grad(l_z / B), grad l_v>",
        "exact first-order Shapley value of each step's loss reduction" if plain else
        "the sample's share (lr * its gradient) of this step's SGD update; momentum from earlier batches "
        "and weight decay are reported as carry",
        has_carry=not plain)


def attach_names(optimizer: torch.optim.Optimizer, model: torch.nn.Module) -> None:
    optimizer.param_names = {p: n for n, p in model.named_parameters()}
