"""Atomic writes: complete or absent, and with the permissions a plain open() would give."""

import os

import pytest

from attribcli.files import atomic_write_text, sha256_file


def test_atomic_write_replaces_whole_file_with_umask_permissions(tmp_path):
    p = tmp_path / "sub" / "report.md"
    atomic_write_text(p, "first")
    atomic_write_text(p, "second")
    assert p.read_text() == "second"
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [f.name for f in p.parent.iterdir()] == ["report.md"]  # no temp files left


def test_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "r.csv"
    atomic_write_text(p, "old")

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_text(p, "new")
    assert p.read_text() == "old" and [f.name for f in tmp_path.iterdir()] == ["r.csv"]
    assert len(sha256_file(p)) == 64
