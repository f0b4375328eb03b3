"""The gradient index, written during training: each sample's share of the updates it received, projected.

A sample's first-order value for a generation v is ``Σ_t <u_z,t, ∇l_v(w_t)>``, its share ``u_z,t`` of each
step's update against the generation's gradient at that step. The index keeps the generation's side at
``attribution.index.segments`` reference points only, the middles ``q_0 < … < q_K−1`` of as many evenly spaced
segments (the weights after ``q_j`` steps), and in between it interpolates linearly,
``∇l_v(w_t) ≈ (1 − λ_t) ∇l_v(w_qj) + λ_t ∇l_v(w_qj+1)`` with ``λ_t = (t − q_j) / (q_j+1 − q_j)`` (before the
first middle and after the last, that point alone). So each step's share goes to its two points, weighted:
for point j the index stores, per training sample z,

    S_j[z] = Σ_t h_j(t) · f_t · Π (p_t ⊙ ∇(l_z / B)(w_t))

with ``h_j`` the hat function of point j, ``Π`` the random projection of inrun/projection.py (formed from the
captures: no per-sample gradient), ``f_t`` the number part of the step's update scale and ``p_t`` its
per-element part (optim.py ``split``: for SGD ``f_t = lr`` and ``p_t = 1``; for AdamW
``f_t = lr (1 − β1) / (1 − β1^t)`` and ``p_t`` the rank-one factors of the step's preconditioner ``P_t``,
projection.py ``rank_one``, which ride on the captures). ``attrib query`` (query.py) values v by

    φ̂(z, v) = Σ_j <S_j[z], Π (r_j ⊙ ∇l_v(w_qj))>,   r_j = P_qj / rank_one(P_qj)   (1 for SGD)

so at a reference point the preconditioner is whole, and between points its rank-one part follows every
step. Points at the middles, not at the ends: AdamW's preconditioner at the first step (a second moment from
one gradient) is far from the one later steps take, and carried over the first stretch it cost most of the
agreement with the exact values on the sample (benchmarks/RESULTS.md). With a point at every step and ``dim``
at least the parameter count it is the run's first-order value exactly.

Layout (hashed in the run's manifest):

    index/projection.pt     the projection matrices, per parameter
    index/point-J.npy       [samples, dim] float32; float16: each row over its largest entry, index/scale-J.npy
    index/reference-J.pt    the weights at point J, and the generation's side of AdamW's preconditioner there
    index/index.json        dim, dtype, segments, points (steps), bytes per sample

While training, the points of the current stretch accumulate in ``index/acc-J.npy`` (float32,
memory-mapped, rows updated in place) with an undo journal (journal.py), so a killed run resumes to the same
bytes; a point's table is complete, and a checkpoint is taken, when the stretch after it starts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch
from numpy.lib.format import open_memmap

from attribcli.config import IndexConfig
from attribcli.files import atomic_torch_save, atomic_write_text
from attribcli.inrun.projection import Projector, outer, rank_one
from attribcli.inrun.tracker import GhostTracker
from attribcli.training.journal import Journal, undo
from attribcli.training.steps import segment_starts

FOLDER = "index"
CHUNK_BYTES = 64 << 20


def points(total: int, k: int) -> list[int]:
    """The reference points: the weights after these many steps, the middles of ``k`` evenly spaced segments
    (fewer on a short run)."""
    starts = segment_starts(total, k)
    return sorted({a + (b - a) // 2 for a, b in zip(starts, starts[1:] + (total,))})


def stretch(t: int, pts: list[int]) -> int:
    """Step ``t``'s stretch: how many points are at or before it (0: before the first; len(pts): after the last)."""
    return sum(q <= t for q in pts)


def hat(t: int, pts: list[int]) -> list[tuple[int, float]]:
    """(point, weight) for step ``t``: linear interpolation between the points either side of it, the nearest
    point alone before the first and after the last."""
    s = stretch(t, pts)
    if s == 0 or s == len(pts):
        return [(min(s, len(pts) - 1), 1.0)]
    lam = (t - pts[s - 1]) / (pts[s] - pts[s - 1])
    return [(s - 1, 1.0 - lam), (s, lam)]


def point_file(j: int) -> str:
    return f"{FOLDER}/point-{j}.npy"


def scale_file(k: int) -> str:
    return f"{FOLDER}/scale-{k}.npy"


def reference_file(k: int) -> str:
    return f"{FOLDER}/reference-{k}.pt"


