"""Keep freed memory in the process between steps, instead of handing it back to the kernel.

glibc's malloc returns every block above its mmap threshold to the kernel when it is freed, and its heap's
top above the trim threshold; the next step's tensors of the same sizes (a step's per-sample gradients, the
logits and their gradient) then come as fresh pages, each faulted in and zeroed by the kernel. A tracked
step frees and takes about 140 MB of such blocks on the sample model: 36,000 page faults and 0.14 s of
kernel time a step, a quarter of the step (benchmarks/RESULTS.md, "Side by side"). Raising the mmap
threshold to glibc's ceiling and the trim threshold out of reach keeps freed blocks for reuse; the peak is
the same, the resident set no longer falls back between steps. The usual cure, an allocator such as
jemalloc or tcmalloc loaded with LD_PRELOAD (PyTorch's CPU tuning guide), needs a library installed; this
needs none. Set ``ATTRIB_SYSTEM_MALLOC=1``, or glibc's own ``MALLOC_MMAP_THRESHOLD_`` /
``MALLOC_TRIM_THRESHOLD_``, to leave malloc as it is.
"""

from __future__ import annotations

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 32 << 20   # glibc's ceiling for it on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX): larger is refused
TRIM_THRESHOLD = 2**31 - 1  # the most mallopt takes (an int): the heap's top is trimmed only past 2 GiB free
LEAVE = ("ATTRIB_SYSTEM_MALLOC", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_freed_memory() -> bool:
    """Tune glibc's malloc as above, once per process; whether it was (False off glibc or when asked not to)."""
    if not sys.platform.startswith("linux") or any(os.environ.get(k) for k in LEAVE):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no tunable thresholds)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # the mmap threshold first: a trim threshold set alone also pins the mmap one at its small default
    if mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        return False
    return mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
