"""The optional payout plot: a valid, reproducible PNG from a small real run; a clear error without matplotlib."""

import dataclasses
import sys

import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.errors import AttribError
from attribcli.posttrain.rundir import open_run
from attribcli.reports.plots import write_payout_plot
from attribcli.reports.spec import ReportSpec
from attribcli.reports.statement import build
from attribcli.valuation.valuation import Valuation
from tests.runs import write_config

pytest.importorskip("matplotlib")  # attribcli.reports.plots imports it lazily, so the imports above work without it

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_and_payout(tmp_path_factory):
    base = tmp_path_factory.mktemp("plots")
    r = CliRunner().invoke(main, ["train", str(write_config(base))])
    assert r.exit_code == 0, r.output
    val = Valuation(open_run(base / "run"))
    return val, build(val, ReportSpec(kind="payout", format="md", revenue="100")).payout


def test_plot_is_a_valid_png_of_the_fixed_size(run_and_payout, tmp_path):
    import matplotlib.image

    run, payout = run_and_payout
    out = write_payout_plot(run, payout, tmp_path / "payout.png", title="Payout statement: sample run")
    assert out == tmp_path / "payout.png"
    data = out.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert 10_000 < len(data) < 2_000_000
    img = matplotlib.image.imread(out)
    assert img.shape[:2] == (1000, 1000) and img.shape[2] in (3, 4)
    assert img.std() > 0  # something was drawn
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write left no temporary behind


def test_same_inputs_give_identical_bytes(run_and_payout, tmp_path):
    run, payout = run_and_payout
    a = write_payout_plot(run, payout, tmp_path / "a.png", title="t").read_bytes()
    b = write_payout_plot(run, payout, tmp_path / "b.png", title="t").read_bytes()
    assert a == b
    assert b"matplotlib" not in a.lower()  # no software version in the metadata


def test_names_are_shown_as_typed_even_with_dollars_and_long(run_and_payout, tmp_path):
    val, payout = run_and_payout
    holders = val.holders.copy()
    # as mathtext, "$x^2$ ... $$" is a parse error and "$5 and $6" silently turns italic
    holders.loc[0, "name"] = "$x^2$ Cash $$ Holdings, $5 and $6 " + "very long name " * 10
    odd = Valuation(dataclasses.replace(val.run, holders=holders))
    out = write_payout_plot(odd, payout, tmp_path / "odd.png", title="100% $USD$ <b> \\frac{")
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def test_many_payees_fold_into_one_other_bar(run_and_payout, tmp_path, monkeypatch):
    import matplotlib.image

    import attribcli.reports.plots

    run, payout = run_and_payout
    monkeypatch.setattr(attribcli.reports.plots, "MAX_BARS", 5)
    out = write_payout_plot(run, payout, tmp_path / "few.png", title="t")
    assert matplotlib.image.imread(out).shape[:2] == (1000, 1000)


def test_without_matplotlib_the_error_names_the_flag_and_the_fix(run_and_payout, tmp_path, monkeypatch):
    run, payout = run_and_payout
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(AttribError) as err:
        write_payout_plot(run, payout, tmp_path / "x.png", title="t")
    line = err.value.line()
    assert "\n" not in line and "--plot" in line and 'pip install "attribcli[plot]"' in line
    assert not (tmp_path / "x.png").exists()


def test_payout_plot_flag_writes_png_next_to_the_statement_and_verifies(tmp_path, run_and_payout):
    run_dir = run_and_payout[0].path
    out = tmp_path / "statement.md"
    r = CliRunner().invoke(main, ["payout", str(run_dir), "--revenue", "10", "--format", "md", "-o", str(out),
                                  "--plot"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "statement.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "](statement.png)" in out.read_text()
    assert CliRunner().invoke(main, ["verify", str(run_dir), str(out)]).exit_code == 0
    r = CliRunner().invoke(main, ["payout", str(run_dir), "--revenue", "10", "--plot"])
    assert r.exit_code == 2 and "--plot" in r.output
