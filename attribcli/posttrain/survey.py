"""``attrib survey RUN --generations PERIOD --sample K --seed S --name NAME``: a period valued from a sample.

A period holds more generations than an exact replay can value (a replay costs about a training run per
batch of generations). The survey draws K of them with probability proportional to revenue (sampling.py:
seeded, exact, re-drawable), values those exactly by replay (``RUN/valuations/NAME``: the sample's own
valuation, which ``attrib value`` and a plain ``attrib payout`` read as usual), and, with ``--auxiliary
index`` (a run trained with a gradient index), values every generation of the period from the index summed
per payee first (the product is ``[payees × dim]`` against each generation's projected gradient: no samples ×
generations table is built, whatever the period's size). Off by default: measured, the index's money per
generation agrees too little with the exact money to narrow the interval (benchmarks/RESULTS.md, A period at
volume). ``attrib payout RUN --survey NAME`` estimates every payee's money for the whole
period from them (money/survey.py), with a 95 % interval on each line.

Layout, ``RUN/surveys/NAME/`` (built in ``NAME.partial`` and renamed when complete; hashed in its manifest):

    design.csv            every generation of the period: id, revenue (minor units), inclusion probability,
                          taken with certainty, drawn
    sample.jsonl          the drawn generations, in the period's order (the replay's input)
    index/values.npy      (--auxiliary index) float64 [generations × payees]: each generation's value per
                          payee from the index
    index/losses.csv      (--auxiliary index) each generation's losses under the base and final weights
    manifest.json         the draw (seed, K, method), the period's hash, the run's and the sample valuation's
                          manifest hashes, the payees of index/values.npy, every file's hash
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from attribcli import sampling
from attribcli.audit.manifest import SURVEYS, VALUATIONS, output_hashes
from attribcli.errors import AttribError
from attribcli.files import atomic_write_text, locked, sha256_file
from attribcli.money.amounts import parse_amount
from attribcli.posttrain.astrained import as_trained
from attribcli.posttrain.payees import payee_pairs
from attribcli.posttrain.query import generation_gradients, generation_losses, payee_products
from attribcli.posttrain.replay import check_name, refuse_existing, replay
from attribcli.posttrain.rundir import MANIFEST, RunAltered, open_rights, partial_dir
from attribcli.training.setup import csv_text, write_generations

FORMAT = "attrib-survey-v1"
GENERATION_TILE = 4096  # generations per block of the payee product


def survey(run: Path, generations: Path, *, sample: int, seed: int, name: str, resume: bool = False,
           with_index: bool = False, log=print) -> Path:
    """Draw, replay and (``with_index``: from the run's gradient index) value the period per payee; returns
    ``RUN/surveys/NAME``."""
    run = Path(run)
    name = check_name(name)
    out = run / SURVEYS / name
    part = partial_dir(out)
    if sample < 1:
        raise AttribError("the sample must hold at least one generation", field="--sample", fix="e.g. --sample 200")
    out.parent.mkdir(exist_ok=True)
    with locked(out, field="--name", wait=False):  # one survey of a NAME at a time
        refuse_existing(out, part, name, resume, made="survey", making="survey")
        # the samples too (the sample's replay takes this prepared run), unless the replay is done already
        valued = (run / VALUATIONS / name / MANIFEST).is_file()
        prep, manifest, total = as_trained(run, generations, tokens=not valued)
        if with_index and "index" not in manifest:
            raise AttribError("the run has no gradient index", file=str(run / MANIFEST), field="--auxiliary",
                              fix="leave --auxiliary index out (the sample alone), or train with attribution.index")
        gens = prep.generations
        currency = prep.config.payout.currency
        revenue = [_minor(g, currency, generations) for g in gens]
        design = sampling.draw([g.id for g in gens], revenue, sample, seed)
        valuation = run / VALUATIONS / name
        if valuation.exists() and not (part / "sample.jsonl").is_file():
            raise AttribError(f"a valuation named '{name}' exists already: the survey writes its sample's there",
                              file=str(valuation), field="--name", fix="choose another name")
        part.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        atomic_write_text(part / "design.csv", csv_text(pd.DataFrame({
            "generation_id": list(design.ids), "revenue_minor": design.revenue,
            "inclusion": [repr(float(p)) for p in design.inclusion()],
            "certain": design.certain.astype(int), "selected": design.selected.astype(int)})))
        drawn = [g for g, s in zip(gens, design.selected) if s]
        write_generations(part / "sample.jsonl", drawn)
        log(f"drew {int(design.selected.sum())} of {len(gens)} generations "
            f"({int(design.certain.sum())} with certainty){' : a census' if design.census else ''}")
        if not valued:
            sample_file = (part / "sample.jsonl").resolve()
            config = dataclasses.replace(prep.config, data=dataclasses.replace(prep.config.data,
                                                                               generations=sample_file))
            replay(run, sample_file, name, resume=partial_dir(valuation).is_dir(), log=log,
                   prepared=(dataclasses.replace(prep, config=config, generations=drawn), manifest, total))
            if with_index and not design.census:  # the replay trained the model: the index pass needs the base
                prep = as_trained(run, generations, tokens=False)[0]
        vmanifest = json.loads((valuation / MANIFEST).read_text(encoding="utf-8"))
        if vmanifest.get("generations_input", {}).get("sha256") != sha256_file(part / "sample.jsonl"):
            raise AttribError(f"valuation '{name}' values other generations than this survey's sample",
                              file=str(valuation), field="--name", fix="choose another name")
        replayed = time.perf_counter() - started
        index = None
        if with_index and not design.census:
            tic = time.perf_counter()
            index = index_values(run, manifest["index"], prep, part / "index")
            log(f"{len(gens)} generations valued per payee from the index in {time.perf_counter() - tic:.1f}s")
            index["seconds"] = round(time.perf_counter() - tic, 3)
        body = {
            "format": FORMAT, "name": name, "run_manifest_sha256": sha256_file(run / MANIFEST),
            "generations_input": {"path": str(generations), "sha256": sha256_file(Path(generations))},
            "currency": currency.upper(), "generations": len(gens), "revenue_minor": int(design.revenue.sum()),
            "design": {"method": sampling.METHOD, "k": sample, "seed": seed, "drawn": int(design.selected.sum()),
                       "certain": int(design.certain.sum()), "census": design.census},
            "valuation": {"name": name, "manifest_sha256": sha256_file(valuation / MANIFEST),
                          "seconds": round(replayed, 3)},
            "index": index,
            "outputs": output_hashes(part),
        }
        atomic_write_text(part / MANIFEST, json.dumps(body, indent=2, sort_keys=True) + "\n")
        os.replace(part, out)
    return out


def _minor(g, currency: str, source: Path) -> int:
    if g.revenue is None:
        raise AttribError(f"generation '{g.id}' has no revenue, and a survey draws by revenue", file=str(source),
                          field="revenue", fix="add \"revenue\": \"0.02\" to every generation of the period")
    return parse_amount(g.revenue, currency, file=str(source), field="revenue")


def index_values(run: Path, info: dict, prep, folder: Path) -> dict:
    """Every generation's value per payee from the index (query.payee_products), written to ``folder``."""
    shutil.rmtree(folder, ignore_errors=True)  # cheap to make again after a kill
    folder.mkdir(parents=True)
    pairs = payee_pairs(open_rights(run))
    base, final, no_prompt = generation_losses(run, prep)
    grads = generation_gradients(run, info, prep, prep.generations, folder)
    payee_products(run, info, pairs, grads, folder / "values.npy.tmp")
    del grads
    os.replace(folder / "values.npy.tmp", folder / "values.npy")
    for k in range(len(info["points"])):
        (folder / f"gradients-{k}.npy").unlink()
    atomic_write_text(folder / "losses.csv", csv_text(pd.DataFrame({
        "generation_id": [g.id for g in prep.generations], "loss_reference": float(np.log(prep.tokenizer.vocab_size)),
        "loss_base": base, "loss_final": final, "loss_final_no_prompt": no_prompt})))
    return {"payees": pairs.order, "points": info["points"], "dim": info.get("dim"),
            "what": "each generation's value per payee: the index's rows summed per payee (by ownership share) "
                    "against the generation's projected gradient at each reference point"}


@dataclass(frozen=True)
class Survey:
    """A finished survey, read and checked: its draw and, with an index, every generation's value per payee."""

    path: Path
    manifest: dict
    design: sampling.Design
    inclusion: np.ndarray                     # π per generation, as the design says
    index_values: np.ndarray | None = None    # [generations × payees] memory-mapped
    index_payees: list[str] | None = None
    index_losses: pd.DataFrame | None = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def manifest_sha256(self) -> str:
        """What a statement names the survey by (its manifest hashes everything else)."""
        return sha256_file(self.path / MANIFEST)


def surveys(run: Path) -> list[str]:
    folder = Path(run) / SURVEYS
    return sorted(p.name for p in folder.iterdir() if (p / MANIFEST).is_file()) if folder.is_dir() else []


def open_survey(run: Path, name: str, *, check: bool = True) -> Survey:
    """``RUN/surveys/NAME``, checked first: made from this state of the run, every file as its manifest hashed
    it, and its sample the one its seed draws from the period's revenues (sampling.py). ``check=False``
    (verify, which lists the differences itself) reads it as it is."""
    run = Path(run)
    path = run / SURVEYS / name
    manifest = survey_manifest(run, name)
    try:
        design = pd.read_csv(path / "design.csv", dtype={"generation_id": str}, keep_default_na=False)
    except (OSError, ValueError) as e:
        raise AttribError(f"cannot be read ({e})", file=str(path), field="--survey",
                          fix="make the survey again with 'attrib survey'") from None
    drawn = redraw(manifest, design)
    if check:
        for problem in check_survey(run, path, manifest) + _redraw_problems(drawn, design, path):
            raise RunAltered(f"the survey is not as it was made: {problem}", file=str(path),
                             fix="make the survey again with 'attrib survey' (attrib verify lists every difference)")
    index = manifest.get("index")
    values = losses = None
    if index:
        values = np.load(path / "index/values.npy", mmap_mode="r", allow_pickle=False)
        losses = pd.read_csv(path / "index/losses.csv", dtype={"generation_id": str})
    return Survey(path, manifest, drawn, drawn.inclusion(), values,
                  index["payees"] if index else None, losses)


def survey_manifest(run: Path, name: str) -> dict:
    """``RUN/surveys/NAME/manifest.json``, as it is (``open_survey`` checks the rest against it), or the one line
    saying there is no such survey and which there are."""
    path = Path(run) / SURVEYS / name
    if not (path / MANIFEST).is_file():
        known = surveys(run)
        raise AttribError(f"no survey named '{name}' in this run", file=str(path), field="--survey",
                          fix=f"use one of: {', '.join(known)}" if known else "make one with 'attrib survey'")
    try:
        return json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise AttribError(f"cannot be read ({e})", file=str(path / MANIFEST), field="--survey",
                          fix="make the survey again with 'attrib survey'") from None


def redraw(manifest: dict, design: pd.DataFrame) -> sampling.Design:
    """The sample the survey's seed and K draw from the period's revenues in design.csv."""
    d = manifest["design"]
    return sampling.draw(design["generation_id"].tolist(), design["revenue_minor"].to_numpy(np.int64), int(d["k"]),
                         int(d["seed"]))


def _redraw_problems(drawn: sampling.Design, design: pd.DataFrame, path: Path) -> list[str]:
    same = np.array_equal(drawn.selected, design["selected"].to_numpy(bool)) and \
        np.array_equal(drawn.certain, design["certain"].to_numpy(bool)) and \
        np.allclose(drawn.inclusion(), design["inclusion"].to_numpy(np.float64), rtol=1e-15, atol=0)
    return [] if same else ["design.csv: not the sample its seed draws from the period's revenues"]


def survey_problems(run: Path, name: str) -> list[str]:
    """Everything that differs from what ``attrib survey`` made (verify lists them all)."""
    path = Path(run) / SURVEYS / name
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        design = pd.read_csv(path / "design.csv", dtype={"generation_id": str}, keep_default_na=False)
        problems = check_survey(Path(run), path, manifest) + _redraw_problems(redraw(manifest, design), design, path)
        return [f"{SURVEYS}/{name}: {p}" for p in problems]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return [f"{SURVEYS}/{name}: cannot be read ({type(e).__name__}: {e})"]


def check_survey(run: Path, path: Path, manifest: dict) -> list[str]:
    """What differs from the survey's manifest: the run it was made from, its sample's valuation, its files."""
    out = []
    if manifest.get("run_manifest_sha256") != sha256_file(run / MANIFEST):
        out.append("made from another state of the run (the run manifest hash it names differs)")
    valuation = run / VALUATIONS / manifest.get("valuation", {}).get("name", "")
    if not (valuation / MANIFEST).is_file() or \
            manifest["valuation"].get("manifest_sha256") != sha256_file(valuation / MANIFEST):
        out.append(f"its sample's valuation {valuation} is missing or was made again")
    recorded = manifest.get("outputs", {})
    found = output_hashes(path)
    out += [f"{f} changed" for f in sorted(recorded) if f in found and found[f] != recorded[f]]
    out += [f"{f} is missing" for f in sorted(set(recorded) - set(found))]
    out += [f"{f} was not written by the survey" for f in sorted(set(found) - set(recorded))]
    return out
