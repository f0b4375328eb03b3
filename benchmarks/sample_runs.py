"""What the sample-based benchmarks share: the sample's trained single-owner documents, a config that
trains exactly as the sample's does on other data or targets, and running the ``attrib`` CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import yaml

ROOT = Path(__file__).resolve().parents[1]


MODEL_PATHS = ("path", "tokenizer", "base_weights")
DATA_PATHS = ("corpus", "holders", "generations", "generation_prompts", "reference", "token_cache")


def absolute_config(config_path: Path) -> dict:
    """The config (as YAML) with every file it names made absolute, so it can be written anywhere."""
    config_path = Path(config_path).resolve()
    raw = yaml.safe_load(config_path.read_text())
    for section, keys in (("model", MODEL_PATHS), ("data", DATA_PATHS)):
        for key in keys:
            if (raw.get(section) or {}).get(key):
                raw[section][key] = str((config_path.parent / raw[section][key]).resolve())
    return raw


def single_owner_documents(config_path: Path, corpus: Path | None = None
                           ) -> tuple[dict, list[dict], dict[str, list[dict]], set[str]]:
    """The config (as YAML), every corpus document (of ``corpus``, default the config's), per holder the documents
    it owns alone that the config's licence policy trains on (what a holder's value can be checked against), and
    the ids of all it trains on."""
    sys.path.insert(0, str(ROOT))
    from attribcli.rights.licenses import LicensePolicy, apply_policy

    config_path = Path(config_path).resolve()
    base = yaml.safe_load(config_path.read_text())
    corpus_path = Path(corpus).resolve() if corpus else (config_path.parent / base["data"]["corpus"]).resolve()
    docs = [json.loads(line) for line in corpus_path.read_text().splitlines() if line.strip()]
    policy = LicensePolicy.from_mapping(base.get("licenses"), file=str(config_path))
    outcome = apply_policy([SimpleNamespace(id=d["id"], license=d["license"], opt_out=d.get("opt_out", False))
                            for d in docs], policy, file=str(corpus_path))
    trained = {dec.id for dec in outcome.decisions if dec.train}
    by_holder: dict[str, list[dict]] = defaultdict(list)
    for d in docs:
        if d["id"] in trained and len(d["holders"]) == 1:
            by_holder[d["holders"][0]["id"]].append(d)
    return base, docs, dict(by_holder), trained


def sample_overrides(config_path: Path, base: dict, *, corpus: Path | None = None, generations: Path,
                     epochs: int | None = None, rule: str | None = None) -> dict:
    """``tests.runs.write_config`` overrides that train as ``config_path`` does (model, seed, training,
    licence policy, attribution), on ``corpus`` (default: the config's) with ``generations`` as targets."""
    here = Path(config_path).resolve().parent
    model = dict(base["model"])
    for key in ("base_weights", "tokenizer", "path"):
        if model.get(key):
            model[key] = str((here / model[key]).resolve())
    training = dict(base["training"])
    if epochs is not None:
        training["epochs"], training["max_steps"] = epochs, None
    overrides = dict(seed=base.get("seed", 7), model=model, training=training, licenses=base.get("licenses"),
                     data__corpus=str(corpus or (here / base["data"]["corpus"]).resolve()),
                     data__holders=str((here / base["data"]["holders"]).resolve()),
                     data__generations=str(generations))
    if base.get("attribution") or rule:
        overrides["attribution"] = {**(base.get("attribution") or {}), **({"rule": rule} if rule else {})}
        if rule == "path":
            overrides["attribution"].pop("order", None)
    return overrides


def attrib(*args) -> subprocess.CompletedProcess:
    """Run ``python -m attribcli ARGS`` from the checkout; exit with its stderr if it fails."""
    r = subprocess.run([sys.executable, "-m", "attribcli", *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if r.returncode != 0:
        sys.exit(f"attrib {args[0]} failed ({r.returncode}):\n{r.stderr}")
    return r
