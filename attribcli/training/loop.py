"""Phase 3 of a training run, and the whole run: fine-tune and track In-Run Data Shapley values at every step.

``train`` runs the phases in order: prepare (check inputs, tokenize), set up the run directory (or resume),
the loop, finish. The run is built in ``<run_dir>.partial`` with a checkpoint every N steps; a killed run
resumes from its last checkpoint and, because the data order is a pure function of (seed, epoch) and the
checkpoint holds the weights, optimizer state and every value accumulated so far, ends with the same numbers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from rich.console import Console

from attribcli.config import Config
from attribcli.data import duplicates
from attribcli.errors import AttribError
from attribcli.files import atomic_torch_save, locked
from attribcli.inrun.optim import attach_names, update_rule
from attribcli.inrun.path import PathSettings, path_step
from attribcli.inrun.step import NonFiniteLoss, Shard, StepResult, plain_step, tracked_step
from attribcli.inrun.tracker import GhostTracker
from attribcli.model.gpt import sequence_losses
from attribcli.progress import Progress
from attribcli.training.distributed import Group, wrap
from attribcli.training.finish import finish
from attribcli.training.index import IndexWriter
from attribcli.training.layout import CHECKPOINT, partial_dir
from attribcli.training.plan import grouped_routes, refuse_if_it_cannot_fit
from attribcli.training.prepare import Prepared, prepare
from attribcli.training.replace import swap_in
from attribcli.training.setup import open_run_dir, refusals, require_batch_for, write_inputs
from attribcli.training.steps import epoch_order, lr_at, pad_batch, segment_starts, target_batch, target_losses
from attribcli.training.tally import Tally

KILL_ENV = "ATTRIB_TEST_KILL_AFTER_STEP"  # fault injection for the resume tests: die like SIGKILL


def train(config: Config, *, resume: bool = False, overwrite: bool = False, log=print,
          group: Group = Group()) -> Path:
    """Run (or resume) training with in-run valuation; returns the finished run directory.

    Under torchrun (``group.active``) every process runs this; process 0 alone touches the run
    directory and tells the others what it found (distributed.py)."""
    if not group.main:
        group.barrier()  # process 0 tokenizes the corpus into the cache first; the others then reuse it
    prep = prepare(config)  # raises AttribError before anything is written (on every process alike)
    if not group.active:  # one process: a step that cannot fit is refused before its first allocation
        refuse_if_it_cannot_fit(prep)
    if group.main:
        group.barrier()
    final, part = config.run_dir, partial_dir(config.run_dir)
    with contextlib.ExitStack() as held:
        return _train(final, part, prep, resume, overwrite, log, group, held)


def _train(final: Path, part: Path, prep: Prepared, resume: bool, overwrite: bool, log, group: Group,
           held: contextlib.ExitStack) -> Path:
    """``train`` from the run directory on; process 0 holds the run's lock in ``held`` until the run is final."""
    state, outcome = None, None
    if group.main:
        try:
            refusals(final, part, resume, overwrite)  # nothing written, not even the lock file, for a refusal
            held.enter_context(locked(final, field="run_dir", wait=False))  # one attrib train per run_dir
            state = open_run_dir(final, part, prep, resume, overwrite, log)
            outcome = "done" if state == "done" else "go"
        except AttribError:
            group.broadcast(("error", None))
            raise
    outcome, shared = group.broadcast((outcome, _shared_state(state) if outcome == "go" else None))
    if outcome == "error":
        raise AttribError("process 0 refused the run directory (its message says why)", file=str(final),
                          quiet=True)
    if outcome == "done":
        return final
    if not group.main:
        state = shared
    try:
        if group.main and state is None:
            write_inputs(part, prep)
        _loop(part, prep, state, log if group.main else _silent, group)
    except AttribError:
        if group.main:
            shutil.rmtree(part, ignore_errors=True)  # bad input found mid-run (NaN): leave nothing behind
        raise
    if group.main:
        swap_in(part, final, log)  # beside a finished run (--overwrite): replaced only now, by a journal
    group.barrier()  # the others return once the run directory is final
    return final


def _silent(message: str) -> None:
    return None


def _shared_state(state: dict | None) -> dict | None:
    """What every process needs to resume (the value tally lives on process 0 only)."""
    return None if state is None else {k: state[k] for k in ("step", "model", "optimizer")}


@dataclass
class Span:
    """The steps one call of ``run_steps`` takes: training takes them all, a replay segment its own."""

    stop: int                                # the step after the last one taken
    kept: tuple[int, ...] = ()               # training: steps after which a replay segment starts
    check: Callable[[int, float], None] | None = None  # replay: each step's training loss against steps.csv
    index: bool = False                      # training: write the gradient index (attribution.index)


@dataclass
class Stepped:
    """What the steps left behind: the model at ``Span.stop``, its optimizer, and (process 0) the values."""

    model: object
    optimizer: object
    rule: object
    tally: Tally | None
    targets: object
    index: IndexWriter | None = None


