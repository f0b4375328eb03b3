"""The gradient index, written during training: each sample's share of the updates it received, projected.

Training is cut into ``attribution.index.segments`` evenly spaced segments. For segment k the index stores,
per training sample z, ``S_k[z] = Σ_t f_t · Π ∇(l_z / B)(w_t)`` over the segment's steps t whose batch holds
z, where ``Π`` is the random projection of inrun/projection.py (formed from the captures: no per-sample
gradient) and ``f_t`` the number part of the step's update scale (optim.py ``split``: the learning rate for
SGD; ``lr (1 − β1) / (1 − β1^t)`` for AdamW). It also keeps the weights ``w_k`` at the segment's middle step
and AdamW's per-element preconditioner ``P_k`` there. ``attrib query`` (query.py) values a generation v by

    φ̂(z, v) = Σ_k <S_k[z], Π (P_k ⊙ ∇l_v(w_k))>

which is the run's first-order value ``Σ_t <f_t P_t ⊙ ∇(l_z / B)(w_t), ∇l_v(w_t)>`` with, inside each segment,
the generation's gradient and the preconditioner held at the middle, and the gradients projected. With one
segment per step and ``dim`` at least the parameter count it is that value exactly.

Layout (hashed in the run's manifest):

    index/projection.pt     the projection matrices, per parameter
    index/segment-K.npy     [samples, dim] float32; float16: each row over its largest entry, index/scale-K.npy
    index/reference-K.pt    the weights at segment K's middle (and AdamW's preconditioner there)
    index/index.json        dim, dtype, segments (steps, reference step), bytes per sample

While training, the current segment accumulates in ``index/acc-K.npy`` (float32, memory-mapped, rows
updated in place) with an undo journal (journal.py), so a killed run resumes to the same bytes; a segment's
end is always a checkpoint.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from numpy.lib.format import open_memmap

from attribcli.config import IndexConfig
from attribcli.files import atomic_torch_save, atomic_write_text
from attribcli.inrun.projection import Projector
from attribcli.inrun.tracker import GhostTracker
from attribcli.training.journal import Journal, undo
from attribcli.training.steps import segment_starts

FOLDER = "index"
CHUNK_BYTES = 64 << 20


@dataclass(frozen=True)
class Segment:
    start: int       # first step (0-based) of the segment
    stop: int        # the step after its last
    reference: int   # the weights after this many steps: the segment's middle

    def to_dict(self) -> dict:
        return {"first_step": self.start + 1, "last_step": self.stop, "reference_after_steps": self.reference}


def segments(total: int, k: int) -> list[Segment]:
    starts = segment_starts(total, k)
    stops = starts[1:] + (total,)
    return [Segment(a, b, a + (b - a) // 2) for a, b in zip(starts, stops)]


def segment_file(k: int) -> str:
    return f"{FOLDER}/segment-{k}.npy"


def scale_file(k: int) -> str:
    return f"{FOLDER}/scale-{k}.npy"


def reference_file(k: int) -> str:
    return f"{FOLDER}/reference-{k}.pt"


class IndexWriter:
    """Projects each step's samples (on every process) and adds their rows to the segment's table (process 0)."""

    def __init__(self, run: Path, cfg: IndexConfig, projector: Projector, segs: list[Segment], n: int,
                 segment: int, world: int, main: bool):
        self.run, self.folder, self.cfg = run, run / FOLDER, cfg
        self.projector, self.segs, self.n, self.world = projector, segs, n, world
        self.segment = segment
        self.rows: np.ndarray | None = None   # this process's projected rows of the step just taken
        self.acc = self._table(segment) if main and segment < len(segs) else None
        self.journal = Journal(self.folder / "journal.bin") if main else None

    @classmethod
    def open(cls, run: Path, cfg: IndexConfig, tracker: GhostTracker, n: int, total: int, state: dict | None,
             *, main: bool, world: int = 1) -> "IndexWriter":
        """A fresh index, or (``state``: a checkpoint's) the index as it was at that checkpoint."""
        folder = run / FOLDER
        segs = segments(total, cfg.segments)
        if state is None or "index" not in state:
            projector = Projector.create(tracker, cfg.dim, cfg.seed)
            if main:
                folder.mkdir(parents=True, exist_ok=True)
                for p in folder.iterdir():
                    p.unlink()
                atomic_torch_save(projector.state(), folder / "projection.pt")
                Journal(folder / "journal.bin", fresh=True).close()
            return cls(run, cfg, projector, segs, n, 0, world, main)
        projector = Projector.load(tracker, torch.load(folder / "projection.pt", weights_only=True))
        writer = cls(run, cfg, projector, segs, n, int(state["index"]["segment"]), world, main)
        if main:
            writer.settle()
            if writer.acc is not None:
                undo(folder / "journal.bin", [writer.acc], int(state["step"]))
        return writer

    def _table(self, k: int) -> np.ndarray:
        path = self.folder / f"acc-{k}.npy"
        if not path.is_file():
            open_memmap(path, mode="w+", dtype=np.float32, shape=(self.n, self.projector.dim)).flush()
        return np.load(path, mmap_mode="r+")

    def observer(self, step: int, rule, model, *, main: bool):
        """The step function's ``observe``: project the samples, keep the reference at a segment's middle."""
        seg = self.segs[self.segment] if self.segment < len(self.segs) else None

        def observe(train, optimizer) -> None:
            factor, pre = rule.split(optimizer)
            rows = self.projector.captured(train) * (factor / self.world)
            self.rows = rows.float().cpu().numpy()
            if main and seg is not None and step == seg.reference:
                atomic_torch_save({"step": step, "model": {k: v.detach().cpu().clone()
                                                           for k, v in model.state_dict().items()},
                                   "preconditioner": None if pre is None else {k: v.detach().cpu().clone()
                                                                               for k, v in pre.items()}},
                                  self.run / reference_file(self.segment))
        return observe

    def add(self, step: int, idx: np.ndarray, rows: np.ndarray) -> None:
        """Process 0: the global batch's projected rows, in batch order, into the current segment."""
        self.journal.record(step, idx, [self.acc])
        self.acc[np.asarray(idx, dtype=np.int64)] += rows
        if step + 1 == self.segs[self.segment].stop:
            self.acc.flush()
            self.segment += 1
            self.acc = self._table(self.segment) if self.segment < len(self.segs) else None

    def boundaries(self) -> set[int]:
        """Steps after which a segment ends: each is a checkpoint."""
        return {s.stop for s in self.segs}

    def checkpoint_state(self) -> dict:
        if self.acc is not None:
            self.acc.flush()
        return {"segment": self.segment}

    def committed(self) -> None:
        self.journal.clear()
        self.settle()

    def settle(self) -> None:
        """Seal every finished segment still in its accumulator; drop any later segment's stale files."""
        for k in range(len(self.segs)):
            acc = self.folder / f"acc-{k}.npy"
            if k < self.segment and acc.is_file():
                self._seal(k, acc)
            elif k > self.segment:
                acc.unlink(missing_ok=True)
            if k >= self.segment:
                for name in (segment_file(k), scale_file(k)):
                    (self.run / name).unlink(missing_ok=True)

    def _seal(self, k: int, acc: Path) -> None:
        if self.cfg.dtype == "float32":
            os.replace(acc, self.run / segment_file(k))
            return
        table = np.load(acc, mmap_mode="r")
        tmp = self.run / (segment_file(k) + ".tmp")
        out = open_memmap(tmp, mode="w+", dtype=np.float16, shape=table.shape)
        scale = np.ones(len(table), dtype=np.float32)
        step = max(1, CHUNK_BYTES // max(1, table.shape[1] * 4))
        for i in range(0, len(table), step):
            block = np.asarray(table[i:i + step])
            top = np.abs(block).max(1)
            top[top == 0] = 1
            scale[i:i + step] = top
            out[i:i + step] = block / top[:, None]
        out.flush()
        del out
        np.save(self.run / scale_file(k), scale)
        os.replace(tmp, self.run / segment_file(k))
        acc.unlink()

    def finish(self) -> dict:
        """Seal the last segment, write index.json; returns the manifest's summary of the index."""
        self.journal.close()
        self.settle()
        (self.folder / "journal.bin").unlink(missing_ok=True)
        width = 2 if self.cfg.dtype == "float16" else 4
        summary = {
            "dim": self.projector.dim, "dtype": self.cfg.dtype, "seed": self.cfg.seed,
            "segments": [s.to_dict() for s in self.segs],
            "bytes_per_sample": len(self.segs) * (self.projector.dim * width + (4 if width == 2 else 0)),
            "parameters": {n: list(m.shape[0] for m in ms) for n, ms in self.projector.mats.items()},
        }
        atomic_write_text(self.folder / "index.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
        return {k: v for k, v in summary.items() if k != "parameters"}
