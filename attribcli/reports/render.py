"""One entry point for every report: a value table or a payout statement, from (valuation, spec)."""

from __future__ import annotations

from attribcli.reports.spec import ReportSpec
from attribcli.reports.statement import render_statement
from attribcli.reports.survey import render_survey
from attribcli.reports.tables import render_values
from attribcli.valuation.valuation import Valuation


def render(val: Valuation, spec: ReportSpec) -> str:
    if spec.kind == "value":
        return render_values(val, spec)
    return render_survey(val, spec) if spec.survey else render_statement(val, spec)