class IndexWriter:
    """Projects each step's samples (on every process) and adds their rows to the two points' tables (process 0)."""

    def __init__(self, run: Path, cfg: IndexConfig, projector: Projector, pts: list[int], n: int, total: int,
                 current: int, world: int, main: bool):
        self.run, self.folder, self.cfg = run, run / FOLDER, cfg
        self.projector, self.pts, self.n, self.total, self.world = projector, pts, n, total, world
        self.current = current                # the stretch being written; len(pts) + 1 once all are done
        self.rows: np.ndarray | None = None   # this process's projected rows of the step just taken
        self.acc = self._tables() if main else {}
        self.journal = Journal(self.folder / "journal.bin") if main else None

    @classmethod
    def open(cls, run: Path, cfg: IndexConfig, tracker: GhostTracker, n: int, total: int, state: dict | None,
             *, main: bool, world: int = 1) -> "IndexWriter":
        """A fresh index, or (``state``: a checkpoint's) the index as it was at that checkpoint."""
        folder = run / FOLDER
        pts = points(total, cfg.segments)
        if state is None or "index" not in state:
            projector = Projector.create(tracker, cfg.dim, cfg.seed)
            if main:
                folder.mkdir(parents=True, exist_ok=True)
                for p in folder.iterdir():
                    p.unlink()
                atomic_torch_save(projector.state(), folder / "projection.pt")
                Journal(folder / "journal.bin", fresh=True).close()
            return cls(run, cfg, projector, pts, n, total, stretch(0, pts), world, main)
        projector = Projector.load(tracker, torch.load(folder / "projection.pt", weights_only=True))
        writer = cls(run, cfg, projector, pts, n, total, int(state["index"]["stretch"]), world, main)
        if main:
            writer.settle()
            undo(folder / "journal.bin", list(writer.acc.values()), int(state["step"]))
        return writer

    def _open(self) -> list[int]:
        """The points the current stretch adds to."""
        s, last = self.current, len(self.pts) - 1
        return sorted({max(0, s - 1), min(s, last)}) if s <= last + 1 else []

    def _tables(self) -> dict[int, np.ndarray]:
        out = {}
        for j in self._open():
            path = self.folder / f"acc-{j}.npy"
            if not path.is_file():
                open_memmap(path, mode="w+", dtype=np.float32, shape=(self.n, self.projector.dim)).flush()
            out[j] = np.load(path, mmap_mode="r+")
        return out

    def observer(self, step: int, rule, model, *, main: bool):
        """The step function's ``observe``: project the samples; at a reference point keep the weights and the
        generation's side of the preconditioner."""

        def observe(train, optimizer) -> None:
            factor, pre = rule.split(optimizer)
            sides = None if pre is None else {n: rank_one(P) for n, P in pre.items()}
            self.rows = (self.projector.captured(train, sides) * (factor / self.world)).float().cpu().numpy()
            if main and step in self.pts:
                scale = None if pre is None else {n: (P / outer(sides[n], P.shape)).detach().cpu().clone()
                                                  for n, P in pre.items()}
                atomic_torch_save({"step": step, "model": {k: v.detach().cpu().clone()
                                                           for k, v in model.state_dict().items()},
                                   "generation_scale": scale}, self.run / reference_file(self.pts.index(step)))
        return observe

    def add(self, step: int, idx: np.ndarray, rows: np.ndarray) -> None:
        """Process 0: the global batch's projected rows, in batch order, into its points' tables."""
        self.journal.record(step + 1, idx, list(self.acc.values()))  # steps done, as a checkpoint's "step"
        idx = np.asarray(idx, dtype=np.int64)
        for j, w in hat(step, self.pts):
            if w:
                self.acc[j][idx] += rows if w == 1 else np.float32(w) * rows
        nxt = stretch(step + 1, self.pts) if step + 1 < self.total else len(self.pts) + 1
        if nxt != self.current:  # the next step opens a new stretch (a checkpoint): one point may be complete
            for t in self.acc.values():
                t.flush()
            self.current = nxt
            self.acc = self._tables()

    def boundaries(self) -> set[int]:
        """Steps done after which the next step adds to other points' tables: each is a checkpoint."""
        return ({q for q in self.pts if q > 0} | {self.total}) - {0}

    def checkpoint_state(self) -> dict:
        for t in self.acc.values():
            t.flush()
        return {"stretch": self.current}

    def committed(self) -> None:
        self.journal.clear()
        self.settle()

    def settle(self) -> None:
        """Seal every complete point still in its accumulator; drop any later point's stale files."""
        live = set(self._open())
        for j in range(len(self.pts)):
            acc = self.folder / f"acc-{j}.npy"
            done = self.current >= j + 2
            if done and acc.is_file():
                self._seal(j, acc)
            elif not done and j not in live:
                acc.unlink(missing_ok=True)
            if not done:
                for name in (point_file(j), scale_file(j)):
                    (self.run / name).unlink(missing_ok=True)

    def _seal(self, k: int, acc: Path) -> None:
        if self.cfg.dtype == "float32":
            os.replace(acc, self.run / point_file(k))
            return
        table = np.load(acc, mmap_mode="r")
        tmp = self.run / (point_file(k) + ".tmp")
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
        os.replace(tmp, self.run / point_file(k))
        acc.unlink()

    def finish(self) -> dict:
        """Seal the last points, write index.json; returns the manifest's summary of the index."""
        self.journal.close()
        self.settle()
        (self.folder / "journal.bin").unlink(missing_ok=True)
        width = 2 if self.cfg.dtype == "float16" else 4
        summary = {
            "dim": self.projector.dim, "dtype": self.cfg.dtype, "seed": self.cfg.seed,
            "segments": self.cfg.segments, "points": [{"after_steps": q} for q in self.pts],
            "bytes_per_sample": len(self.pts) * (self.projector.dim * width + (4 if width == 2 else 0)),
            "parameters": {n: list(m.shape[0] for m in ms) for n, ms in self.projector.mats.items()},
        }
        atomic_write_text(self.folder / "index.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
        return {k: v for k, v in summary.items() if k != "parameters"}
