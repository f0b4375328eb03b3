"""value / payout / verify from the command line, on one small real run with hostile holder names."""

import csv
import io
import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.rights.holders import ESCROW_ID
from tests.runs import copy_sample, write_config

HOSTILE = {"h01": ('=HYPERLINK("http://evil.example","click")', "@evil.example"),
           "h02": ("Pipe | <b>Bold</b> & Co", "+44 1234"),
           "h03": ("-2+3", "ok@example.org")}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    data = copy_sample(base / "data")
    rows = list(csv.reader(open(data / "holders.csv", newline="")))
    for row in rows[1:]:
        if row[0] in HOSTILE:
            row[1], row[2] = HOSTILE[row[0]]
    with open(data / "holders.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    cfg = write_config(base, data=data)
    r = CliRunner().invoke(main, ["train", str(cfg)])
    assert r.exit_code == 0, r.output
    return base / "run"


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_payout_lines_sum_exactly_and_are_never_negative(run_dir):
    r = _invoke("payout", run_dir, "--revenue", "1000.01", "--format", "csv")
    assert r.exit_code == 0, r.output
    rows = _csv(r.stdout)
    assert sum(int(x["amount_minor"]) for x in rows) == 100001
    assert all(int(x["amount_minor"]) >= 0 for x in rows)
    # stable order: holders in table order, escrow, commons, then stage payees in a fixed order
    ids = [x["payee_id"] for x in rows]
    assert ids[:13] == [f"h{i:02d}" for i in range(1, 13)] + [ESCROW_ID]
    fixed = ("COMMONS", "PLATFORM", "BASE_MODEL", "PROMPT_AUTHORS", "UNALLOCATED")
    assert ids[13:] == [p for p in fixed if p in ids[13:]]
    assert {x["kind"] for x in rows[13:]} <= {"commons", "stage", "platform", "unallocated"}
    detail = _csv(_invoke("payout", run_dir, "--revenue-from-generations", "--detail").stdout)
    gens = [json.loads(line) for line in open(run_dir / "inputs/generations.jsonl")]
    for g in gens:
        lines = [int(x["amount_minor"]) for x in detail if x["generation_id"] == g["id"]]
        assert sum(lines) == round(float(g["revenue"]) * 100)


def test_negative_values_earn_nothing_and_are_shown(run_dir):
    doc = json.loads(_invoke("payout", run_dir, "--revenue", "100", "--format", "json").stdout)
    negatives = [(g["generation_id"], ln) for g in doc["generations"] for ln in g["lines"] if ln["value"] < 0]
    for _, line in negatives:
        assert line["amount_minor"] == 0
    values = json.loads(_invoke("value", run_dir, "--by", "holder", "--format", "json").stdout)["rows"]
    assert len(values) == 14  # 12 holders + escrow + commons (CC0 documents), shown whatever their value


def test_payout_is_reproducible_and_verifiable_in_every_format(run_dir, tmp_path):
    for fmt in ("csv", "md", "json"):
        out = tmp_path / f"payout.{fmt}"
        assert _invoke("payout", run_dir, "--revenue", "250.00", "--format", fmt, "-o", out).exit_code == 0
        again = _invoke("payout", run_dir, "--revenue", "250.00", "--format", fmt)
        assert again.stdout == out.read_text()
        r = _invoke("verify", run_dir, out)
        assert r.exit_code == 0, r.output
    for by in ("sample", "holder", "generation", "license"):
        out = tmp_path / f"value-{by}.csv"
        assert _invoke("value", run_dir, "--by", by, "-o", out).exit_code == 0
        assert _invoke("verify", run_dir, out).exit_code == 0


def test_verify_detects_an_edited_report(run_dir, tmp_path):
    out = tmp_path / "p.csv"
    _invoke("payout", run_dir, "--revenue-from-generations", "-o", out)
    rows = list(csv.reader(io.StringIO(out.read_text())))
    col = rows[0].index("amount_minor")
    rows[2][col] = str(int(rows[2][col]) + 1)  # one cent more to the second payee
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    out.write_text(buf.getvalue())
    r = _invoke("verify", run_dir, out)
    assert r.exit_code == 1 and "line 3" in r.output and "FAILED" in r.output


def test_verify_detects_a_tampered_run(run_dir, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    assert _invoke("verify", copy).exit_code == 0
    values = np.load(copy / "values.npy")
    values[0, 0] += 1e-9
    np.save(copy / "values.npy", values)
    r = _invoke("verify", copy)
    assert r.exit_code == 1 and "values.npy" in r.output


def test_csv_cells_are_neutralized_against_formula_injection(run_dir):
    rows = _csv(_invoke("payout", run_dir, "--revenue", "10").stdout)
    by_id = {r["payee_id"]: r for r in rows}
    assert by_id["h01"]["name"].startswith("'=") and by_id["h01"]["contact"] == "'@evil.example"
    assert by_id["h02"]["contact"] == "'+44 1234" and by_id["h03"]["name"] == "'-2+3"
    for r in rows:  # no user-supplied cell can start a formula
        for key in ("payee_id", "name", "contact", "country"):
            assert not r[key].startswith(("=", "+", "-", "@"))


def test_markdown_escapes_pipes_and_html(run_dir):
    md = _invoke("payout", run_dir, "--revenue", "10", "--format", "md").stdout
    assert "Pipe \\| &lt;b&gt;Bold&lt;/b&gt; &amp; Co" in md
    assert "<b>" not in md


def test_value_tables_sum_consistently(run_dir):
    holder = _csv(_invoke("value", run_dir, "--by", "holder").stdout)
    sample = _csv(_invoke("value", run_dir, "--by", "sample").stdout)
    lic = _csv(_invoke("value", run_dir, "--by", "license").stdout)
    total = sum(float(r["total"]) for r in sample)
    assert sum(float(r["total"]) for r in holder) == pytest.approx(total, rel=1e-12)
    assert sum(float(r["total"]) for r in lic) == pytest.approx(total, rel=1e-12)
    gens = _csv(_invoke("value", run_dir, "--by", "generation").stdout)
    assert len(gens) == 8 and {"realised_reduction", "value_sum", "relative_gap"} <= set(gens[0])


@pytest.mark.parametrize("args, field", [
    (["--revenue", "-5"], "--revenue"),
    (["--revenue", "abc"], "--revenue"),
    (["--revenue", "1.001"], "--revenue"),
    ([], "--revenue"),
    (["--revenue", "5", "--revenue-from-generations"], "--revenue"),
    (["--revenue", "5", "--currency", "XYZ"], "--currency"),
])
def test_bad_payout_arguments_exit_2_with_one_line(run_dir, tmp_path, args, field):
    out = tmp_path / "never.csv"
    r = _invoke("payout", run_dir, *args, "-o", out)
    assert r.exit_code == 2
    assert len(r.output.strip().splitlines()) == 1 and field in r.output
    assert not out.exists()


def test_not_a_run_is_a_one_line_error(tmp_path):
    r = _invoke("payout", tmp_path, "--revenue", "1")
    assert r.exit_code == 2 and "manifest.json" in r.output and len(r.output.strip().splitlines()) == 1


def test_dash_output_means_stdout_and_composes_in_pipelines(run_dir, tmp_path):
    dash = _invoke("payout", run_dir, "--revenue", "12.34", "-o", "-")
    plain = _invoke("payout", run_dir, "--revenue", "12.34")
    assert dash.exit_code == 0 and dash.stdout == plain.stdout and dash.stdout.startswith("payee_id,")
    assert not (tmp_path / "-").exists()
