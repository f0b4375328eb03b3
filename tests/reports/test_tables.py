"""Value tables: holder values are plain sums of sample values, and every format says the same."""

import csv
import io
import json

import numpy as np
import pytest

from attribcli.posttrain.rundir import open_run
from attribcli.reports.spec import MD_MARK, ReportSpec
from attribcli.reports.tables import render_values, value_table
from attribcli.valuation.valuation import Valuation


@pytest.fixture(scope="module")
def val(small_run):
    return Valuation(open_run(small_run))


def test_holder_values_add_up_to_the_sample_values(val):
    """Shares sum to 1 per document (escrow and commons lines included), so every nat of sample value
    lands on exactly one line: no value is created or lost by the mapping."""
    t = value_table(val, "holder")
    samples = np.asarray(val.sample_values).sum(axis=0)
    np.testing.assert_allclose(t[val.generation_ids].sum(axis=0).to_numpy(), samples, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(t["total"], t[val.generation_ids].sum(axis=1), rtol=1e-12)


def test_licence_and_sample_tables_carry_the_same_total(val):
    by_license = value_table(val, "license")
    by_sample = value_table(val, "sample")
    assert len(by_sample) == len(val.samples)
    assert by_license["total"].sum() == pytest.approx(by_sample["total"].sum(), rel=1e-12, abs=1e-15)


def test_generation_table_names_the_top_payee(val):
    t = value_table(val, "generation")
    hv = val.holder_values
    for g, top in zip(t["generation_id"], t["top_payee"]):
        assert hv[g].max() == hv.loc[top, g]


def test_tables_leave_the_valuation_unchanged(val):
    before = val.holder_values.copy()
    value_table(val, "holder")
    assert val.holder_values.equals(before)


def test_the_three_formats_carry_the_same_rows_and_their_spec(val):
    spec = ReportSpec(kind="value", format="csv", by="holder")
    rows = list(csv.DictReader(io.StringIO(render_values(val, spec))))
    doc = json.loads(render_values(val, ReportSpec(kind="value", format="json", by="holder")))
    md = render_values(val, ReportSpec(kind="value", format="md", by="holder"))
    assert [r["holder_id"] for r in rows] == [r["holder_id"] for r in doc["rows"]]
    assert [float(r["total"]) for r in rows] == [r["total"] for r in doc["rows"]]
    assert {r["run_manifest_sha256"] for r in rows} == {val.manifest_sha256}
    mark = json.loads(md.splitlines()[-1][len(MD_MARK):-4])
    assert ReportSpec.from_params({**mark["parameters"], "format": "md"}) == ReportSpec(kind="value", format="md")


def test_a_table_is_the_same_bytes_every_time(val):
    spec = ReportSpec(kind="value", format="md", by="license")
    assert render_values(val, spec) == render_values(Valuation(open_run(val.path)), spec)


def test_the_specific_and_shared_parts_add_up_to_the_total_in_every_table(tmp_path_factory):
    from click.testing import CliRunner

    from attribcli.cli import main
    from tests.runs import reference_run

    run = reference_run(tmp_path_factory.mktemp("parts"))
    parts = Valuation(open_run(run))
    gens = parts.generation_ids
    for by in ("sample", "holder", "license"):
        total, specific, shared = (value_table(parts, by, part)[gens].to_numpy() for part in
                                   ("total", "specific", "shared"))
        np.testing.assert_allclose(specific + shared, total, rtol=1e-9, atol=1e-12)
        assert np.abs(shared).sum() > 0 and np.abs(specific).sum() > 0
    t = value_table(parts, "generation")
    np.testing.assert_allclose(t["specific_sum"] + t["shared_sum"], t["value_sum"], rtol=1e-12)
    assert "top_payee_specific" in t
    r = CliRunner().invoke(main, ["value", str(run), "--part", "shared", "--format", "md"])
    assert r.exit_code == 0 and "shared part of the values" in r.stdout
    for fmt in ("csv", "md", "json"):  # the part is recorded in the report: verify re-derives that part
        out = run / "reports" / f"specific.{fmt}"
        out.parent.mkdir(exist_ok=True)
        args = ["value", str(run), "--by", "sample", "--part", "specific", "--format", fmt, "-o", str(out)]
        assert CliRunner().invoke(main, args).exit_code == 0
        r = CliRunner().invoke(main, ["verify", str(run), str(out)])
        assert r.exit_code == 0, r.output
    assert json.loads(CliRunner().invoke(main, ["value", str(run), "--part", "specific", "--format", "json"])
                      .stdout)["parameters"]["part"] == "specific"
