"""Small real runs for the tests: the sample data, a tiny model, a few steps."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def write_config(folder: Path, *, data: Path = SAMPLE, **overrides) -> Path:
    """A config in ``folder`` training a 1-layer GPT for 4 steps on ``data`` (the sample by default)."""
    cfg = {
        "run_dir": "run",
        "seed": 7,
        "model": {"n_layer": 1, "n_head": 2, "n_embd": 32, "context_length": 256},
        "data": {"corpus": str(data / "corpus.jsonl"), "holders": str(data / "holders.csv"),
                 "generations": str(data / "generations.jsonl")},
        "training": {"max_steps": 4, "batch_size": 8, "lr": 0.05, "checkpoint_every": 2},
        # as the sample: a commercial run that leaves the sample's non-commercial documents out
        "licenses": {"run_use": "commercial", "trainable": ["commercial", "unspecified"]},
    }
    for key, value in overrides.items():
        section, _, name = key.partition("__")
        if name:
            cfg.setdefault(section, {})[name] = value
        else:
            cfg[section] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def copy_sample(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("corpus.jsonl", "holders.csv", "generations.jsonl"):
        shutil.copy(SAMPLE / name, folder / name)
    return folder


def short_reference(folder: Path) -> Path:
    """The sample's reference texts, cut to fit the byte-level test model's context."""
    import json

    ref = folder / "reference.jsonl"
    ref.write_text("".join(json.dumps({**r, "completion": r["completion"][:200]}) + "\n" for r in map(
        json.loads, (SAMPLE / "reference.jsonl").read_text().splitlines())))
    return ref


def reference_run(folder: Path, **overrides) -> Path:
    """A small run trained with reference texts (data.reference): every value has a specific and a shared part."""
    from click.testing import CliRunner

    from attribcli.cli import main

    folder.mkdir(parents=True, exist_ok=True)
    overrides = {"training__max_steps": 6, **overrides}
    cfg = write_config(folder, data__reference=str(short_reference(folder)), **overrides)
    r = CliRunner().invoke(main, ["train", str(cfg)])
    assert r.exit_code == 0, r.output
    return folder / "run"
