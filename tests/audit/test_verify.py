"""``attrib verify``: an intact run and report pass; any changed byte is found and named."""

import json

import numpy as np
import pytest

from attribcli.audit.verify import first_difference, read_spec, verify
from attribcli.reports.render import render
from attribcli.reports.spec import ReportSpec
from attribcli.training.rundir import open_run
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
