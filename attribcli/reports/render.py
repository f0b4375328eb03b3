"""One entry point for every report: a value table or a payout statement, from (valuation, spec)."""

from __future__ import annotations

from attribcli.reports.spec import ReportSpec
from attribcli.reports.statement import render_statement
from attribcli.reports.tables import render_values
from attribcli.valuation.valuation import Valuation


def render(val: Valuation, spec: ReportSpec) -> str:
    return render_values(val, spec) if spec.kind == "value" else render_statement(val, spec)
