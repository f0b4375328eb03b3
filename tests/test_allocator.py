"""The allocator setting keeps a step's freed blocks for the next step: measured as page faults, in a fresh
process each (the setting is process-wide)."""

import os
import subprocess
import sys

import pytest

from attribcli.allocator import keep_freed_memory

FAULTS = """
import resource, sys, torch
from attribcli.allocator import keep_freed_memory
tuned = keep_freed_memory() if sys.argv[1] == "tune" else False
for _ in range(20):  # warm: the first blocks are faulted in either way (and torch sets up its own)
    x = torch.ones(4 << 20); del x
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):  # 16 MiB taken and freed, as a step's per-sample gradients are
    x = torch.ones(4 << 20); del x
print(tuned, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str, **env) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True,
                         env={**os.environ, **env}).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_freed_blocks_are_reused_instead_of_faulted_in_again():
    clean = {k: "" for k in ("ATTRIB_SYSTEM_MALLOC", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    tuned, faults_tuned = _faults("tune", **clean)
    if tuned != "True":
        pytest.skip("not glibc's malloc")
    _, faults_plain = _faults("plain", **clean)
    assert faults_plain >= 20 * 4096 // 2   # 16 MiB of fresh 4 KiB pages each time, without the setting
    assert faults_tuned < faults_plain / 20


def test_left_alone_when_asked(monkeypatch):
    monkeypatch.setenv("ATTRIB_SYSTEM_MALLOC", "1")
    assert keep_freed_memory() is False