def _loop(part: Path, prep: Prepared, state: dict | None, log, group: Group = Group()) -> None:
    total = total_steps(prep)
    kept = segment_starts(total, prep.config.training.replay_segments)[1:]
    out = run_steps(part, prep, state, log, group, Span(total, kept, index=True))
    if group.main:
        finish(part, prep, out.model, total, out.tally, out.targets, out.rule, log, processes=group.world,
               index=out.index)


def total_steps(prep: Prepared) -> int:
    t = prep.config.training
    return t.max_steps if t.max_steps else t.epochs * math.ceil(len(prep.samples) / t.batch_size)


def kept_checkpoint(step: int) -> str:
    """The kept checkpoint a replay segment starts from (weights and optimizer state after ``step`` steps)."""
    return f"checkpoints/step-{step:07d}.pt"


def run_steps(part: Path, prep: Prepared, state: dict | None, log, group: Group, span: Span) -> Stepped:
    """Take the steps from ``state["step"]`` (0 without a state) to ``span.stop``: train, value each sample for
    every generation, checkpoint into ``part`` (a checkpoint without a tally starts a fresh one there)."""
    cfg, model, dev = prep.config, prep.model, prep.device
    t, att = cfg.training, cfg.attribution
    n, M = len(prep.samples), len(prep.generations)
    per_epoch = math.ceil(n / t.batch_size)
    total = span.stop
    require_batch_for(cfg, group.world)
    rule = update_rule(t)
    optimizer = rule.make([p for p in model.parameters() if p.requires_grad], t)  # LoRA: the adapters
    attach_names(optimizer, model)
    tracker = GhostTracker(model)
    targets = target_batch(prep.targets, dev, tok=prep.tokenizer) if M else None  # reference texts: the last rows
    start = 0
    tally = None  # process 0 alone keeps the values (in files under the unfinished run: tally.py)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
    if group.main:
        if state is not None and "tally" in state:
            tally = Tally.resume(part, state["tally"], start)
        else:
            tally = Tally.create(part, n, M, target_losses(model, targets)[:M] if M else np.zeros(0),
                                 parts=bool(prep.reference))
    writer = IndexWriter.open(part, att.index, tracker, n, total, state, main=group.main, world=group.world) \
        if span.index and att.index else None
    ends = writer.boundaries() if writer else set()  # a segment of the index ends at a checkpoint
    train_forward = wrap(model, group)
    kill_after = int(os.environ.get(KILL_ENV, "0") or 0)
    log(f"training {n} samples from {len(prep.licensing.trained_ids)} documents "
        f"({len(prep.documents) - len(prep.licensing.trained_ids)} excluded: opted out or licence), "
        f"{M} generations, steps {start + 1} to {total} on {dev.type}"
        + (f" x {group.world} processes" if group.active else "") + f"; optimizer {rule.name}, "
        + (f"path rule (up to {att.path_max_nodes} nodes a step)" if att.rule == "path" else f"order {att.order}"))
    copies = duplicates.summary(prep.duplicates)
    if copies and start == 0:
        log(copies)
    micro = t.micro_batch_size or t.batch_size
    settings = PathSettings(att.path_tolerance, att.path_max_nodes)
    opened = None  # the path rule's step awaiting the next step's target pass
    console = None if group.main else Console(stderr=True, quiet=True)
    with Progress(total, start=start, log=log, every=t.log_every, console=console) as bar:
        order = (None, None)  # (epoch, its sample order): one permutation per epoch, not per step
        for step in range(start, total):
            epoch, pos = divmod(step, per_epoch)
            if order[0] != epoch:
                order = (epoch, epoch_order(cfg.seed, epoch, n))
            idx = order[1][pos * t.batch_size:(pos + 1) * t.batch_size]
            lr = lr_at(step, total_steps(prep), cfg)
            for param_group in optimizer.param_groups:
                param_group["lr"] = lr
            mine = group.shard(idx)
            micro_batches = [pad_batch([(list(prep.samples[i].tokens), 1) for i in mine[k:k + micro]], dev)
                             for k in range(0, len(mine), micro)] or [_placeholder(prep, idx[0], dev)]
            boundary = step + 1 in span.kept
            checkpoint = ((step + 1) % t.checkpoint_every == 0 or boundary or step + 1 in ends) and step + 1 < total
            close = checkpoint or step + 1 == total  # the path rule leaves no step open in a checkpoint
            kwargs = dict(losses=sequence_losses, autocast=torch.bfloat16 if t.precision == "bf16" else None,
                          shard=Shard(train_forward, group, len(idx)) if group.active else None,
                          observe=writer.observer(step, rule, model, main=group.main) if writer else None)
            tag = (step + 1, epoch + 1, lr, idx, len(mine))
            try:
                if not M:
                    done = [StepResult(plain_step(model, tracker, optimizer, micro_batches, **kwargs),
                                       np.zeros(0), np.zeros((len(mine), 0)), None, np.zeros(0), tag=tag)]
                elif att.rule == "path":
                    done, opened = path_step(model, tracker, optimizer, rule, micro_batches, targets, opened=opened,
                                             close=close, tag=tag, settings=settings, target_chunk=att.target_chunk,
                                             want_routes=step == start, **kwargs)
                else:
                    done = [tracked_step(model, tracker, optimizer, rule, micro_batches, targets, order=att.order,
                                         tag=tag, target_chunk=att.target_chunk, want_routes=step == start,
                                         **kwargs)]
            except NonFiniteLoss as exc:
                raise AttribError(f"the loss became {exc.args[0]} at step {step + 1}", file=str(cfg.source),
                                  field="training.lr",
                                  fix=f"lower training.lr (now {t.lr}) or add warmup_steps") from None
            if writer:
                parts = group.gather_rows(writer.rows[:len(mine)])
                if group.main:
                    writer.add(step, idx, np.concatenate(parts))
            for r in done:  # the path rule closes a step when the next one has run
                if r.routes:
                    _log_routes(r.routes, log, per_element=t.optimizer == "adamw")
                s, e, s_lr, s_idx, rows = r.tag
                if span.check is not None:
                    span.check(s, r.train_loss)  # on every process: they all see the same all-reduced loss
                first, second = _gathered(group, r, rows)
                if group.main:
                    if M:
                        tally.record(s, e, s_lr, s_idx, *generations_and_reference(r, first, second, M))
                    else:
                        tally.plain_step(s, e, s_lr, s_idx, r.train_loss)
            if not group.main:
                if kill_after and step + 1 == kill_after:
                    os._exit(137)
                continue
            bar.update(step + 1, loss=(opened or done[-1]).train_loss, samples=len(idx))
            if boundary:  # a replay segment starts here: its weights and optimizer state are kept
                atomic_torch_save({"step": step + 1, "model": model.state_dict(),
                                   "optimizer": optimizer.state_dict()}, part / kept_checkpoint(step + 1))
                tally.next_segment()
            if checkpoint:
                atomic_torch_save({"step": step + 1, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                   "tally": tally.checkpoint_state(), "input_hashes": prep.input_hashes,
                                   **({"index": writer.checkpoint_state()} if writer else {})},
                                  part / CHECKPOINT)
                tally.committed()
                if writer:
                    writer.committed()
            if kill_after and step + 1 == kill_after:
                os._exit(137)  # as if killed: no cleanup, no final write
    tracker.close()
    return Stepped(model, optimizer, rule, tally, targets, writer)


