"""Peak resident memory of this process, for the benchmarks that run each mode in a child process.

Linux keeps ``getrusage().ru_maxrss`` across fork + exec, so a child started by a parent that held a
lot of memory reports the parent's peak; ``VmHWM`` in /proc is the high-water mark of this process's
own address space, which starts afresh at exec. Elsewhere, ru_maxrss is the best there is.
"""

from __future__ import annotations

import resource
import sys


def peak_rss_bytes() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
