"""One optimizer step with in-run valuation: forward, backward, per-sample values, the step itself.

First order: ``phi1[z, v] = <u_z, ∇l_v(w_t)>`` with ``u_z = K ⊙ ∇(l_z / B)`` the sample's share of the
update (see optim.py). Second order adds ``phi2[z, v] = -<u_z, H_v (c + ½ Σ_z' u_z')>``: expanding the
step's utility ``l_v(w) - l_v(w - c - Σ_S u)`` to second order, each sample keeps its own quadratic term,
pairwise terms are split equally, and its interaction with the carry ``c`` (which is present in every
coalition) is its own. ``H_v (c + ½ Σ u)`` is one forward-over-reverse pass over the targets per step,
shared by every sample. The carry's own first-order effect ``<c, ∇l_v>`` is reported per generation.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch

from attribcli.inrun.optim import PerParameter, UpdateRule
from attribcli.inrun.stream import Job, streamed_dots
from attribcli.inrun.tracker import GhostTracker

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # inputs, next-token targets, loss mask
# The task's loss: (model outputs, targets, mask) -> one loss per sequence, ``[B]``. The engine knows no
# model and no loss of its own (for a causal LM: attribcli.model.gpt.sequence_losses).
SequenceLosses = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# Called with the step's training captures and the optimizer, gradients in place, just before the update
# (the gradient index, training/index.py, projects the samples' gradients there).
Observer = Callable[[list, torch.optim.Optimizer], None]


class NonFiniteLoss(ArithmeticError):
    pass


@dataclass
class StepResult:
    train_loss: float
    target_losses: np.ndarray   # [M] before the step
    first: np.ndarray           # [N, M]
    second: np.ndarray | None   # [N, M] when order 2
    carry: np.ndarray           # [M] first-order reduction due to the carry (0 without one)
    routes: dict[str, str] | None = None
    tag: object = None          # the caller's label of the step (path.py returns steps one step late)
    nodes: np.ndarray | None = None       # [M] path rule: quadrature nodes used for each generation
    loss_after: np.ndarray | None = None  # [M] path rule: the target losses at the step's end point


@dataclass(frozen=True)
class Shard:
    """This process's part of a data-parallel step (training/distributed.py). Its samples' losses are scaled by
    ``world / global_n`` so that DDP's average of the processes' gradients is the global batch's mean
    gradient; the captured output gradients are then ``world`` times each sample's share, so the values
    are divided by ``world`` again (a power of two for 2, 4, 8 processes: exact)."""

    forward: object        # the DistributedDataParallel module: its backward all-reduces the gradient
    group: object          # distributed.Group: all_reduce for the loss check, world size
    global_n: int          # samples in the global batch, over every process


def tracked_step(model, tracker: GhostTracker, optimizer, rule: UpdateRule, micro_batches: list[Batch],
                 targets: Batch, *, losses: SequenceLosses, order: int = 1, target_chunk: int | None = None,
                 want_routes: bool = False, autocast: torch.dtype | None = None,
                 shard: Shard | None = None, tag=None, observe: Observer | None = None) -> StepResult:
    n = sum(b[0].shape[0] for b in micro_batches)
    M = targets[0].shape[0]
    chunks = chunk_slices(M, target_chunk)
    combined = len(micro_batches) == 1 and len(chunks) == 1  # the one-backward-pass path
    optimizer.zero_grad(set_to_none=True)
    amp = autocast_context(targets[0].device.type, autocast)

    def target_losses(fwd, x, y, m) -> torch.Tensor:
        return losses(fwd(x), y, m)

    train_loss, pending = forward_train(model, tracker, micro_batches, losses=losses, amp=amp, shard=shard,
                                        keep_graph=combined)
    names = tracker.param_names()
    first, carry, v_losses, K, routes = np.zeros((n, M)), np.zeros(M), np.zeros(M), None, None
    for sl in chunks:
        vl = target_pass(model, tracker, tuple(t[sl] for t in targets), losses=losses, amp=amp, pending=pending)
        pending = None
        K = K if K is not None else rule.scale(optimizer)
        vectors = [rule.carry(optimizer, K)] if rule.has_carry else []
        dots, carried = step_dots(tracker, [Job(tracker.captured("train"), K)], vectors, names)
        first[:, sl] = dots[0].cpu().numpy()
        if carried:
            carry[sl] = carried[0].cpu().numpy()
        if want_routes and routes is None:
            routes = tracker.routes()  # from the first chunk's captures; later chunks must not erase it
        v_losses[sl] = vl.detach().double().cpu().numpy()
    params = dict(model.named_parameters())
    second = None
    if order == 2:  # the step's own update, its carry and the weights before it are needed after it
        K = dict(K)  # the scale of this step, before the optimizer's state moves on
        summed = {nm: K[nm] * p.grad for nm, p in params.items() if p.grad is not None}
        before = {nm: p.detach().clone() for nm, p in params.items()}
    if observe:
        observe(tracker.captured("train"), optimizer)
    optimizer.step()
    if order == 2:
        carry_vec = {nm: before[nm] - p.detach() - summed[nm] for nm, p in params.items() if nm in summed} \
            if rule.has_carry else {}
        direction = {nm: carry_vec.get(nm, 0) + 0.5 * summed[nm] for nm in summed}
        second = np.zeros((n, M))
        for sl in chunks:
            h = tracker.hessian_directions(target_losses, tuple(t[sl] for t in targets), direction, at=before)
            second[:, sl] = -tracker.direction_dots(_scaled(h, K, names)).cpu().numpy()
    tracker.clear()
    if shard:  # the captured output gradients were world times each sample's share (see Shard)
        first /= shard.group.world
        if second is not None:
            second /= shard.group.world
    return StepResult(train_loss, v_losses, first, second, carry, routes, tag=tag)


def plain_step(model, tracker: GhostTracker, optimizer, micro_batches: list[Batch], *, losses: SequenceLosses,
               autocast: torch.dtype | None = None, shard: Shard | None = None,
               observe: Observer | None = None) -> float:
    """A step valued for no generation (a run valued later, by replay): the same training forward and
    backward as ``tracked_step``, so the weights it reaches are the same to the last bit."""
    optimizer.zero_grad(set_to_none=True)
    amp = autocast_context(micro_batches[0][0].device.type, autocast)
    train_loss, _ = forward_train(model, tracker, micro_batches, losses=losses, amp=amp, shard=shard,
                                  keep_graph=False)
    if observe:
        observe(tracker.captured("train"), optimizer)
    optimizer.step()
    tracker.clear()
    return train_loss


def chunk_slices(M: int, target_chunk: int | None) -> list[slice]:
    return [slice(i, i + target_chunk) for i in range(0, M, target_chunk)] if target_chunk else [slice(0, M)]


def target_pass(model, tracker: GhostTracker, targets: Batch, *, losses: SequenceLosses, amp,
                pending: torch.Tensor | None = None) -> torch.Tensor:
    """Forward and backward of the targets over frozen parameters, captured (with the training loss's
    backward when ``pending``); returns the ``[M]`` target losses."""
    with tracker.capture("target"), amp():
        x, y, m = targets
        vl = losses(model(x), y, m)
    if not torch.isfinite(vl).all():
        raise NonFiniteLoss(vl.sum().item())
    (vl.sum() + pending if pending is not None else vl.sum()).backward()
    if pending is not None:
        tracker.share_grads()
    return vl


def autocast_context(device: str, dtype: torch.dtype | None):
    """Mixed precision for the forward passes only; captures are upcast, values are float64."""
    return (lambda: torch.autocast(device, dtype=dtype)) if dtype else nullcontext


def forward_train(model, tracker: GhostTracker, micro_batches: list[Batch], *, losses: SequenceLosses, amp,
                  shard: Shard | None, keep_graph: bool) -> tuple[float, torch.Tensor | None]:
    """The training forward of every micro-batch, captured; each one's backward runs at once unless
    ``keep_graph`` (one micro-batch, one target chunk: its loss is returned to share the targets' backward)."""
    n = sum(b[0].shape[0] for b in micro_batches)
    train_loss, pending = 0.0, None
    forward = shard.forward if shard else model
    for k, (x, y, m) in enumerate(micro_batches):
        last = k == len(micro_batches) - 1
        with (no_sync(forward) if shard and not last else nullcontext()):  # one all-reduce per step
            with tracker.capture("train", shared=shard is None), amp():  # DDP all-reduces autograd's gradients
                per_sample = losses(forward(x), y, m)
                if shard:
                    loss = per_sample.sum() * (shard.group.world / shard.global_n)
                else:
                    loss = per_sample.mean() if len(micro_batches) == 1 else per_sample.sum() / n
            # every process must see the same verdict, or one would wait forever in the all-reduce
            seen = shard.group.all_reduce(loss.detach().float().clone()) / shard.group.world if shard else loss
            if not torch.isfinite(seen):
                raise NonFiniteLoss(seen.item())
            train_loss += seen.item()
            if keep_graph:
                pending = loss
            else:
                loss.backward()
    if not keep_graph:
        tracker.share_grads()
    return train_loss, pending


def step_dots(tracker: GhostTracker, jobs: list[Job], vectors: list, names: dict) -> tuple[list, list]:
    """``([n_j, M] per job, [M] per vector)`` from the current target captures: ``<K_j ⊙ ∇(l_z / B), ∇l_v>`` for
    each job's samples and ``<c, ∇l_v>`` for each vector. A job whose scale is one number for every parameter
    uses the per-layer pair dot products (ghost or materialized); per-element scales (AdamW) and the vectors
    go through the layer-by-layer stream (stream.py), which never holds more than one layer's target gradients."""
    out: list = [None] * len(jobs)
    for j, job in enumerate(jobs):
        scalar = _scalar(job.K)
        if scalar is not None:
            out[j] = tracker.dots(train=job.train) * scalar
    rest = [j for j in range(len(jobs)) if out[j] is None]
    if not rest and not vectors:
        return out, []
    dots, carried = streamed_dots(tracker, [jobs[j] for j in rest], vectors, names)
    for j, d in zip(rest, dots):
        out[j] = d
    return out, carried


def no_sync(ddp) -> object:
    """Context for micro-batches before the last: accumulate locally, all-reduce once per step."""
    return ddp.no_sync() if hasattr(ddp, "no_sync") else nullcontext()


def _scalar(K) -> float | None:
    """The common scale when K is one number for every parameter (SGD with one learning rate): then the
    per-layer pair dot products (ghost or materialized) apply directly, with no per-target direction."""
    if isinstance(K, PerParameter):  # formed per element when read: never one number
        return None
    values = set(K.values()) if not any(isinstance(v, torch.Tensor) for v in K.values()) else set()
    return values.pop() if len(values) == 1 else None


def _scaled(D: dict, K: dict, names: dict) -> dict:
    """Each target's direction mapped through the optimizer's per-parameter scale K (broadcast over M)."""
    return {layer: {attr: K[names[(layer, attr)]] * t for attr, t in per.items()} for layer, per in D.items()}