def generations_and_reference(r: StepResult, first: np.ndarray, second: np.ndarray | None, M: int):
    """``(result, first, second, reference)`` of the generations alone (the target batch's first ``M`` rows), and
    the reference texts' values (its other rows: first + second), or None without reference texts."""
    if first.shape[1] == M:
        return r, first, second, None
    gens = dataclasses.replace(r, target_losses=r.target_losses[:M], carry=r.carry[:M],
                               nodes=None if r.nodes is None else r.nodes[:M],
                               loss_after=None if r.loss_after is None else r.loss_after[:M])
    reference = first[:, M:] if second is None else first[:, M:] + second[:, M:]
    return gens, first[:, :M], None if second is None else second[:, :M], reference


def _placeholder(prep: Prepared, i: int, dev):
    """A process whose shard of the last, short batch is empty still joins the gradient all-reduce:
    one sample with an all-false loss mask has loss 0 and gradient 0, and its value row is dropped."""
    x, y, m = pad_batch([(list(prep.samples[i].tokens), 1)], dev)
    return x, y, torch.zeros_like(m)


def _gathered(group: Group, r, rows: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The global batch's value rows on process 0, in batch order (shards are contiguous, rank order)."""
    if not group.active:
        return r.first, r.second
    parts = group.gather_rows((r.first[:rows], None if r.second is None else r.second[:rows]))
    if not group.main:
        return None, None
    second = None if r.second is None else np.concatenate([p[1] for p in parts])
    return np.concatenate([p[0] for p in parts]), second


def _log_routes(routes: dict[str, str], log, per_element: bool = False) -> None:
    """One line: each route with its layers, block numbers folded (``blocks.*.attn.qkv (4)``). Under a per-element
    scale (AdamW) every layer's products go through the stream; the route named is the one of its pair products."""
    by_route: dict[str, list[str]] = {}
    for (name, route), n in grouped_routes(routes).items():
        by_route.setdefault(route, []).append(f"{name} ({n})" if n > 1 else name)
    log(("per-layer routes (AdamW: every layer streamed, stream.py): " if per_element else "per-layer routes: ")
        + "; ".join(f"{r}: {', '.join(ls)}" for r, ls in sorted(by_route.items())))
