"""attrib survey: a period drawn by revenue, its sample replayed, every generation valued per payee from the
index; attrib payout --survey estimates the period with an interval per line; verify re-derives it."""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.training.loop import KILL_ENV
from tests.runs import ROOT, SAMPLE, write_config

INDEX = {"dim": 256, "segments": 2}


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _period(path, n=40, seed=0, revenue=True):
    """n generations made from the sample's 8 (their words shuffled), revenues from 0.02 to 3.50."""
    gens = [json.loads(line) for line in (SAMPLE / "generations.jsonl").read_text().splitlines()]
    rng = random.Random(seed)
    out = []
    for i in range(n):
        g = dict(gens[i % 8], id=f"p{i:03d}")
        words = g["completion"].split(" ")
        rng.shuffle(words)
        g["completion"] = " ".join(words)
        g["revenue"] = f"{rng.choice([0.02, 0.05, 0.10, 1.00, 3.50]):.2f}"
        if not revenue and i == 5:
            del g["revenue"]
        out.append(g)
    path.write_text("".join(json.dumps(g) + "\n" for g in out))
    return path


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("indexed")
    cfg = write_config(folder, attribution={"rule": "taylor", "index": INDEX})
    assert _invoke("train", cfg).exit_code == 0
    return folder / "run", _period(folder / "period.jsonl")


def _survey(run, period, name, k, seed=3, *extra):
    r = _invoke("survey", run, "--generations", period, "--sample", k, "--seed", seed, "--name", name, *extra)
    assert r.exit_code == 0, r.output
    return run / "surveys" / name


def test_a_survey_statement_estimates_every_line_sums_to_the_revenue_and_re_derives(indexed, tmp_path):
    run, period = indexed
    out = _survey(run, period, "s12", 12, 3, "--auxiliary", "index")
    man = json.loads((out / "manifest.json").read_text())
    assert man["design"]["drawn"] == 12 and man["generations"] == 40 and not man["design"]["census"]
    design = pd.read_csv(out / "design.csv", dtype={"generation_id": str})
    assert design["selected"].sum() == 12 and len(design) == 40
    assert len((out / "sample.jsonl").read_text().splitlines()) == 12
    assert np.load(out / "index/values.npy").shape == (40, len(man["index"]["payees"]))
    assert len(json.loads((run / "valuations/s12/manifest.json").read_text())["outputs"]) > 0
    for fmt in ("md", "csv", "json"):
        report = tmp_path / f"s.{fmt}"
        r = _invoke("payout", run, "--survey", "s12", "--format", fmt, "-o", report)
        assert r.exit_code == 0, r.output
        r = _invoke("verify", run, report)
        assert r.exit_code == 0 and "re-derives exactly" in r.output, r.output
    doc = json.loads((tmp_path / "s.json").read_text())
    revenue = sum(round(float(json.loads(x)["revenue"]) * 100) for x in period.read_text().splitlines())
    assert doc["estimator"] == "difference" and doc["revenue_minor"] == revenue
    assert sum(x["amount_minor"] for x in doc["lines"]) == revenue
    holders = [x for x in doc["lines"] if x["kind"] == "holder" and x["amount_minor"] > 0]
    assert holders and all(x["interval_low_minor"] <= x["estimate_minor"] <= x["interval_high_minor"]
                           for x in holders)
    assert any(x["interval_high_minor"] > x["interval_low_minor"] for x in holders)
    md = (tmp_path / "s.md").read_text()
    assert "95 % interval" in md and "difference estimator" in md and "12 generations" in md
    csv = pd.read_csv(tmp_path / "s.csv")
    assert {"estimate_minor", "interval_low_minor", "interval_high_minor", "survey"} <= set(csv.columns)


