"""The values accumulated during training, memory-mapped in the unfinished run and safe to kill.

The value table is ``[samples × generations]`` float64 (twice with order 2): 8 GB for 10 million
samples and 100 generations, so it lives in files (``tally/first.npy``, ``tally/second.npy``) that
the training loop updates in place, not in memory and not inside every checkpoint.

A checkpoint must still restore the table exactly as it was at that step, although later steps have
already written into the files. Before a step adds to its rows, the rows' current values are appended
to an undo journal (``tally/journal.bin``) and flushed; at a checkpoint the files are flushed and the
journal emptied. Resuming writes the journal's old rows back for every step after the checkpoint, in
reverse order, which restores the table bit for bit (no subtraction, so no rounding). The small parts
(steps seen, carry, per-step rows) go into the checkpoint itself.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
from numpy.lib.format import open_memmap

FOLDER = "tally"
CHUNK_ROWS_BYTES = 64 << 20


class Tally:
    def __init__(self, folder: Path, first: np.ndarray, second: np.ndarray, seen: np.ndarray, carry: np.ndarray,
                 loss_base: np.ndarray, step_rows: list[tuple], target_rows: list[tuple]):
        self.folder = folder
        self.first, self.second = first, second    # [samples, generations] memmaps
        self.seen = seen                           # [samples] steps each sample was trained in
        self.carry = carry                         # [generations] first-order reduction from the optimizer's carry
        self.loss_base = loss_base                 # [generations]
        self.step_rows, self.target_rows = step_rows, target_rows
        self._journal = open(folder / "journal.bin", "ab")

    @classmethod
    def create(cls, run: Path, n: int, M: int, loss_base: np.ndarray) -> "Tally":
        folder = run / FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        first = open_memmap(folder / "first.npy", mode="w+", dtype=np.float64, shape=(n, M))
        second = open_memmap(folder / "second.npy", mode="w+", dtype=np.float64, shape=(n, M))
        (folder / "journal.bin").write_bytes(b"")
        return cls(folder, first, second, np.zeros(n, dtype=np.int64), np.zeros(M), loss_base, [], [])

    @classmethod
    def resume(cls, run: Path, state: dict, step: int) -> "Tally":
        """The table as it was at checkpoint ``step``: undo what later steps wrote into the files."""
        folder = run / FOLDER
        first = np.load(folder / "first.npy", mmap_mode="r+")
        second = np.load(folder / "second.npy", mmap_mode="r+")
        for s, idx, old_first, old_second in reversed(list(_records(folder / "journal.bin", first.shape[1]))):
            if s > step:
                first[idx], second[idx] = old_first, old_second
        first.flush()
        second.flush()
        (folder / "journal.bin").write_bytes(b"")
        small = {k: (v.numpy().copy() if hasattr(v, "numpy") else list(v)) for k, v in state.items()}
        return cls(folder, first, second, small["seen"], small["carry"], small["loss_base"],
                   [tuple(r) for r in small["step_rows"]], [tuple(r) for r in small["target_rows"]])

    def add(self, step: int, idx: np.ndarray, first: np.ndarray, second: np.ndarray | None) -> None:
        """Add one step's rows, journaling the rows' old values first (they are restored on resume)."""
        idx = np.asarray(idx, dtype=np.int64)
        head = np.array([step, len(idx)], dtype=np.int64)
        self._journal.write(head.tobytes() + idx.tobytes() + np.ascontiguousarray(self.first[idx]).tobytes()
                            + np.ascontiguousarray(self.second[idx]).tobytes())
        self._journal.flush()  # in the OS before the table changes: a kill after this point is undone
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

    def checkpoint_state(self) -> dict:
        """Flush the table; the small parts, to be saved in the checkpoint. Call ``committed`` once the
        checkpoint file is in place."""
        import torch

        self.first.flush()
        self.second.flush()
        return {"seen": torch.from_numpy(self.seen.copy()), "carry": torch.from_numpy(self.carry.copy()),
                "loss_base": torch.from_numpy(np.array(self.loss_base)), "step_rows": list(self.step_rows),
                "target_rows": list(self.target_rows)}  # copies: the state must not move on with training

    def committed(self) -> None:
        """The checkpoint is written: older journal entries are no longer needed."""
        self._journal.truncate(0)
        self._journal.seek(0)

    def chunks(self):
        step = max(1, CHUNK_ROWS_BYTES // max(1, self.first.shape[1] * 8))
        for i in range(0, len(self.first), step):
            yield np.asarray(self.first[i:i + step]), np.asarray(self.second[i:i + step])

    def write_values(self, run: Path, order: int) -> tuple[np.ndarray, np.ndarray]:
        """``values.npy`` (first + second) and, with order 2, its two parts, in one chunked pass that also
        returns the two tables' column sums."""
        n, M = self.first.shape
        tmp = run / "values.npy.tmp"
        out = open_memmap(tmp, mode="w+", dtype=np.float64, shape=(n, M))
        first_sum, second_sum = np.zeros(M), np.zeros(M)
        i = 0
        for a, b in self.chunks():
            out[i:i + len(a)] = a + b
            first_sum += a.sum(0)
            second_sum += b.sum(0)
            i += len(a)
        out.flush()
        del out
        os.replace(tmp, run / "values.npy")
        self.close()
        if order == 2:  # linked, not moved: a run killed before its checkpoint is removed still resumes
            for part, name in (("first.npy", "values_order1.npy"), ("second.npy", "values_order2.npy")):
                (run / name).unlink(missing_ok=True)
                try:
                    os.link(self.folder / part, run / name)
                except OSError:  # a filesystem without hard links
                    shutil.copyfile(self.folder / part, run / name)
        return first_sum, second_sum

    def remove(self) -> None:
        """After the run's final files (and the removal of its checkpoint): the working copy goes."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def close(self) -> None:
        self.first.flush()
        self.second.flush()
        self._journal.close()


def _records(path: Path, M: int):
    """(step, idx, old first rows, old second rows) per complete journal record (a torn tail is ignored:
    its step had not yet changed the table)."""
    data = path.read_bytes()
    pos = 0
    while pos + 16 <= len(data):
        step, k = np.frombuffer(data, dtype=np.int64, count=2, offset=pos)
        size = 16 + 8 * k + 2 * 8 * k * M
        if pos + size > len(data):
            break
        idx = np.frombuffer(data, dtype=np.int64, count=k, offset=pos + 16)
        old_first = np.frombuffer(data, dtype=np.float64, count=k * M, offset=pos + 16 + 8 * k).reshape(k, M)
        old_second = np.frombuffer(data, dtype=np.float64, count=k * M, offset=pos + 16 + 8 * k + 8 * k * M)
        yield int(step), idx, old_first, old_second.reshape(k, M)
        pos += size
