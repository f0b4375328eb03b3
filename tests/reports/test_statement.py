"""Payout statements: lines sum to the revenue, the Merkle root covers every line, one payee's statement
proves its line against the full statement, and the same inputs give the same bytes."""

import dataclasses
import json

import pytest

from attribcli.errors import AttribError
from attribcli.posttrain.rundir import open_run
from attribcli.reports.merkle import check_proof_document, leaf_bytes, merkle_root
from attribcli.reports.spec import ReportSpec
from attribcli.reports.statement import build, line_proof, render_statement, statement_id
from attribcli.valuation.valuation import Valuation

SPEC = ReportSpec(kind="payout", format="json", revenue="1000.00", currency="USD")


@pytest.fixture(scope="module")
def val(small_run):
    return Valuation(open_run(small_run))


def test_lines_sum_to_the_revenue_and_the_root_covers_them(val):
    stmt = build(val, SPEC)
    assert sum(line["amount_minor"] for line in stmt.lines) == 100000
    assert stmt.root == merkle_root([leaf_bytes(line) for line in stmt.lines])
    assert {line["statement"] for line in stmt.lines} == {stmt.id}
    doc = json.loads(render_statement(val, SPEC, stmt))
    assert doc["merkle"] == {**doc["merkle"], "root": stmt.root, "size": stmt.size}
    assert doc["revenue_minor"] == 100000


def test_the_statement_id_binds_the_split_not_the_format(val):
    assert statement_id(val, SPEC) == statement_id(val, dataclasses.replace(SPEC, format="md"))
    assert statement_id(val, SPEC) != statement_id(val, dataclasses.replace(SPEC, revenue="1000.01"))
    assert statement_id(val, SPEC) != statement_id(val, dataclasses.replace(SPEC, stages="data_only"))


def test_a_payees_statement_proves_its_line_against_the_full_statements_root(val):
    full = build(val, SPEC)
    payee = next(line["payee_id"] for line in full.lines if line["kind"] == "holder" and line["amount_minor"])
    mine = json.loads(render_statement(val, dataclasses.replace(SPEC, holder=payee)))
    assert mine["amount_minor"] == next(line["amount_minor"] for line in full.lines if line["payee_id"] == payee)
    ok, reason = check_proof_document(mine["proof"], expected_root=full.root, expected_size=full.size)
    assert ok, reason
    assert line_proof(val, SPEC, payee) == mine["proof"]


def test_an_unknown_payee_is_a_one_line_error(val):
    with pytest.raises(AttribError, match="not a payee"):
        line_proof(val, SPEC, "nobody")


def test_minimum_payout_carries_small_amounts_and_reconciles(val):
    stmt = build(val, dataclasses.replace(SPEC, minimum_payout="50.00"))
    st = stmt.settlement
    assert sum(st.paid.values()) + sum(st.carried_out.values()) == 100000 + sum(st.carried_in.values())
    for p, due in ((p, stmt.payout.total(p)) for p in stmt.payout.payees()):
        if 0 < due < 5000 and p.startswith("h"):
            assert st.paid[p] == 0 and st.carried_out[p] == due


@pytest.mark.parametrize("fmt", ["csv", "md", "json"])
def test_the_same_inputs_give_the_same_bytes(val, fmt):
    spec = dataclasses.replace(SPEC, format=fmt)
    assert render_statement(val, spec) == render_statement(Valuation(open_run(val.path)), spec)