def test_a_census_is_exactly_the_statement_of_every_generation_replayed(indexed, tmp_path):
    run, period = indexed
    _survey(run, period, "all", 40)
    assert _invoke("payout", run, "--survey", "all", "-o", tmp_path / "census.csv").exit_code == 0
    r = _invoke("payout", run, "--valuation", "all", "--revenue-from-generations", "-o", tmp_path / "exact.csv")
    assert r.exit_code == 0, r.output
    census = pd.read_csv(tmp_path / "census.csv").set_index("payee_id")
    exact = pd.read_csv(tmp_path / "exact.csv").set_index("payee_id")["amount_minor"]
    assert census["amount_minor"].reindex(exact.index).fillna(0).astype(int).equals(exact)
    assert (census["interval_low_minor"] == census["amount_minor"]).all()
    assert (census["interval_high_minor"] == census["amount_minor"]).all()
    assert set(census["estimator"]) == {"census"}
    # the survey's replay takes the run it prepared for the period: the same bytes as a replay of its own
    r = _invoke("replay", run, "--generations", run / "surveys/all/sample.jsonl", "--name", "again")
    assert r.exit_code == 0, r.output
    for name in ("values.npy", "losses.csv", "steps.csv", "target_steps.csv"):
        assert (run / "valuations/all" / name).read_bytes() == (run / "valuations/again" / name).read_bytes(), name


def test_an_altered_design_is_refused_and_verify_names_it(indexed, tmp_path):
    run, period = indexed
    out = _survey(run, period, "forged", 12)
    design = out / "design.csv"
    original, manifest = design.read_text(), (out / "manifest.json").read_text()
    d = pd.read_csv(design, dtype={"generation_id": str})
    drop = d.index[(d["selected"] == 1) & (d["certain"] == 0)][0]
    swap = d.index[d["selected"] == 0][0]
    d.loc[[drop, swap], "selected"] = [0, 1]  # another sample, its hash put in the manifest too
    from attribcli.files import sha256_file
    from attribcli.training.setup import csv_text

    design.write_text(csv_text(d))
    m = json.loads(manifest)
    m["outputs"]["design.csv"] = sha256_file(design)
    (out / "manifest.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    r = _invoke("payout", run, "--survey", "forged", "-o", tmp_path / "f.csv")
    assert r.exit_code == 1 and "not the sample its seed draws" in r.output  # exit 1: an altered run
    assert "Traceback" not in r.output
    assert not (tmp_path / "f.csv").exists()
    r = _invoke("verify", run)
    assert r.exit_code == 1 and "surveys/forged: design.csv: not the sample its seed draws" in r.output
    (out / "manifest.json").write_text(manifest)  # the design edited alone: its hash differs
    r = _invoke("verify", run)
    assert r.exit_code == 1 and "surveys/forged: design.csv changed" in r.output
    design.write_text(original)
    assert _invoke("verify", run).exit_code == 0


def test_without_an_index_the_estimate_is_horvitz_thompson(tmp_path):
    cfg = write_config(tmp_path, attribution={"rule": "taylor"})
    assert _invoke("train", cfg).exit_code == 0
    run = tmp_path / "run"
    r = _invoke("survey", run, "--generations", _period(tmp_path / "p.jsonl"), "--sample", 10, "--name", "x",
                "--auxiliary", "index")
    assert r.exit_code == 2 and "no gradient index" in r.output
    assert not any((run / d / n).exists() for d in ("surveys", "valuations") for n in ("x", "x.partial"))
    out = _survey(run, _period(tmp_path / "period.jsonl"), "ht", 10)
    assert not (out / "index").exists() and json.loads((out / "manifest.json").read_text())["index"] is None
    r = _invoke("payout", run, "--survey", "ht", "--format", "json", "-o", tmp_path / "ht.json")
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "ht.json").read_text())["estimator"] == "horvitz-thompson"
    r = _invoke("payout", run, "--survey", "ht", "--auxiliary", "index")
    assert r.exit_code == 2 and "--auxiliary" in r.output and "no index values" in r.output


