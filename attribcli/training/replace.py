"""``attrib train --overwrite``: replace a finished run without ever being left with none.

The new run is built beside the old one (``RUN.partial``), so a run killed at any moment before it is
complete leaves the old run as it was. Only then is it swapped in, by a short journal of renames that
any later attrib command finishes if it was killed half-way:

1. ``RUN.replacing`` is written (atomically): from here on the new run wins;
2. the old run's ``reports/`` (statements, ledgers: the books, which attrib never deletes) moves into the
   new run, with the old run's manifest kept as ``reports/replaced-runs/<sha256>/manifest.json`` so a
   statement of the old run can still be matched to the manifest it names;
3. ``RUN`` is renamed ``RUN.replaced``, ``RUN.partial`` renamed ``RUN``;
4. ``RUN.replaced`` (the old run's own files: its values, weights, valuations) is removed, then the journal.

The training run holds the run's lock (``RUN.lock``, files.locked) from its first look at the folders to
the end of the swap, so a second ``attrib train`` of the same run_dir is refused, and a reader that finds
the journal waits for it.

Every step checks where things are before it moves them, so running the journal again after a kill
between any two steps ends in the same place. Only a folder that is an attrib run is ever replaced:
anything else, or a run holding files attrib did not write outside ``reports/``, is refused.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from attribcli.audit.manifest import AFTER_TRAINING, REPORTS, RUN_FORMAT
from attribcli.errors import AttribError
from attribcli.files import atomic_write_bytes, atomic_write_text, is_temporary, locked, sha256_file

MANIFEST = "manifest.json"
JOURNAL = ".replacing"
OLD = ".replaced"


def _sibling(final: Path, suffix: str) -> Path:
    return final.with_name(final.name + suffix)


def require_run(final: Path) -> None:
    """``final`` is a finished attrib run holding nothing attrib did not write (outside ``reports/``), or the
    one-line error that names what makes it something else."""
    fix = "choose another run_dir (or --run-dir), or move the folder away yourself"
    try:
        manifest = json.loads((final / MANIFEST).read_text(encoding="utf-8"))
        ok = isinstance(manifest, dict) and manifest.get("format") == RUN_FORMAT
    except (OSError, ValueError, UnicodeDecodeError):
        ok = False
    if not ok:
        raise AttribError("--overwrite replaces only an attrib run, and this folder is not one (no attrib "
                          f"{MANIFEST})", file=str(final), field="run_dir", fix=fix)
    recorded = set(manifest.get("outputs") or {})
    for p in sorted(final.rglob("*")):
        rel = p.relative_to(final)
        if p.is_dir() or rel.parts[0] in AFTER_TRAINING or rel.as_posix() in recorded | {MANIFEST} \
                or is_temporary(p):  # an atomic write a kill interrupted
            continue
        raise AttribError(f"the run holds {rel.as_posix()}, which attrib did not write", file=str(final),
                          field="run_dir", fix="move that file out of the run first (reports/ is kept), or "
                                               "choose another run_dir")


def require_partial(part: Path) -> None:
    """``part`` is an interrupted attrib run (empty, or begun with attrib's resolved ``config.yaml``)."""
    import yaml

    if not part.is_dir():
        raise AttribError("not a folder", file=str(part), field="run_dir", fix="move it away, or choose another "
                                                                               "run_dir")
    if not any(part.iterdir()):
        return
    try:
        raw = yaml.safe_load((part / "config.yaml").read_text(encoding="utf-8"))
        ok = isinstance(raw, dict) and {"model", "data", "training"} <= set(raw)
    except (OSError, ValueError, UnicodeDecodeError, yaml.YAMLError):
        ok = False
    if not ok:
        raise AttribError("--overwrite removes an interrupted attrib run here, and this folder is not one",
                          file=str(part), field="run_dir", fix="move the folder away yourself, or choose another "
                                                               "run_dir")


def swap_in(part: Path, final: Path, log=None) -> None:
    """Make the complete run in ``part`` the run at ``final``, replacing the run there if any (steps above)."""
    if final.exists():
        require_run(final)  # checked at the start too; files may have been added while training ran
        old_sha = sha256_file(final / MANIFEST)
        atomic_write_text(_sibling(final, JOURNAL), json.dumps({"replaces": old_sha}) + "\n")
        if log:
            log(f"replacing {final} (--overwrite); its reports/ move to the new run")
        complete(final)
    else:
        os.replace(part, final)


def pending(final: Path) -> bool:
    """Whether a replacement of ``final`` was killed half-way (its journal is there)."""
    return _sibling(final, JOURNAL).is_file()


def finish(final: Path) -> None:
    """Run the journal of an interrupted replacement to its end (a no-op when there is none). Every command
    that opens a run calls this first; it waits for the run's lock, which a training run swapping itself in
    holds."""
    if not _sibling(final, JOURNAL).is_file():
        return
    with locked(final, field="run_dir"):
        complete(final)


def complete(final: Path) -> None:
    """``finish`` for the holder of the run's lock (the training run)."""
    journal = _sibling(final, JOURNAL)
    if not journal.is_file():
        return
    part, old = _sibling(final, ".partial"), _sibling(final, OLD)
    if part.is_dir() and final.is_dir():
        reports = final / REPORTS
        if reports.is_dir() and not (part / REPORTS).exists():
            kept = reports / "replaced-runs" / sha256_file(final / MANIFEST) / MANIFEST
            if not kept.is_file():
                atomic_write_bytes(kept, (final / MANIFEST).read_bytes())
            os.replace(reports, part / REPORTS)
        if not old.exists():
            os.replace(final, old)
    if part.is_dir() and not final.exists():
        os.replace(part, final)
    if old.exists():
        shutil.rmtree(old)
    journal.unlink(missing_ok=True)
