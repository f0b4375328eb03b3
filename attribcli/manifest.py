"""manifest.json: SHA-256 of every input and output of a run, and the method used.

Written last, so its presence marks a complete run; ``attrib verify`` recomputes every hash in it.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from attribcli import __version__
from attribcli.files import atomic_write_text, sha256_file

METHOD_SGD_ORDER1 = {
    "name": "In-Run Data Shapley, first order (Wang et al., 2024)",
    "optimizer_rule": "sgd",
    "formula": "phi[z, v] = sum over steps t with z in batch B_t of  lr_t * <grad l(w_t, z) / |B_t|, grad l(w_t, v)>",
    "approximates": "the Shapley value of z in each step's game U_t(S) = l(w_t, v) - l(w_t - lr_t * sum_{z in S} "
                    "grad l(z) / |B_t|, v), to first order in lr_t; exact for plain SGD (no momentum, no weight decay)",
    "per_sample_gradients": "never materialized: ghost dot-products per layer from captured inputs and output gradients",
    "target_loss": "mean next-token cross-entropy (nats) over the completion tokens, given the prompt",
}


REPORTS = "reports"  # reports written after training live here; verify re-derives them instead of hashing


def output_hashes(run_path: Path) -> dict[str, str]:
    """SHA-256 of every file the run wrote, except the manifest itself and ``reports/``."""
    out = {}
    for p in sorted(run_path.rglob("*")):
        rel = p.relative_to(run_path)
        if p.is_file() and p.name != "manifest.json" and not p.name.endswith(".tmp") and rel.parts[0] != REPORTS:
            out[rel.as_posix()] = sha256_file(p)
    return out


def write_manifest(run_path: Path, *, inputs: dict[str, Path], input_hashes: dict[str, str], summary: dict) -> dict:
    manifest = {
        "format": "attrib-run-v1",
        "attrib_version": __version__,
        "inputs": {name: {"path": str(path), "sha256": input_hashes[name]} for name, path in inputs.items()},
        "outputs": output_hashes(run_path),
        "method": METHOD_SGD_ORDER1,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "platform": platform.platform()},
        **summary,
    }
    atomic_write_text(run_path / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def check_manifest(run_path: Path) -> list[str]:
    """Every difference between the run as it is and as its manifest recorded it (empty = intact)."""
    manifest = json.loads((run_path / "manifest.json").read_text(encoding="utf-8"))
    problems = []
    recorded = manifest.get("outputs", {})
    actual = output_hashes(run_path)
    for rel, digest in sorted(recorded.items()):
        if rel not in actual:
            problems.append(f"{rel}: missing from the run")
        elif actual[rel] != digest:
            problems.append(f"{rel}: changed since training (sha256 {actual[rel][:12]}…, manifest {digest[:12]}…)")
    for rel in sorted(set(actual) - set(recorded)):
        problems.append(f"{rel}: not in the manifest (added after training)")
    for name, rec in sorted(manifest.get("inputs", {}).items()):
        p = Path(rec["path"])
        if not p.is_file():
            problems.append(f"input {name} ({p}): not found")
        elif sha256_file(p) != rec["sha256"]:
            problems.append(f"input {name} ({p}): changed since training")
    return problems
