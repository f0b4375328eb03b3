"""``attrib verify``: an intact run and report pass; any changed byte is found and named."""

import json

import numpy as np
import pytest

from attribcli.audit.verify import check_valuation, first_difference, read_spec, verify
from attribcli.files import sha256_file
from attribcli.posttrain.rundir import open_run
from attribcli.reports.render import render
from attribcli.reports.spec import ReportSpec
from attribcli.valuation.valuation import Valuation

SPECS = [ReportSpec(kind="payout", format=f, revenue="250.00", currency="USD", period="2026-11") for f in
         ("csv", "md", "json")] + [ReportSpec(kind="value", format=f, by="holder") for f in ("csv", "md", "json")]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.kind}-{s.format}")
def test_a_report_carries_the_spec_it_was_made_with(small_run, spec):
    val = Valuation(open_run(small_run))
    got, manifest = read_spec(render(val, spec), "report")
    assert manifest == val.manifest_sha256
    assert render(val, got) == render(val, spec)


def test_an_intact_run_and_report_verify(copied_run):
    report = copied_run / "reports/statement.md"
    report.parent.mkdir(exist_ok=True)
    report.write_text(render(Valuation(open_run(copied_run)), SPECS[1]))
    assert verify(copied_run, report) == []


def test_a_changed_report_is_named_with_its_first_differing_line(copied_run):
    report = copied_run / "reports/statement.json"  # reports/ is verified by re-derivation, not by hash
    report.parent.mkdir(exist_ok=True)
    text = render(Valuation(open_run(copied_run)), SPECS[2])
    doc = json.loads(text)
    doc["payees"][0]["amount_minor"] += 1
    report.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    problems = verify(copied_run, report)
    assert len(problems) == 1 and "differs from the report re-derived" in problems[0] and "line " in problems[0]


def test_a_changed_value_table_fails_the_manifest(copied_run):
    values = np.load(copied_run / "values.npy")
    values[0, 0] += 1e-9
    np.save(copied_run / "values.npy", values)
    assert any(p.startswith("values.npy: changed since training") for p in verify(copied_run))


def test_first_difference_names_the_line_or_the_length():
    assert first_difference("a\nb\n", "a\nc\n").startswith("line 2:")
    assert first_difference("a\n", "a\nb\n") == "report has 2 lines, the run gives 1"


# ------------------------------------------------------------ damage is a finding, bad input one line (issue 29)

def _cli(*args):
    from click.testing import CliRunner

    from attribcli.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def _one_line(r, *parts):
    lines = r.output.strip().splitlines()
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output  # no traceback
    assert len(lines) == 1, r.output
    assert all(p in lines[0] for p in parts), lines[0]
    return lines[0]


def _poison(path, bad):
    values = np.load(path)
    values[0, 0] = bad
    np.save(path, values)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_a_finding_not_a_crash(copied_run, tmp_path, bad):
    report = tmp_path / "statement.md"
    assert _cli("payout", copied_run, "--revenue", "10", "--format", "md", "-o", report).exit_code == 0
    _poison(copied_run / "values.npy", bad)
    r = _cli("verify", copied_run, report)
    assert r.exit_code == 1 and not isinstance(r.exception, (ValueError, TypeError)), r.output
    assert any(line.startswith("FAILED: values.npy") and "NaN or infinite" in line for line in r.output.splitlines())
    assert verify(copied_run) and any("NaN or infinite" in p for p in verify(copied_run))
    commands = (["value", copied_run], ["value", copied_run, "--by", "sample"],
                ["value", copied_run, "--by", "license"], ["payout", copied_run, "--revenue", "10"])
    for args in commands:  # the edit is found first: the table is not the one the manifest recorded
        r = _cli(*args)
        assert r.exit_code == 1, r.output
        _one_line(r, "values.npy", "changed since the run was written")
    manifest = json.loads((copied_run / "manifest.json").read_text())  # NaN hashed in as if training wrote it
    manifest["outputs"]["values.npy"] = sha256_file(copied_run / "values.npy")
    (copied_run / "manifest.json").write_text(json.dumps(manifest))
    for args in commands:
        r = _cli(*args)
        assert r.exit_code == 2, r.output
        _one_line(r, "values.npy", "NaN or infinite")


def test_non_finite_values_of_a_valuation_are_a_finding(copied_run):
    folder = copied_run / "valuations/v1"
    folder.mkdir(parents=True)
    np.save(folder / "values.npy", np.full((3, 2), np.nan))
    (folder / "manifest.json").write_text(json.dumps({"outputs": {}}))
    problems = check_valuation(copied_run, "v1")
    assert any(p.startswith("valuations/v1/values.npy") and "NaN or infinite" in p for p in problems)


