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

**Shared and specific parts.** With reference texts (``data.reference``, inrun/shared.py) each step's values are
split before they are added: ``shared-K.npy`` ``[samples × generations]`` sums each sample's shared part
(its specific part is ``values − shared``) and ``reference-K.npy`` ``[samples × 2]`` its value for the reference
texts' mean loss and its share of each step's (``step_shares``), summed; both are journaled and folded like
the values.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

from attribcli.inrun.shared import REFERENCE_COLUMNS, split, step_shares
from attribcli.training.journal import Journal, undo

FOLDER = "tally"
CHUNK_ROWS_BYTES = 64 << 20
VALUES = ("first", "second")
PARTS = ("shared", "reference")  # with reference texts only


class Tally:
    def __init__(self, folder: Path, tables: dict[str, np.ndarray], seen: np.ndarray, carry: np.ndarray,
                 loss_base: np.ndarray, step_rows: list[tuple], target_rows: list[tuple], segment: int = 0,
                 closed_carry: np.ndarray | None = None):
        self.folder = folder
        self.tables = tables                       # kind → memmap of the current segment (VALUES, PARTS)
        self.seen = seen                           # [samples] steps each sample was trained in
        self.carry = carry                         # [generations] the carry's first-order reduction, this segment
        self.loss_base = loss_base                 # [generations]
        self.step_rows, self.target_rows = step_rows, target_rows
        self.segment = segment                     # index of the current segment
        self.closed_carry = closed_carry           # [generations] fold of the earlier segments' carry (None: none)
        self._journal = Journal(folder / "journal.bin")

    @property
    def first(self) -> np.ndarray:
        return self.tables["first"]                # [samples, generations]

    @property
    def second(self) -> np.ndarray:
        return self.tables["second"]

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(self.tables)

    @property
    def parts(self) -> bool:
        """Whether values are split into shared and specific parts (the run has reference texts)."""
        return "shared" in self.tables

    @classmethod
    def create(cls, run: Path, n: int, M: int, loss_base: np.ndarray, *, segment: int = 0,
               parts: bool = False) -> "Tally":
        folder = run / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        tables = _new_tables(folder, segment, n, M, VALUES + (PARTS if parts else ()))
        Journal(folder / "journal.bin", fresh=True).close()
        return cls(folder, tables, np.zeros(n, dtype=np.int64), np.zeros(M), loss_base, [], [], segment)

    @classmethod
    def resume(cls, run: Path, state: dict, step: int) -> "Tally":
        """The table as it was at checkpoint ``step``: undo what later steps wrote into the files."""
        folder = run / FOLDER
        segment = int(state.get("segment", 0))
        kinds = VALUES + (PARTS if state.get("parts") else ())
        _drop_other_segments(folder, segment, kinds)  # a kill between a segment's fold and its checkpoint
        tables = {kind: np.load(_table(folder, kind, segment), mmap_mode="r+") for kind in kinds}
        undo(folder / "journal.bin", list(tables.values()), step)
        small = {k: (v.numpy().copy() if hasattr(v, "numpy") else v) for k, v in state.items()}
        return cls(folder, tables, small["seen"], small["carry"], small["loss_base"],
                   [tuple(r) for r in small["step_rows"]], [tuple(r) for r in small["target_rows"]], segment,
                   small.get("closed_carry"))

    def add(self, step: int, idx: np.ndarray, first: np.ndarray, second: np.ndarray | None,
            reference: np.ndarray | None = None) -> np.ndarray | None:
        """Add one step's rows, journaling the rows' old values first (they are restored on resume). With parts,
        ``reference`` ``[n, R]`` holds the step's values for the reference texts; returns the shared rows."""
        idx = np.asarray(idx, dtype=np.int64)
        self._journal.record(step, idx, list(self.tables.values()))
        self.first[idx] += first
        if second is not None:
            self.second[idx] += second
        self.seen[idx] += 1
        if not self.parts:
            return None
        shared, psi = split(first if second is None else first + second, reference)
        self.tables["shared"][idx] += shared
        self.tables["reference"][idx] += np.column_stack([psi, step_shares(psi)])
        return shared

    def record(self, step: int, epoch: int, lr: float, idx: np.ndarray, result, first: np.ndarray,
               second: np.ndarray | None, reference: np.ndarray | None = None) -> None:
        """One optimizer step: its value rows (``first``, ``second``: the global batch's, in batch order; with
        parts, ``reference``: its reference texts' values), the carry's effect, and its lines of steps.csv and
        target_steps.csv (``result``: inrun.step.StepResult, the generations' columns only)."""
        shared = self.add(step, idx, first, second, reference)
        self.carry += result.carry
        value_abs = float(np.abs(first).sum() + (np.abs(second).sum() if second is not None else 0.0))
        self.step_rows.append((step, epoch, lr, result.train_loss, value_abs))
        M = len(result.target_losses)
        col2 = second.sum(0) if second is not None else np.zeros(M)
        col1 = first.sum(0)
        nodes = result.nodes if result.nodes is not None else np.zeros(M, dtype=np.int64)  # path rule only
        extra = [(float(v),) for v in shared.sum(0)] if shared is not None else [()] * M  # the step's shared part
        self.target_rows.extend((step, j, float(result.target_losses[j]), float(col1[j]), float(col2[j]),
                                 float(result.carry[j]), int(nodes[j]), *extra[j]) for j in range(M))

    def plain_step(self, step: int, epoch: int, lr: float, idx: np.ndarray, train_loss: float) -> None:
        """A step of a run valued for no generation (replays value it later): its steps.csv line."""
        self.seen[np.asarray(idx, dtype=np.int64)] += 1
        self.step_rows.append((step, epoch, lr, train_loss, 0.0))

    def next_segment(self) -> None:
        """Fold the current segment into the closed ones and start the next with an empty table (at a
        checkpoint: the old files go once it is ``committed``)."""
        n, M = self.first.shape
        k = self.segment
        for kind, table in self.tables.items():
            table.flush()
            _fold(self.folder, kind, k, table)
        self.closed_carry = self.carry.copy() if self.closed_carry is None else self.closed_carry + self.carry
        self.segment = k + 1
        self.tables = _new_tables(self.folder, self.segment, n, M, self.kinds)
        self.carry = np.zeros(M)

    def take(self, tables: list[np.ndarray], carry: np.ndarray) -> None:
        """A replay's join: a segment's tables (in ``kinds`` order) and carry, valued by another process, become the
        current segment's."""
        for mine, theirs in zip(self.tables.values(), tables):
            mine[:] = theirs
        self.carry = np.array(carry, dtype=np.float64)

    def adopt(self, tables: list[np.ndarray], carry: np.ndarray) -> None:
        """``take`` the next segment's tables and carry, after folding the current one into the closed ones."""
        self.next_segment()
        self.take(tables, carry)

    def checkpoint_state(self) -> dict:
        """Flush the table; the small parts, to be saved in the checkpoint. Call ``committed`` once the
        checkpoint file is in place."""
        import torch

        for table in self.tables.values():
            table.flush()
        closed = {} if self.closed_carry is None else {"closed_carry": torch.from_numpy(self.closed_carry.copy())}
        return {"seen": torch.from_numpy(self.seen.copy()), "carry": torch.from_numpy(self.carry.copy()),
                "loss_base": torch.from_numpy(np.array(self.loss_base)), "step_rows": list(self.step_rows),
                "target_rows": list(self.target_rows), "segment": self.segment,
                **({"parts": True} if self.parts else {}),
                **closed}  # copies: the state must not move on with training

    def committed(self) -> None:
        """The checkpoint is written: older journal entries (and folded segments' files) are no longer needed."""
        self._journal.clear()
        _drop_other_segments(self.folder, self.segment, self.kinds)

    def total_carry(self) -> np.ndarray:
        return self.carry if self.closed_carry is None else self.closed_carry + self.carry

    def chunks(self):
        """Row chunks of the whole run's tables (in ``kinds`` order): the closed segments' fold plus the current
        one."""
        step = max(1, CHUNK_ROWS_BYTES // max(1, self.first.shape[1] * 8))
        closed = [np.load(_table(self.folder, f"closed-{kind}", self.segment - 1), mmap_mode="r")
                  for kind in self.kinds] if self.segment else None
        for i in range(0, len(self.first), step):
            now = [np.asarray(t[i:i + step]) for t in self.tables.values()]
            yield now if closed is None else [c[i:i + step] + a for c, a in zip(closed, now)]

    def write_values(self, run: Path, order: int) -> tuple[np.ndarray, np.ndarray]:
        """``values.npy`` (first + second) and, with order 2, its two parts, and with reference texts
        ``values_shared.npy`` and ``values_reference.npy``, in one chunked pass that also returns the first two
        tables' column sums."""
        n, M = self.first.shape
        names = ["values.npy"] + (["values_order1.npy", "values_order2.npy"] if order == 2 else []) \
            + (["values_shared.npy", "values_reference.npy"] if self.parts else [])
        outs = [open_memmap(run / (name + ".tmp"), mode="w+", dtype=np.float64,
                            shape=(n, REFERENCE_COLUMNS if name == "values_reference.npy" else M))
                for name in names]
        first_sum, second_sum = np.zeros(M), np.zeros(M)
        i = 0
        for a, b, *parts in self.chunks():
            outs[0][i:i + len(a)] = a + b
            if order == 2:
                outs[1][i:i + len(a)], outs[2][i:i + len(a)] = a, b
            for out, part in zip(outs[-len(parts):] if parts else [], parts):
                out[i:i + len(a)] = part
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
        for table in self.tables.values():
            table.flush()
        self._journal.close()


def _table(folder: Path, kind: str, segment: int) -> Path:
    return folder / f"{kind}-{segment}.npy"


def _new_tables(folder: Path, segment: int, n: int, M: int, kinds: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {kind: open_memmap(_table(folder, kind, segment), mode="w+", dtype=np.float64,
                              shape=(n, REFERENCE_COLUMNS if kind == "reference" else M)) for kind in kinds}


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


def _drop_other_segments(folder: Path, segment: int, kinds: tuple[str, ...]) -> None:
    """Keep the current segment's tables and the fold before it; remove any other segment's files."""
    keep = {_table(folder, kind, segment).name for kind in kinds}
    keep |= {_table(folder, f"closed-{kind}", segment - 1).name for kind in kinds}
    for p in folder.glob("*.npy"):
        if p.name not in keep:
            p.unlink()
    for p in folder.glob("*.tmp"):
        p.unlink()

