"""manifest.json: SHA-256 of every input and output of a run, and the method used.

Written last, so its presence marks a complete run; ``attrib verify`` recomputes every hash in it.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

from attribcli import __version__
from attribcli.files import atomic_write_text, sha256_file, sha256_path


def method_description(rule, attribution, lora: dict | None = None) -> dict:
    """What the values are and what they approximate, for the manifest and the reports (``rule``: the
    optimizer's inrun.optim.UpdateRule; ``attribution``: the config's AttributionConfig)."""
    path, order = attribution.rule == "path", attribution.order
    out = {
        "parameters": (f"LoRA adapters only (rank {lora['rank']}, alpha {lora['alpha']}, {len(lora['layers'])} "
                       "layers); every other weight frozen and outside the values; adapters merged into model.pt"
                       if lora else "every weight of the model"),
        "name": ("In-Run Data Shapley, path-integrated over each step (Aumann-Shapley; Wang et al., 2024)" if path else
                 f"In-Run Data Shapley, {'second' if order == 2 else 'first'} order (Wang et al., 2024)"),
    }
    if path:
        out |= {
            "rule": "path", "path_tolerance": attribution.path_tolerance,
            "path_max_nodes": attribution.path_max_nodes, "optimizer_rule": rule.name,
            "formula": "phi_t[z, v] = integral over a in [0, 1] of <u_z, grad l_v(w_t - a Delta_t)>, by the "
                       "trapezoid rule on the gradients at w_t and w_{t+1}; while |realised - sum of values - carry| "
                       "> path_tolerance of the step's change, the interval is halved (a target pass per new node) "
                       f"and the composite Simpson rule taken on the nodes; u_z: {rule.formula}",
            "approximates": "the Aumann-Shapley value of each step's realised change of the generation's loss: "
                            "along the step's straight line the values and the carry's own integral add up to "
                            "the realised change exactly; the quadrature's residual is measured at every step "
                            f"(target_steps.csv: nodes); u_z is {rule.approximates}",
        }
    else:
        out |= {
            "order": order,
            "optimizer_rule": rule.name,
            "formula": rule.formula + ("; plus phi2[z, v] = -<u_z, H_v (carry + 1/2 sum_z' u_z')> (Hessian of the "
                                       "generation's loss, one forward-over-reverse pass per step)" if order == 2
                                       else ""),
            "approximates": rule.approximates + ("; second order: the Shapley value of the step's utility to second "
                                                 "order in the update" if order == 2 else
                                                 "; to first order in the update"),
        }
    return out | {
        "per_sample_gradients": "never materialized for the targets' sake: ghost dot-products or per-layer "
                                "materialization, whichever is cheaper, from captured inputs and output gradients",
        "target_loss": "mean next-token cross-entropy (nats) over the completion tokens, given the prompt",
    }


RUN_FORMAT = "attrib-run-v1"  # what manifest.json says a run is (replace.py: only such a folder is replaced)
REPORTS = "reports"  # reports written after training live here; verify re-derives them instead of hashing
VALUATIONS = "valuations"  # replays written after training: each hashed in its own manifest
SURVEYS = "surveys"  # sample surveys of a period (posttrain/survey.py): each hashed in its own manifest
AFTER_TRAINING = (REPORTS, VALUATIONS, SURVEYS)  # folders later commands write into a run: not its outputs


def output_hashes(run_path: Path, leaving: tuple[str, ...] = ()) -> dict[str, str]:
    """SHA-256 of every file the run wrote, except the manifest itself, what later commands write
    (``AFTER_TRAINING``) and what the run removes once its manifest is written (``leaving``: files or folders)."""
    out = {}
    for p in sorted(run_path.rglob("*")):
        rel = p.relative_to(run_path)
        if p.is_file() and p.name != "manifest.json" and not p.name.endswith(".tmp") \
                and rel.parts[0] not in AFTER_TRAINING \
                and not any(rel.as_posix() == x or rel.as_posix().startswith(x + "/") for x in leaving):
            out[rel.as_posix()] = sha256_file(p)
    return out


def write_manifest(run_path: Path, *, inputs: dict[str, Path], input_hashes: dict[str, str], summary: dict,
                   method: dict, leaving: tuple[str, ...] = ()) -> dict:
    """Written last: its presence marks the run complete. ``leaving``: the checkpoint and tally, removed only
    after it, so a run killed before the manifest exists still resumes from its checkpoint."""
    manifest = {
        "format": RUN_FORMAT,
        "attrib_version": __version__,
        "inputs": {name: {"path": str(path), "sha256": input_hashes[name]} for name, path in inputs.items()},
        "outputs": output_hashes(run_path, leaving),
        "method": method,
        "environment": {"python": platform.python_version(), "torch": torch.__version__,
                        "platform": platform.platform()},
        **summary,
    }
    atomic_write_text(run_path / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def check_manifest(run_path: Path) -> list[str]:
    """Every difference between the run as it is and as its manifest recorded it (empty = intact)."""
    manifest = json.loads((run_path / "manifest.json").read_text(encoding="utf-8"))
    return check_outputs(run_path, manifest) + check_inputs(manifest)


def check_outputs(run_path: Path, manifest: dict) -> list[str]:
    """Every file of the run that differs from, is missing from, or was added to its manifest's outputs."""
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
    return problems


def check_inputs(manifest: dict, names=None) -> list[str]:
    """Every input the run was trained on (or those of ``names`` it had) that is gone or changed at its path."""
    problems = []
    for name, rec in sorted(manifest.get("inputs", {}).items()):
        if names is not None and name not in names:
            continue
        p = Path(rec["path"])
        if not p.exists():
            problems.append(f"input {name} ({p}): not found")
        elif sha256_path(p) != rec["sha256"]:
            problems.append(f"input {name} ({p}): changed since training")
    return problems