@pytest.mark.parametrize("content", [b"not json {", b"[1, 2]", b'"a string"', b'{"entries": 5}',
                                     b'{"entries": [1, 2]}', b"\xff\xfe\x00garbage"])
def test_a_ledger_that_is_not_a_ledger_is_one_line_exit_2(small_run, tmp_path, content):
    ledger = tmp_path / "ledger.json"
    ledger.write_bytes(content)
    r = _cli("verify", "--ledger", ledger)
    assert r.exit_code == 2, r.output
    _one_line(r, str(ledger), "--ledger")


def test_a_report_that_is_not_utf8_is_one_line_exit_2(small_run, tmp_path):
    report = tmp_path / "statement.md"
    report.write_bytes(b"\xff\xfe not a report \x80")
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps({"format": "attrib-ledger-v1", "currency": "USD", "entries": []}))
    proof = tmp_path / "proof.json"
    proof.write_text("{}")
    for args in (["verify", small_run, report], ["verify", small_run, report, "--ledger", ledger],
                 ["verify", small_run, report, "--line", proof]):
        r = _cli(*args)
        assert r.exit_code == 2, (args, r.output)
        _one_line(r, str(report), "UTF-8")


def test_a_report_missing_for_the_ledger_check_or_without_merkle_is_one_line(small_run, tmp_path):
    ledger = tmp_path / "ledger.json"
    ledger.write_text(json.dumps({"format": "attrib-ledger-v1", "currency": "USD", "entries": []}))
    r = _cli("verify", small_run, tmp_path / "absent.md", "--ledger", ledger)
    assert r.exit_code == 2
    _one_line(r, "absent.md")
    proof = tmp_path / "proof.json"
    proof.write_text("{}")
    odd = tmp_path / "odd.json"
    odd.write_text('{"merkle": 5}')
    r = _cli("verify", small_run, odd, "--line", proof)
    assert r.exit_code == 2
    _one_line(r, "odd.json")


def test_non_finite_values_with_a_ledger_are_still_a_finding(copied_run, tmp_path):
    report, ledger = tmp_path / "statement.json", tmp_path / "ledger.json"
    r = _cli("payout", copied_run, "--revenue", "10", "--format", "json", "-o", report, "--ledger", ledger)
    assert r.exit_code == 0, r.output
    _poison(copied_run / "values.npy", np.nan)
    r = _cli("verify", copied_run, report, "--ledger", ledger)
    assert r.exit_code == 1, r.output
    assert any("NaN or infinite" in line for line in r.output.splitlines() if line.startswith("FAILED:"))


def test_a_csv_statement_with_a_carriage_return_in_a_name_verifies(tmp_path):
    """verify used to read reports with newline translation, so a CR inside a quoted cell (a holder's name)
    became LF and an unaltered statement failed."""
    import csv as _csv

    from tests.runs import copy_sample, write_config

    data = copy_sample(tmp_path / "data")
    rows = list(_csv.DictReader((data / "holders.csv").read_text(encoding="utf-8").splitlines()))
    rows[0]["name"] = "Ada\rLovelace"
    with open(data / "holders.csv", "w", newline="", encoding="utf-8") as fh:
        w = _csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    cfg = write_config(tmp_path, data=data, training__max_steps=1)
    assert _cli("train", cfg).exit_code == 0
    out = tmp_path / "s.csv"
    assert _cli("payout", tmp_path / "run", "--revenue", "10", "-o", out).exit_code == 0
    assert b"Ada\rLovelace" in out.read_bytes()
    r = _cli("verify", tmp_path / "run", out)
    assert r.exit_code == 0, r.output


def test_an_emptied_value_table_is_a_finding_not_aborted(copied_run):
    """np.load raises EOFError on an empty .npy, which click turns into 'Aborted!' (found by the hostile suite
    with ATTRIB_HYPOTHESIS_EXAMPLES=300)."""
    (copied_run / "values.npy").write_bytes(b"")
    r = _cli("verify", copied_run)
    assert r.exit_code == 1 and "values.npy" in r.output and "Aborted" not in r.output, r.output
    r = _cli("payout", copied_run, "--revenue", "10")
    assert r.exit_code == 1 and "values.npy" in r.output and "Aborted" not in r.output, r.output
