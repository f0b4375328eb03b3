"""The values accumulated during training, memory-mapped in the unfinished run and safe to kill.

The value table is ``[samples × generations]`` float64 (twice with order 2): 8 GB for 10 million
samples and 100 generations, so it lives in files (``tally/first.npy``, ``tally/second.npy``) that
the training loop updates in place, not in memory and not inside every checkpoint.

A checkpoint must still restore the table exactly as it was at that step, although later steps have
already written into the files: an undo journal (``tally/journal.bin``, journal.py) keeps each step's old
rows until the next checkpoint. The small parts (steps seen, carry, per-step rows) go into the checkpoint
itself.

**Segments.** A run cut into replay segments (``training.replay_segments``, replay.py) sums each sample's
value per segment and then folds the segments in order: ``closed_k = closed_{k-1} + segment_k``. A replay
that runs the segments in separate processes folds their tables the same way, so it gives the same float64
sums to the last bit (float addition is not associative: one running sum would not). ``first-K.npy`` is the
current segment's table, ``closed-first-K.npy`` the fold of the segments before it; a segment boundary is
always a checkpoint, so the journal never spans two segments.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from attribcli.training.journal import Journal, undo

FOLDER = "tally"
CHUNK_ROWS_BYTES = 64 << 20


class Tally:
    def __init__(self, folder: Path, first: np.ndarray, second: np.ndarray, seen: np.ndarray, carry: np.ndarray,
                 loss_base: np.ndarray, step_rows: list[tuple], target_rows: list[tuple], segment: int = 0,
                 closed_carry: np.ndarray | None = None):
        self.folder = folder
        self.first, self.second = first, second    # [samples, generations] memmaps: the current segment
        self.seen = seen                           # [samples] steps each sample was trained in
        self.carry = carry                         # [generations] the carry's first-order reduction, this segment
        self.loss_base = loss_base                 # [generations]
        self.step_rows, self.target_rows = step_rows, target_rows
        self.segment = segment                     # index of the current segment
        self.closed_carry = closed_carry           # [generations] fold of the earlier segments' carry (None: none)
        self._journal = Journal(folder / "journal.bin")

    @classmethod
    def create(cls, run: Path, n: int, M: int, loss_base: np.ndarray, *, segment: int = 0) -> "Tally":
        folder = run / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        first, second = _new_tables(folder, segment, n, M)
        Journal(folder / "journal.bin", fresh=True).close()
        return cls(folder, first, second, np.zeros(n, dtype=np.int64), np.zeros(M), loss_base, [], [], segment)

    @classmethod
    def resume(cls, run: Path, state: dict, step: int) -> "Tally":
        """The table as it was at checkpoint ``step``: undo what later steps wrote into the files."""
        folder = run / FOLDER
        segment = int(state.get("segment", 0))
        _drop_other_segments(folder, segment)  # a kill between a segment's fold and its checkpoint
        first = np.load(_table(folder, "first", segment), mmap_mode="r+")
        second = np.load(_table(folder, "second", segment), mmap_mode="r+")
        undo(folder / "journal.bin", [first, second], step)
        small = {k: (v.numpy().copy() if hasattr(v, "numpy") else v) for k, v in state.items()}
        return cls(folder, first, second, small["seen"], small["carry"], small["loss_base"],
                   [tuple(r) for r in small["step_rows"]], [tuple(r) for r in small["target_rows"]], segment,
                   small.get("closed_carry"))

    def add(self, step: int, idx: np.ndarray, first: np.ndarray, second: np.ndarray | None) -> None:
        """Add one step's rows, journaling the rows' old values first (they are restored on resume)."""
        idx = np.asarray(idx, dtype=np.int64)
        self._journal.record(step, idx, [self.first, self.second])
        self.first[idx] += first
        if second is not None:
            self.second[idx] += second
        self.seen[idx] += 1

    def record(self, step: int, epoch: int, lr: float, idx: np.ndarray, result, first: np.ndarray,
               second: np.ndarray | None) -> None:
        """One optimizer step: its value rows (``first``, ``second``: the global batch's, in batch order),
        the carry's effect, and its lines of steps.csv and target_steps.csv (``result``: inrun.step.StepResult)."""
        self.add(step, idx, first, second)
        self.carry += result.carry
        value_abs = float(np.abs(first).sum() + (np.abs(second).sum() if second is not None else 0.0))
        self.step_rows.append((step, epoch, lr, result.train_loss, value_abs))
        M = len(result.target_losses)
        col2 = second.sum(0) if second is not None else np.zeros(M)
        col1 = first.sum(0)
        nodes = result.nodes if result.nodes is not None else np.zeros(M, dtype=np.int64)  # path rule only
        self.target_rows.extend((step, j, float(result.target_losses[j]), float(col1[j]), float(col2[j]),
                                 float(result.carry[j]), int(nodes[j])) for j in range(M))

    def plain_step(self, step: int, epoch: int, lr: float, idx: np.ndarray, train_loss: float) -> None:
        """A step of a run valued for no generation (replays value it later): its steps.csv line."""
        self.seen[np.asarray(idx, dtype=np.int64)] += 1
        self.step_rows.append((step, epoch, lr, train_loss, 0.0))

    def next_segment(self) -> None:
        """Fold the current segment into the closed ones and start the next with an empty table (at a
        checkpoint: the old files go once it is ``committed``)."""
        n, M = self.first.shape
        self.first.flush()
        self.second.flush()
        k = self.segment
        for kind, table in (("first", self.first), ("second", self.second)):
            _fold(self.folder, kind, k, table)
        self.closed_carry = self.carry.copy() if self.closed_carry is None else self.closed_carry + self.carry
        self.segment = k + 1
        self.first, self.second = _new_tables(self.folder, self.segment, n, M)
        self.carry = np.zeros(M)

    def adopt(self, first: np.ndarray, second: np.ndarray, carry: np.ndarray) -> None:
        """A replay's join: the next segment's table, valued by another process, becomes the current one."""
        self.next_segment()
        self.first[:] = first
        self.second[:] = second
        self.carry = np.array(carry, dtype=np.float64)

    def checkpoint_state(self) -> dict:
        """Flush the table; the small parts, to be saved in the checkpoint. Call ``committed`` once the
        checkpoint file is in place."""
        import torch

        self.first.flush()
        self.second.flush()
        closed = {} if self.closed_carry is None else {"closed_carry": torch.from_numpy(self.closed_carry.copy())}
        return {"seen": torch.from_numpy(self.seen.copy()), "carry": torch.from_numpy(self.carry.copy()),
                "loss_base": torch.from_numpy(np.array(self.loss_base)), "step_rows": list(self.step_rows),
                "target_rows": list(self.target_rows), "segment": self.segment,
                **closed}  # copies: the state must not move on with training

    def committed(self) -> None:
        """The checkpoint is written: older journal entries (and folded segments' files) are no longer needed."""
        self._journal.clear()
        _drop_other_segments(self.folder, self.segment)

    def total_carry(self) -> np.ndarray:
        return self.carry if self.closed_carry is None else self.closed_carry + self.carry

    def chunks(self):
        """Row chunks of the whole run's (first, second) tables: the closed segments' fold plus the current one."""
        step = max(1, CHUNK_ROWS_BYTES // max(1, self.first.shape[1] * 8))
        closed = [np.load(_table(self.folder, f"closed-{kind}", self.segment - 1), mmap_mode="r")
                  for kind in ("first", "second")] if self.segment else None
        for i in range(0, len(self.first), step):
            a, b = np.asarray(self.first[i:i + step]), np.asarray(self.second[i:i + step])
            yield (a, b) if closed is None else (closed[0][i:i + step] + a, closed[1][i:i + step] + b)

    def write_values(self, run: Path, order: int) -> tuple[np.ndarray, np.ndarray]:
        """``values.npy`` (first + second) and, with order 2, its two parts, in one chunked pass that also
        returns the two tables' column sums."""
        n, M = self.first.shape
        names = ["values.npy"] + (["values_order1.npy", "values_order2.npy"] if order == 2 else [])
        outs = [open_memmap(run / (name + ".tmp"), mode="w+", dtype=np.float64, shape=(n, M)) for name in names]
        first_sum, second_sum = np.zeros(M), np.zeros(M)
        i = 0
        for a, b in self.chunks():
            outs[0][i:i + len(a)] = a + b
            if order == 2:
                outs[1][i:i + len(a)], outs[2][i:i + len(a)] = a, b
            first_sum += a.sum(0)
            second_sum += b.sum(0)
            i += len(a)
        for out, name in zip(outs, names):  # written, not moved: a run killed before this still resumes
            out.flush()
            del out
            os.replace(run / (name + ".tmp"), run / name)
        outs.clear()
        self.close()
        return first_sum, second_sum

    def remove(self) -> None:
        """After the run's final files (and the removal of its checkpoint): the working copy goes."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def close(self) -> None:
        self.first.flush()
        self.second.flush()
        self._journal.close()


def _table(folder: Path, kind: str, segment: int) -> Path:
    return folder / f"{kind}-{segment}.npy"


def _new_tables(folder: Path, segment: int, n: int, M: int) -> tuple[np.ndarray, np.ndarray]:
    return tuple(open_memmap(_table(folder, kind, segment), mode="w+", dtype=np.float64, shape=(n, M))
                 for kind in ("first", "second"))


def _fold(folder: Path, kind: str, k: int, table: np.ndarray) -> None:
    """``closed-KIND-k`` = ``closed-KIND-(k-1)`` + segment k's table (a copy of it for k = 0), chunked, atomic."""
    n, M = table.shape
    tmp = _table(folder, f"closed-{kind}", k).with_suffix(".tmp")
    out = open_memmap(tmp, mode="w+", dtype=np.float64, shape=(n, M))
    before = np.load(_table(folder, f"closed-{kind}", k - 1), mmap_mode="r") if k else None
    step = max(1, CHUNK_ROWS_BYTES // max(1, M * 8))
    for i in range(0, n, step):
        part = np.asarray(table[i:i + step])
        out[i:i + step] = part if before is None else before[i:i + step] + part
    out.flush()
    del out
    os.replace(tmp, _table(folder, f"closed-{kind}", k))


def _drop_other_segments(folder: Path, segment: int) -> None:
    """Keep the current segment's tables and the fold before it; remove any other segment's files."""
    keep = {_table(folder, kind, segment).name for kind in ("first", "second")}
    keep |= {_table(folder, f"closed-{kind}", segment - 1).name for kind in ("first", "second")}
    for p in folder.glob("*.npy"):
        if p.name not in keep:
            p.unlink()
    for p in folder.glob("*.tmp"):
        p.unlink()

