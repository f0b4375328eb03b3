"""An undo journal for tables that training updates in place (memory-mapped, too large for a checkpoint).

Before a step adds to some rows, the rows' current values are appended and flushed; at a checkpoint the
tables are flushed and the journal emptied. Resuming from a checkpoint writes the journal's old rows back
for every later step, in reverse order, which restores the tables bit for bit (no subtraction, so no
rounding). Used by the value tally (tally.py) and the gradient index (index.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class Journal:
    def __init__(self, path: Path, *, fresh: bool = False):
        self.path = path
        if fresh:
            path.write_bytes(b"")
        self._file = open(path, "ab")

    def record(self, step: int, idx: np.ndarray, tables: list[np.ndarray]) -> None:
        """Keep the current values of rows ``idx`` of every table, in the OS before the tables change."""
        idx = np.asarray(idx, dtype=np.int64)
        head = np.array([step, len(idx)], dtype=np.int64)
        self._file.write(head.tobytes() + idx.tobytes() + b"".join(np.ascontiguousarray(t[idx]).tobytes()
                                                                   for t in tables))
        self._file.flush()  # a kill after this point is undone on resume

    def clear(self) -> None:
        self._file.truncate(0)
        self._file.seek(0)

    def close(self) -> None:
        self._file.close()


def undo(path: Path, tables: list[np.ndarray], after: int) -> None:
    """Restore ``tables`` as they were when step ``after`` was checkpointed, then empty the journal."""
    for _, idx, old in reversed([r for r in records(path, tables) if r[0] > after]):
        for t, rows in zip(tables, old):
            t[idx] = rows
    for t in tables:
        t.flush()
    path.write_bytes(b"")


def records(path: Path, tables: list[np.ndarray]):
    """(step, idx, old rows per table) per complete record (a torn tail is ignored: its step had not yet
    changed the tables)."""
    data = path.read_bytes() if path.is_file() else b""
    widths = [(t.shape[1], t.dtype) for t in tables]
    pos = 0
    while pos + 16 <= len(data):
        step, k = (int(v) for v in np.frombuffer(data, dtype=np.int64, count=2, offset=pos))
        size = 16 + 8 * k + sum(k * w * dt.itemsize for w, dt in widths)
        if pos + size > len(data):
            break
        idx = np.frombuffer(data, dtype=np.int64, count=k, offset=pos + 16)
        at, old = pos + 16 + 8 * k, []
        for w, dt in widths:
            old.append(np.frombuffer(data, dtype=dt, count=k * w, offset=at).reshape(k, w))
            at += k * w * dt.itemsize
        yield step, idx, old
        pos += size