def test_a_survey_leaves_the_index_out_unless_asked(indexed, tmp_path):
    run, period = indexed
    out = _survey(run, period, "plain", 12)
    assert json.loads((out / "manifest.json").read_text())["index"] is None and not (out / "index").exists()
    r = _invoke("payout", run, "--survey", "plain", "--format", "json", "-o", tmp_path / "p.json")
    assert r.exit_code == 0 and json.loads((tmp_path / "p.json").read_text())["estimator"] == "horvitz-thompson"


def test_the_index_can_be_left_out_of_the_estimate(indexed, tmp_path):
    run, period = indexed
    if not (run / "surveys/s12").is_dir():
        _survey(run, period, "s12", 12, 3, "--auxiliary", "index")
    report = tmp_path / "ht.csv"
    r = _invoke("payout", run, "--survey", "s12", "--auxiliary", "none", "-o", report)
    assert r.exit_code == 0, r.output
    assert set(pd.read_csv(report)["estimator"]) == {"horvitz-thompson"}
    assert _invoke("verify", run, report).exit_code == 0
    r = _invoke("payout", run, "--revenue", "10", "--auxiliary", "none")
    assert r.exit_code == 2 and "--auxiliary goes with --survey" in r.output


@pytest.mark.parametrize("args, field", [
    (["--floor", "1"], "--floor"), (["--ledger", "L.json"], "--ledger"), (["--revenue", "10"], "--revenue"),
    (["--detail"], "--detail"), (["--holder", "h01"], "--holder"),
])
def test_payout_options_a_survey_cannot_honour_are_refused_in_one_line(indexed, args, field):
    run, period = indexed
    if not (run / "surveys/s12").is_dir():
        _survey(run, period, "s12", 12, 3, "--auxiliary", "index")
    r = _invoke("payout", run, "--survey", "s12", *args)
    assert r.exit_code == 2 and field in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_bad_survey_inputs_get_one_line(indexed, tmp_path):
    run, period = indexed
    r = _invoke("survey", run, "--generations", _period(tmp_path / "p.jsonl", revenue=False), "--sample", 5,
                "--name", "norev")
    assert r.exit_code == 2 and "revenue" in r.output and "p.jsonl" in r.output
    assert not (run / "surveys/norev").exists() and not (run / "surveys/norev.partial").exists()
    r = _invoke("payout", run, "--survey", "nosuch")
    assert r.exit_code == 2 and "no survey named 'nosuch'" in r.output
    if not (run / "surveys/s12").is_dir():
        _survey(run, period, "s12", 12, 3, "--auxiliary", "index")
    r = _invoke("survey", run, "--generations", period, "--sample", 5, "--name", "s12")
    assert r.exit_code == 2 and "already exists" in r.output


def test_a_killed_survey_resumes_to_the_same_bytes(indexed, tmp_path):
    run, period = indexed
    whole = _survey(run, period, "whole", 12, 3, "--auxiliary", "index")
    r = subprocess.run([sys.executable, "-m", "attribcli", "survey", str(run), "--generations", str(period),
                        "--sample", "12", "--seed", "3", "--name", "killed", "--auxiliary", "index"],
                       capture_output=True, text=True,
                       env={**os.environ, KILL_ENV: "2"}, cwd=ROOT, timeout=600)
    assert r.returncode == 137, r.stderr
    assert (run / "surveys/killed.partial").is_dir()
    r = _invoke("survey", run, "--generations", period, "--sample", 12, "--seed", 3, "--name", "killed")
    assert r.exit_code == 2 and "--resume" in r.output
    r = _invoke("survey", run, "--generations", period, "--sample", 12, "--seed", 3, "--name", "killed", "--resume",
                "--auxiliary", "index")
    assert r.exit_code == 0, r.output
    killed = run / "surveys/killed"
    for name in ("design.csv", "sample.jsonl", "index/values.npy", "index/losses.csv"):
        assert (whole / name).read_bytes() == (killed / name).read_bytes(), name
    assert (run / "valuations/whole/values.npy").read_bytes() == (run / "valuations/killed/values.npy").read_bytes()
