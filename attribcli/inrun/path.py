"""The path rule: each step valued by the integral of the generation's gradient along the step itself.

A step moves the weights on a straight line, ``w(α) = w_t − α Δ_t`` with ``Δ_t = Σ_z u_z + c`` (each
sample's share and the carry, optim.py), so the realised change of a generation's loss is exactly

    l_v(w_t) − l_v(w_{t+1}) = ∫₀¹ <Δ_t, ∇l_v(w(α))> dα = Σ_z φ_t(z, v) + ∫₀¹ <c, ∇l_v(w(α))> dα,
    φ_t(z, v) = ∫₀¹ <u_z, ∇l_v(w(α))> dα

(the Aumann–Shapley value of the step's utility: every sample's share grows together along the step). The
integral is taken by the trapezoid rule: ``φ ≈ ½<u_z, ∇l_v(w_t)> + ½<u_z, ∇l_v(w_{t+1})>``. The gradient at
``w_t`` is this step's target pass; the one at ``w_{t+1}`` is the next step's, which it runs anyway: the
step's training captures and scale K are kept one step longer (an :class:`OpenStep`) and dotted with the
next step's target captures, so no pass is added and no Hessian is formed. Its Taylor expansion is the
first-order value plus the second-order term of step.py; unlike that expansion it uses the gradient the
step actually reached, so it stays close at step sizes where the expansion breaks down.

The realised change is known when the step closes, so the quadrature's error on each generation is
measured, not assumed: where ``|realised − Σ_z φ − carry|`` exceeds ``tolerance`` of the step's scale, the
step's interval is halved (one pass of those generations at each new node ``w(α)``, the weights set there and restored
bit for bit) and the values become the composite Simpson rule on the nodes (Richardson's step on the last
two trapezoids: exact for cubics), up to ``max_nodes``. Which generations are refined depends on each one's own
residual only, so values do not depend on target chunks or on which other generations are valued.

A step is closed by the next step's target pass, or, when ``close`` is asked (a checkpoint, the last step), by
an extra target pass at its end point: nothing of an open step has to be checkpointed, and a resumed run
takes the same passes as one that was never stopped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from attribcli.inrun.optim import PerParameter, UpdateRule
from attribcli.inrun.step import (
    Batch,
    Observer,
    SequenceLosses,
    Shard,
    StepResult,
    autocast_context,
    chunk_slices,
    forward_train,
    step_dots,
    target_pass,
)
from attribcli.inrun.stream import Job
from attribcli.inrun.tracker import GhostTracker

FLOOR_EPS = 64  # residuals within this many float epsilons of the loss are rounding, not quadrature error


@dataclass
class OpenStep:
    """A step taken whose end-point gradient is still to come. It holds one copy of the trained weights (``before``)
    and no other parameter-sized state: its scale is re-formed from the optimizer's state (optim.AdamScale,
    ``taken``) and its update ``Δ = before − the weights it reached`` per layer when read."""

    tag: object                  # the caller's label, returned with the step's result
    train: list                  # the step's training captures (tracker.take_train)
    K: dict                      # its optimizer scale (optim.py), readable until the next optimizer step
    start: np.ndarray            # [n, M] <u_z, ∇l_v(w_t)>
    carry_start: np.ndarray      # [M] <c, ∇l_v(w_t)>
    has_carry: bool              # whether the step's update has a carry (else its carry is 0 at every node)
    before: dict                 # w_t of every trained parameter
    loss_before: np.ndarray      # [M]
    train_loss: float
    routes: dict | None = None
    eps: float = field(default=0.0)  # float epsilon of the loss's dtype


@dataclass(frozen=True)
class PathSettings:
    tolerance: float = 0.02      # refine while |residual| > tolerance × the step's scale
    max_nodes: int = 17          # 2^k + 1: the nodes after k halvings of the step

    def __post_init__(self):
        if self.max_nodes < 2 or (self.max_nodes - 1) & (self.max_nodes - 2) or self.tolerance <= 0:
            raise ValueError(f"max_nodes must be 2^k + 1 and tolerance positive: {self}")


def path_step(model, tracker: GhostTracker, optimizer, rule: UpdateRule, micro_batches: list[Batch],
              targets: Batch, *, losses: SequenceLosses, opened: OpenStep | None = None, close: bool = False,
              tag=None, settings: PathSettings = PathSettings(), target_chunk: int | None = None,
              want_routes: bool = False, autocast: torch.dtype | None = None,
              shard: Shard | None = None, observe: Observer | None = None) -> tuple[list[StepResult], OpenStep | None]:
    """Take one optimizer step. Returns the steps closed by it (the one ``opened`` before, then this one
    if ``close``), each a :class:`StepResult` whose ``first`` holds the path values, and this step if open."""
    n = sum(b[0].shape[0] for b in micro_batches)
    M = targets[0].shape[0]
    chunks = chunk_slices(M, target_chunk)
    amp = autocast_context(targets[0].device.type, autocast)
    optimizer.zero_grad(set_to_none=True)
    train_loss, pending = forward_train(model, tracker, micro_batches, losses=losses, amp=amp, shard=shard,
                                        keep_graph=len(micro_batches) == 1 and len(chunks) == 1)
    names = tracker.param_names()
    start, carry_start, v_losses, K, routes = np.zeros((n, M)), np.zeros(M), np.zeros(M), None, None
    end = _Ends(opened, M, shard)
    for sl in chunks:
        vl = target_pass(model, tracker, tuple(t[sl] for t in targets), losses=losses, amp=amp, pending=pending)
        pending = None
        K = K if K is not None else rule.scale(optimizer)
        jobs = [Job(tracker.captured("train"), K)] + ([Job(opened.train, opened.K)] if opened else [])
        vectors = ([rule.carry(optimizer, K)] if rule.has_carry else []) + end.vectors(model)
        dots, carried = step_dots(tracker, jobs, vectors, names)
        start[:, sl] = dots[0].cpu().numpy()
        if rule.has_carry:
            carry_start[sl] = carried.pop(0).cpu().numpy()
        if opened is not None:
            end.add(sl, dots[1], carried)
        if want_routes and routes is None:
            routes = tracker.routes()
        v_losses[sl] = vl.detach().double().cpu().numpy()
    train = tracker.take_train()  # before any node's pass: the current step's captures are its own
    closed = []
    if opened is not None:
        closed.append(_close(opened, end, v_losses, model, tracker, names, targets, chunks, losses, amp,
                             settings, shard))
    params = dict(model.named_parameters())
    before = {nm: p.detach().clone() for nm, p in params.items() if p.grad is not None}
    if observe:
        observe(train, optimizer)
    optimizer.step()
    current = OpenStep(tag, train, rule.scale_taken(optimizer, K), start, carry_start, rule.has_carry, before,
                       v_losses, train_loss, routes, eps=_eps(model, autocast))
    tracker.clear()
    if not close:
        return closed, current
    closed.append(close_open(current, model, tracker, targets, losses=losses, settings=settings,
                             target_chunk=target_chunk, autocast=autocast, shard=shard))
    return closed, None


def close_open(opened: OpenStep, model, tracker: GhostTracker, targets: Batch, *, losses: SequenceLosses,
               settings: PathSettings = PathSettings(), target_chunk: int | None = None,
               autocast: torch.dtype | None = None, shard: Shard | None = None) -> StepResult:
    """Close ``opened`` with a target pass of its own at its end point (the current weights)."""
    M = targets[0].shape[0]
    chunks = chunk_slices(M, target_chunk)
    amp = autocast_context(targets[0].device.type, autocast)
    names = tracker.param_names()
    end, v_losses = _end_pass(opened, model, tracker, names, targets, chunks, losses, amp, shard)
    result = _close(opened, end, v_losses, model, tracker, names, targets, chunks, losses, amp, settings, shard)
    tracker.clear()
    return result


def _end_pass(o: OpenStep, model, tracker, names, targets, chunks, losses, amp, shard,
              reached: dict | None = None) -> tuple["_Ends", np.ndarray]:
    """A target pass at the current weights, dotted with the open step's samples and carry; with the losses.
    ``reached``: the weights the step reached, when the current ones are a node between (default: current)."""
    end, v_losses = _Ends(o, targets[0].shape[0], shard, reached), np.zeros(targets[0].shape[0])
    for sl in chunks:
        vl = target_pass(model, tracker, tuple(t[sl] for t in targets), losses=losses, amp=amp)
        dots, carried = step_dots(tracker, [Job(o.train, o.K)], end.vectors(model), names)
        end.add(sl, dots[0], carried)
        v_losses[sl] = vl.detach().double().cpu().numpy()
    return end, v_losses


class _Ends:
    """The open step's dots at a later point (its end, or a node), filled chunk by chunk. Its carry there is
    ``<Δ, ∇l_v> − Σ_z <u_z, ∇l_v>`` (``Δ = Σ_z u_z + c``), with ``Δ`` read per layer from the weights before the
    step and the ones it reached: no carry vector is kept between steps."""

    def __init__(self, opened: OpenStep | None, M: int, shard: Shard | None, reached: dict | None = None):
        self.opened, self.shard, self.reached = opened, shard, reached
        n = opened.start.shape[0] if opened else 0
        self.dots, self.carry = np.zeros((n, M)), np.zeros(M)

    def vectors(self, model) -> list:
        """``[Δ]`` when the open step has a carry (the stream dots it with the targets' gradients), else []."""
        if self.opened is None or not self.opened.has_carry:
            return []
        reached = self.reached if self.reached is not None else {nm: p.detach() for nm, p in model.named_parameters()}
        return [_Update(self.opened.before, reached)]

    def add(self, sl, dots: torch.Tensor, carried: list) -> None:
        self.dots[:, sl] = dots.cpu().numpy()
        if carried:
            self.carry[sl] = carried[0].cpu().numpy() - _total(self.dots[:, sl], 0.0, self.shard)


class _Update(PerParameter):
    """``Δ = before − reached`` per trained parameter name, formed when read."""

    def __init__(self, before: dict, reached: dict):
        self._params, self._reached = before, reached

    def part(self, name: str, index) -> torch.Tensor:
        return self._params[name][index] - self._reached[name][index]


def _close(o: OpenStep, end: _Ends, loss_after: np.ndarray, model, tracker, names, targets, chunks, losses, amp,
           settings: PathSettings, shard: Shard | None) -> StepResult:
    """The trapezoid values of ``o``, with the interval halved for the generations whose residual is large."""
    world = shard.group.world if shard else 1
    M = len(loss_after)
    realised = o.loss_before - loss_after
    values, carry = 0.5 * (o.start + end.dots), 0.5 * (o.carry_start + end.carry)
    scale = np.maximum(np.abs(realised), 0.5 * (np.abs(_total(o.start, o.carry_start, shard))
                                                 + np.abs(_total(end.dots, end.carry, shard))))
    floor = FLOOR_EPS * o.eps * np.maximum(np.abs(o.loss_before), 1.0)
    nodes = np.full(M, 2)

    def off(v, c):
        return np.abs(realised - _total(v, c, shard)) > settings.tolerance * scale + floor

    need = off(values, carry)
    inner, inner_carry = np.zeros_like(values), np.zeros(M)
    trapezoid = (values.copy(), carry.copy())
    levels = int(math.log2(settings.max_nodes - 1))
    for level in range(1, levels + 1):
        if not need.any():
            break
        which, sub, sub_chunks = _needing(need, targets, chunks)
        for k in range(1, 2 ** level, 2):  # the new nodes: odd multiples of 2^-level
            d, c = _node(o, k / 2 ** level, model, tracker, names, sub, sub_chunks, losses, amp, shard)
            inner[:, which] += d
            inner_carry[which] += c
        h = 1.0 / 2 ** level
        finer = (h * (0.5 * (o.start + end.dots) + inner), h * (0.5 * (o.carry_start + end.carry) + inner_carry))
        # Richardson's step on two trapezoids: the composite Simpson rule, exact for cubics
        v_l, c_l = ((4 * f - t) / 3 for f, t in zip(finer, trapezoid))
        trapezoid = finer
        values[:, need], carry[need], nodes[need] = v_l[:, need], c_l[need], 2 ** level + 1
        need &= off(v_l, c_l)
    return StepResult(o.train_loss, o.loss_before, values / world, None, carry, o.routes, tag=o.tag, nodes=nodes,
                      loss_after=loss_after)


def _needing(need: np.ndarray, targets: Batch, chunks: list[slice]) -> tuple[np.ndarray, Batch, list[slice]]:
    """The generations still refined, as indices, their rows of the target batch and its chunks: a node's pass
    runs only those (the others' values are final), in chunks of the same size."""
    which = np.flatnonzero(need)
    if len(which) == len(need):
        return which, targets, chunks
    rows = torch.as_tensor(which, device=targets[0].device)
    size = chunks[0].stop - chunks[0].start if len(chunks) > 1 else None
    return which, tuple(t[rows] for t in targets), chunk_slices(len(which), size)


def _node(o: OpenStep, alpha: float, model, tracker, names, targets, chunks, losses, amp, shard):
    """Dots of the open step's samples (and carry) with the targets' gradients at ``w(α) = w_t − α Δ_t``."""
    params = dict(model.named_parameters())
    here = {nm: params[nm].detach().clone() for nm in o.before}
    try:
        with torch.no_grad():
            for nm in o.before:
                params[nm].copy_(o.before[nm] - alpha * (o.before[nm] - here[nm]))
        end, _ = _end_pass(o, model, tracker, names, targets, chunks, losses, amp, shard, reached=here)
    finally:
        with torch.no_grad():
            for nm, w in here.items():
                params[nm].copy_(w)
    return end.dots, end.carry


def _total(values: np.ndarray, carry: np.ndarray, shard: Shard | None) -> np.ndarray:
    """``[M]`` Σ over the whole global batch of the sample values plus the carry."""
    local = values.sum(0)
    if shard:  # NCCL reduces device tensors only
        device = next(shard.forward.parameters()).device
        local = shard.group.all_reduce(torch.from_numpy(local).to(device)).cpu().numpy() / shard.group.world
    return local + carry


def _eps(model, autocast: torch.dtype | None) -> float:
    """Float epsilon of the dtype the target losses are computed in."""
    return float(torch.finfo(autocast or next(model.parameters()).dtype).eps)
