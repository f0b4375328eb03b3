"""The valuation reads each piece of the run once and hands the same object to every later stage."""

from attribcli.posttrain import payees as P
from attribcli.posttrain.rundir import open_run
from attribcli.valuation import values as V
from attribcli.valuation.valuation import Valuation


def test_each_piece_is_read_once_and_equals_the_direct_computation(small_run, monkeypatch):
    run = open_run(small_run)
    val = Valuation(run)
    calls = []
    real = V.holder_values
    monkeypatch.setattr(V, "holder_values", lambda *a, **k: calls.append(1) or real(*a, **k))
    first = val.holder_values
    assert val.holder_values is first and len(calls) == 1
    assert first.equals(real(run))
    assert val.ownership.equals(P.ownership(run))
    assert val.generation_ids == [str(g) for g in run.generations["id"]]


def test_a_csv_statement_never_parses_the_documents(small_run):
    from attribcli.reports.spec import ReportSpec
    from attribcli.reports.statement import render_statement

    run = open_run(small_run)
    render_statement(Valuation(run), ReportSpec(kind="payout", format="csv", revenue="10.00", currency="USD"))
    assert run._documents is None  # documents.jsonl is millions of lines at scale
