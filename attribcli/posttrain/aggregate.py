"""Sums of the value table by group (payee, licence, document) in bounded memory.

The value table is ``[samples × generations]`` float64, memory-mapped from ``values.npy``: a run of
10 million samples and 100 generations is 8 GB, more than a reporting machine should hold. Every
aggregate attrib reports is a weighted sum of its rows, ``out[g] += w · values[row]`` over
(row, group, weight) pairs (a co-owned document's sample has one pair per owner, weighted by share),
so the table is read once, a chunk of rows at a time, and each chunk is added into the small
``[groups × generations]`` result. Memory: one chunk plus the result, whatever the corpus size.

The adds run in pair order inside each chunk and chunks in row order, so the result is the same to
the last bit on every run (torch's CPU ``index_add_`` accumulates sequentially per output row).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import torch

CHUNK_BYTES = 64 << 20  # rows read per chunk: about 64 MiB of the value table


def group_sums(values: np.ndarray, rows: np.ndarray, groups: np.ndarray, weights: np.ndarray | None,
               n_groups: int, *, chunk_bytes: int = CHUNK_BYTES) -> np.ndarray:
    """``[n_groups, M]``: ``Σ weights[k] · values[rows[k]]`` into ``groups[k]``, for pairs sorted by row.

    ``values`` may be a ``np.memmap`` (only the chunks in use are paged in). ``weights=None``: all 1."""
    rows = np.asarray(rows, dtype=np.int64)
    groups = np.asarray(groups, dtype=np.int64)
    if len(rows) and np.any(rows[1:] < rows[:-1]):
        raise ValueError("pairs must be sorted by row")
    N, M = values.shape
    out = torch.zeros(n_groups, M, dtype=torch.float64)
    step = max(1, chunk_bytes // max(1, M * 8))
    bounds = np.searchsorted(rows, np.arange(0, N + step, step))
    for c, start in enumerate(range(0, N, step)):
        lo, hi = bounds[c], bounds[c + 1]
        if lo == hi:
            continue
        block = _rows(values, start, min(step, N - start))
        local = rows[lo:hi] - start
        one_per_row = len(local) == len(block) and (len(local) < 2 or bool(np.all(np.diff(local) == 1)))
        picked = block if one_per_row and local[0] == 0 else block[local]  # no copy in the common case
        if weights is not None:
            picked = picked * np.asarray(weights[lo:hi], dtype=np.float64)[:, None]
        out.index_add_(0, _tensor(groups[lo:hi]), _tensor(np.ascontiguousarray(picked)))
    return out.numpy()


def _tensor(a: np.ndarray) -> torch.Tensor:
    """A view for reading; a read-only array (a run's table loaded read-only) is copied rather than shared,
    which torch would warn about."""
    return torch.from_numpy(a if a.flags.writeable else a.copy())


def _rows(values: np.ndarray, start: int, count: int) -> np.ndarray:
    """Rows ``start:start+count`` as float64. From a memory-mapped ``.npy`` they are read with one
    ``pread`` rather than through the mapping: mapped pages would stay resident in this process until
    the whole table had been (the kernel's page cache still serves repeated reads)."""
    whole = isinstance(values, np.memmap) and values.filename and values.flags.c_contiguous and \
        values.offset + values.nbytes == os.path.getsize(values.filename)  # not a slice of the mapping
    if whole:
        M = values.shape[1]
        with open(values.filename, "rb") as fh:
            at = values.offset + start * M * values.itemsize
            block = np.fromfile(fh, dtype=values.dtype, count=count * M, offset=at)
        return block.reshape(count, M).astype(np.float64, copy=False)
    return np.asarray(values[start:start + count], dtype=np.float64)


def count_non_finite(values: np.ndarray, *, chunk_bytes: int = CHUNK_BYTES) -> int:
    """How many entries of the value table are NaN or infinite, read a chunk of rows at a time: a damaged
    ``values.npy`` must be named, not summed into every payee's total (and then into a traceback)."""
    N, M = values.shape
    step = max(1, chunk_bytes // max(1, M * 8))
    return sum(int(np.count_nonzero(~np.isfinite(_rows(values, start, min(step, N - start)))))
               for start in range(0, N, step))


def codes(labels, order) -> np.ndarray:
    """Integer codes of ``labels`` by their position in ``order`` (every label must be in it)."""
    found = pd.Index(order).get_indexer(pd.Index(labels))
    if len(found) and found.min() < 0:
        raise KeyError(f"not in the order: {labels[int(np.argmin(found))]!r}")
    return found.astype(np.int64)
