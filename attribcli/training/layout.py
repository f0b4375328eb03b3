"""The run directory's fixed names, which training writes and every later command reads (posttrain/rundir.py
holds the whole layout and its reader): here, below both, so training needs nothing of the reader."""

from __future__ import annotations

from pathlib import Path

MANIFEST = "manifest.json"
CHECKPOINT = "checkpoints/last.pt"


def partial_dir(run_dir: Path) -> Path:
    """Where a run (or a valuation, a survey) is built before it is renamed complete."""
    return run_dir.with_name(run_dir.name + ".partial")
