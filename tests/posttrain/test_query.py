"""attrib query --per payee: the index summed per payee before the product, paid and verified like any valuation."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.posttrain.rundir import open_run
from attribcli.valuation.valuation import Valuation
from tests.runs import SAMPLE, copy_sample, write_config

INDEX = {"dim": 512, "segments": 2}


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run with an index, its corpus in a copy the tests may take away; other generations to query (new
    ids, so the run's own 8 are queried beside them and the index's error measured on them)."""
    tmp = tmp_path_factory.mktemp("payees")
    data = copy_sample(tmp / "data")
    cfg = write_config(tmp, data=data, attribution={"rule": "taylor", "index": INDEX},
                       training={"max_steps": 4, "batch_size": 8, "lr": 0.003, "optimizer": "adamw",
                                 "checkpoint_every": 2})
    assert _invoke("train", cfg).exit_code == 0
    gens = [json.loads(line) for line in (SAMPLE / "generations.jsonl").read_text().splitlines() if line.strip()]
    period = tmp / "period.jsonl"
    period.write_text("".join(json.dumps({**g, "id": f"p-{g['id']}", "revenue": f"{i + 1}.25"}) + "\n"
                              for i, g in enumerate(gens[:5])))
    return tmp / "run", period


def _query(run, period, name, *extra):
    r = _invoke("query", run, "--generations", period, "--name", name, *extra)
    assert r.exit_code == 0, r.output
    return run / "valuations" / name


def test_payee_values_are_the_sample_values_summed_per_payee_and_pay_the_same(run):
    run, period = run
    _query(run, period, "s")
    by_payee = _query(run, period, "p", "--per", "payee")
    assert not (by_payee / "values.npy").exists()
    manifest = json.loads((by_payee / "manifest.json").read_text())
    table = np.load(by_payee / "payee_values.npy")
    assert manifest["per"] == "payee" and table.shape == (5, len(manifest["payees"]))
    exact = Valuation(open_run(run, "s")).holder_values
    approx = Valuation(open_run(run, "p")).holder_values
    assert list(approx.index) == list(exact.index) and list(approx.columns) == list(exact.columns)
    np.testing.assert_allclose(approx.to_numpy(), exact.to_numpy(), rtol=1e-5, atol=1e-9 * np.abs(exact).max().max())
    # the index's error, measured per payee on the run's own generations (queried beside the period's)
    check = manifest["check"]
    assert check["generations"] == 8 and -1 <= check["spearman_median"] <= 1 and 0 <= check["share_tv_median"] <= 1
    amounts = {}
    for name in ("s", "p"):
        report = run / "reports" / f"{name}.csv"
        r = _invoke("payout", run, "--valuation", name, "--revenue-from-generations", "-o", report)
        assert r.exit_code == 0, r.output
        t = pd.read_csv(report, dtype={"payee_id": str})
        amounts[name] = dict(zip(t["payee_id"], t["amount_minor"]))
        assert t["amount_minor"].sum() == 125 + 225 + 325 + 425 + 525
    assert amounts["p"].keys() == amounts["s"].keys()
    assert max(abs(amounts["p"][k] - amounts["s"][k]) for k in amounts["s"]) <= 1  # a remainder at most
    for fmt in ("md", "json"):
        report = run / "reports" / f"p.{fmt}"
        assert _invoke("payout", run, "--valuation", "p", "--revenue", "100", "--format", fmt, "-o",
                       report).exit_code == 0
        assert _invoke("verify", run, report).exit_code == 0
    text = (run / "reports/p.md").read_text()
    assert "Values per payee only" in text and "Spearman over payees" in text and "Top documents: not valued" in text
    assert _invoke("verify", run, run / "reports/p.csv").exit_code == 0
    holder = _invoke("payout", run, "--valuation", "p", "--revenue", "100", "--format", "md", "--holder", "h02")
    assert holder.exit_code == 0 and "not valued" in holder.output
    r = _invoke("value", run, "--valuation", "p", "--by", "holder")
    assert r.exit_code == 0 and r.output.startswith("holder_id,")


@pytest.mark.parametrize("args, field", [
    (("value", "--by", "sample"), "--valuation"), (("value", "--by", "license"), "--valuation"),
    (("payout", "--revenue", "10", "--ledger", "L.json"), "--ledger"),
    (("payout", "--revenue", "10", "--format", "md", "--plot", "-o", "S.md"), "--plot"),
])
def test_what_needs_values_per_sample_is_one_line_on_a_payee_valuation(run, args, field, tmp_path):
    run, period = run
    if not (run / "valuations/p1").is_dir():
        _query(run, period, "p1", "--per", "payee")
    args = [str(tmp_path / a) if a.endswith((".json", ".md")) else a for a in args]
    r = _invoke(args[0], run, "--valuation", "p1", *args[1:])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and field in r.output, r.output
    assert not list(tmp_path.iterdir())


def test_an_edited_payee_table_is_refused_and_listed(run, tmp_path):
    run, period = run
    folder = _query(run, period, "p2", "--per", "payee")
    table = np.load(folder / "payee_values.npy")
    np.save(folder / "payee_values.npy", table * 2)
    r = _invoke("payout", run, "--valuation", "p2", "--revenue", "10")
    assert r.exit_code == 1 and "payee_values.npy" in r.output
    r = _invoke("verify", run)
    assert r.exit_code == 1 and "valuations/p2/payee_values.npy: changed" in r.output
    shutil.rmtree(folder)


def test_a_query_reads_the_run_as_trained_not_the_configs_sources(run):
    """No corpus, no token cache: a query needs the model, its tokenizer and the index alone (astrained.py)."""
    run, period = run
    corpus = run.parent / "data/corpus.jsonl"
    kept = corpus.read_bytes()
    cache = run.parent / ".attrib-cache"
    moved = run.parent / "cache-away"
    cache.rename(moved)
    corpus.unlink()
    try:
        _query(run, period, "p3", "--per", "payee")
        assert not cache.exists()
    finally:
        corpus.write_bytes(kept)
        moved.rename(cache)
