"""The README's main job on the bundled sample, end to end: values describe what each holder taught."""

import csv
import io
import subprocess
import sys

import pytest

from tests.runs import ROOT

# sample_data/README.md: which holder(s) each generation imitates
EXPECTED = {"gen-001": {"h01"}, "gen-002": {"h02"}, "gen-003": {"h04"}, "gen-004": {"h09"}, "gen-005": {"h11"},
            "gen-006": {"h01", "h02"}, "gen-007": {"h12", "h07"}, "gen-008": {"h10", "h03"}}


def _attrib(*args):
    r = subprocess.run([sys.executable, "-m", "attribcli", *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.slow
def test_sample_pipeline_values_the_imitated_holders_first(tmp_path):
    run = tmp_path / "sample"
    _attrib("train", ROOT / "configs/sample.yaml", "--run-dir", run)
    table = list(csv.DictReader(io.StringIO(_attrib("value", run, "--by", "holder").stdout)))
    for gen, holders in EXPECTED.items():
        top = max(table, key=lambda r: float(r[gen]))["holder_id"]
        assert top in holders, f"{gen}: top holder {top}, expected one of {sorted(holders)}"
    report = run / "reports/payout.md"
    out = _attrib("payout", run, "--revenue-from-generations", "--format", "md", "-o", report)
    assert f"report written to {report}" in out.stderr
    assert "**147.79 USD**" in report.read_text()  # the sum of the sample generations' revenue
    assert _attrib("verify", run, report).stdout.startswith("OK")
