"""Atomic writes and hashing: a file is either absent or complete, never half-written."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

TEMPORARY_SUFFIX = ".tmp"


def temporaries(folder: Path, name: str = "*", *, recursive: bool = False):
    """The ``.NAME.XXXXXXXX.tmp`` files ``atomic_write_bytes`` leaves when killed before its rename (of the
    file ``name`` in ``folder``, or of any; ``recursive``: in the folders below too)."""
    pattern = f".{name}.*{TEMPORARY_SUFFIX}"
    return (p for p in (Path(folder).rglob(pattern) if recursive else Path(folder).glob(pattern)) if p.is_file())


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is named like a temporary file of ``atomic_write_bytes``."""
    return Path(path).name.startswith(".") and Path(path).name.endswith(TEMPORARY_SUFFIX)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; a report should read like any other file
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_torch_save(obj, path: Path) -> None:
    import io

    import torch

    buf = io.BytesIO()
    torch.save(obj, buf)
    atomic_write_bytes(path, buf.getvalue())


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_dir(path: Path) -> str:
    """One hash for a directory: SHA-256 over each file's relative path and content hash, sorted."""
    h = hashlib.sha256()
    for p in sorted(Path(path).rglob("*")):
        if p.is_file():
            h.update(f"{p.relative_to(path).as_posix()}\0{sha256_file(p)}\n".encode())
    return h.hexdigest()


def sha256_path(path: Path) -> str:
    return sha256_dir(path) if Path(path).is_dir() else sha256_file(path)


LOCK_SUFFIX = ".lock"


@contextlib.contextmanager
def locked(path: Path, *, field: str | None = None, wait: bool = True):
    """Hold an exclusive lock on ``path`` for the block: one writer at a time for a file attrib updates in
    place (a ledger, a run directory being built).

    The lock is ``flock`` on a sibling ``<name>.lock`` file, never on ``path`` itself: an atomic write
    replaces ``path``'s inode, so a lock on it would guard a file nobody reads any more. The kernel drops
    the lock when the process dies (SIGKILL included), so no stale lock outlives a killed command; the
    empty lock file is left in place (removing it would let two processes lock two different inodes).
    ``wait=False``: refuse at once, in one line, when another command holds it (a run being trained).
    """
    import fcntl

    from attribcli.errors import AttribError

    path = Path(path)
    lock = path.with_name(path.name + LOCK_SUFFIX)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise AttribError(f"cannot create the lock file {lock.name} beside it ({exc.strerror})", file=str(path),
                          field=field, fix="use a folder you can write to") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AttribError("another attrib command is writing it right now", file=str(path), field=field,
                              fix="wait for that command to finish (or stop it), then run this again") from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
