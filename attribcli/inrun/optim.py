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

    def scale(self, optimizer: torch.optim.Optimizer) -> dict[str, float | torch.Tensor]:
        """``K`` per parameter name for the step about to be taken (gradients must be in ``.grad``)."""
        out: dict[str, float | torch.Tensor] = {}
        names = optimizer.param_names
        for group in optimizer.param_groups:
            lr = group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if self.name == "sgd":
                    out[names[p]] = lr
                    continue
                out[names[p]] = adamw_scale(p.grad, optimizer.state.get(p, {}), lr, *group["betas"], group["eps"])
        return out


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
