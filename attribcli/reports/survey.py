"""A survey's statement: each payee's estimated money for the whole period, with its 95 % interval.

Like every statement, a pure function of (the run's valuation, spec): the survey it names is read from the
run (posttrain/survey.py, checked against its manifest and re-drawn from its seed), the estimate made again
(money/survey.py), so ``attrib verify`` re-derives it byte for byte. Its lines are Merkle leaves.
"""

from __future__ import annotations

import dataclasses
import json
import math

from attribcli.config import payout_policy
from attribcli.money.amounts import format_amount
from attribcli.money.payout import payee_kind
from attribcli.money.survey import SurveyPayout, survey_payout
from attribcli.posttrain.survey import open_survey
from attribcli.reports.cells import csv_text, md_code, md_comment, md_table, md_text, safe_cell
from attribcli.reports.merkle import leaf_bytes, merkle_root
from attribcli.reports.spec import ReportSpec, mark
from attribcli.reports.statement import payee_name, statement_id
from attribcli.valuation.valuation import Valuation

ESTIMATORS = {
    "census": "a census: every generation with revenue was replayed, and each line is exact",
    "horvitz-thompson": "the Horvitz-Thompson estimator over the drawn generations alone",
    "difference": "the difference estimator: every generation valued from the run's gradient index, the drawn "
                  "ones' exact values correcting it (unbiased whatever the index's error; the interval narrows "
                  "as the index tracks the exact values)",
}


@dataclasses.dataclass(frozen=True)
class SurveyStatement:
    id: str
    payout: SurveyPayout
    lines: list
    root: str
    survey_manifest_sha256: str

    @property
    def size(self) -> int:
        return len(self.lines)


def build_survey(val: Valuation, spec: ReportSpec) -> SurveyStatement:
    policy = payout_policy(val.config_path, stages=spec.stages, platform_fee=spec.platform_fee, shared=spec.shared)
    survey = open_survey(val.path, spec.survey)
    payout = survey_payout(val, survey, currency=spec.currency, policy=policy, auxiliary=spec.auxiliary or "none")
    sid = statement_id(val, spec)
    cur = payout.currency
    lines = []
    for p in payout.payees():
        low, high = payout.interval(p)
        known = not math.isnan(payout.half_widths[p])
        lines.append({"statement": sid, "payee_id": p, "kind": payee_kind(p, payout.sample),
                      "name": payee_name(val, payout.sample, p),
                      "amount": format_amount(payout.amounts[p], cur), "amount_minor": payout.amounts[p],
                      "currency": cur, "estimate_minor": round(payout.estimates[p]),
                      "interval_low_minor": math.floor(low) if known else None,
                      "interval_high_minor": math.ceil(high) if known else None,
                      "certain_minor": payout.certain_amounts[p]})
    return SurveyStatement(sid, payout, lines, merkle_root([leaf_bytes(x) for x in lines]), survey.manifest_sha256)


def render_survey(val: Valuation, spec: ReportSpec) -> str:
    stmt = build_survey(val, spec)
    return {"csv": _csv, "md": _md, "json": _json}[spec.format](val, spec, stmt)


def _pct(x: float) -> str:
    return f"{100 * x:.4f}"


def _range(line: dict, cur: str, total: int) -> tuple[str, str]:
    """(the money interval, the share interval) of a line, as text."""
    if line["interval_low_minor"] is None:
        return "not estimable (fewer than two draws)", ""
    lo, hi = line["interval_low_minor"], line["interval_high_minor"]
    share = f"{_pct(lo / total)} – {_pct(hi / total)} %" if total else ""
    return f"{format_amount(lo, cur)} – {format_amount(hi, cur)}", share


def _summary(payout: SurveyPayout, spec: ReportSpec, survey_sha: str) -> dict:
    d = payout
    return {"survey": spec.survey, "estimator": d.estimator, "generations": d.generations, "drawn": d.drawn,
            "certain": d.certain, "rest_revenue_minor": d.rest_revenue, "survey_manifest_sha256": survey_sha}


def _csv(val, spec, stmt: SurveyStatement) -> str:
    payout, cur = stmt.payout, stmt.payout.currency
    header = ["payee_id", "kind", "name", "amount", "amount_minor", "estimate_minor", "interval_low_minor",
              "interval_high_minor", "share_pct", "certain_minor", "currency", "revenue_total", "stages",
              *(["shared"] if spec.shared else []), "platform_fee", "period", "auxiliary", "estimator", "generations",
              "drawn", "survey", "valuation", "run_manifest_sha256"]
    rows = [[safe_cell(x["payee_id"]), x["kind"], safe_cell(x["name"]), x["amount"], x["amount_minor"],
             x["estimate_minor"], "" if x["interval_low_minor"] is None else x["interval_low_minor"],
             "" if x["interval_high_minor"] is None else x["interval_high_minor"],
             _pct(payout.share(x["payee_id"])), x["certain_minor"], cur, format_amount(payout.revenue, cur),
             spec.stages or "", *([spec.shared] if spec.shared else []),
             "" if spec.platform_fee is None else repr(spec.platform_fee), safe_cell(spec.period or ""),
             spec.auxiliary, payout.estimator, payout.generations, payout.drawn, safe_cell(spec.survey),
             safe_cell(spec.valuation), val.manifest_sha256] for x in stmt.lines]
    return csv_text(header, rows)


def _json(val, spec, stmt: SurveyStatement) -> str:
    payout = stmt.payout
    doc = {"attrib_report": "payout", "parameters": spec.to_dict(),
           "run": {"path_name": val.name, "manifest_sha256": val.manifest_sha256},
           "currency": payout.currency, "revenue": format_amount(payout.revenue, payout.currency),
           "revenue_minor": payout.revenue, **_summary(payout, spec, stmt.survey_manifest_sha256),
           "interval": "95 %: estimate ± 1.96 × sqrt(Deville's variance approximation), per line",
           "statement_id": stmt.id,
           "merkle": {"root": stmt.root, "size": stmt.size, "algorithm": "RFC 6962 Merkle tree hash, SHA-256",
                      "leaf": "canonical JSON (sorted keys, no spaces, UTF-8) of each line of 'lines'"},
           "lines": stmt.lines, "period": spec.period, "method": val.method}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _md(val, spec, stmt: SurveyStatement) -> str:
    payout, cur = stmt.payout, stmt.payout.currency
    f = lambda a: format_amount(a, cur)  # noqa: E731
    rest = payout.drawn - payout.certain
    lines = [f"# Survey statement: run {md_code(val.name)}, survey {md_code(spec.survey)}"
             + (f", period {md_text(spec.period)}" if spec.period else ""), "",
             "## Summary", "",
             f"- Revenue: **{f(payout.revenue)} {cur}** over {payout.generations} generations, each paid by its own "
             "revenue",
             f"- Valued exactly (replayed): {payout.drawn} generations, {payout.certain} of them taken with certainty "
             f"(revenue at least the rest's share of one draw) and {rest} drawn with probability proportional to "
             f"revenue from the rest ({f(payout.rest_revenue)} {cur})",
             f"- Estimated by {ESTIMATORS[payout.estimator]}",
             "- Each line: the estimate of what replaying every generation would pay, and its 95 % interval "
             "(estimate ± 1.96 × the square root of Deville's variance approximation); the amounts split the "
             "drawn generations' estimates in exact minor units, so they sum to the revenue: "
             f"{f(sum(payout.amounts.values()))} {cur}",
             f"- Survey manifest SHA-256 (it names the run's and the sample's valuation's): "
             f"`{stmt.survey_manifest_sha256}`",
             f"- Statement `{stmt.id}`: Merkle root `{stmt.root}` over its {stmt.size} lines", "",
             "## Per payee", ""]
    rows = []
    for x in sorted(stmt.lines, key=lambda x: (-x["amount_minor"], x["payee_id"])):
        money, share = _range(x, cur, payout.revenue)
        rows.append([md_text(x["payee_id"]), md_text(x["name"]), f(x["amount_minor"]), money,
                     _pct(payout.share(x["payee_id"])) + " %", share, f(x["certain_minor"])])
    lines += md_table(["Payee", "Name", f"Amount ({cur})", "95 % interval", "Share", "Share interval",
                       "Of it exact (certain)"], rows, "--rrrrr")
    lines += ["", md_comment(mark(spec, val.manifest_sha256))]
    return "\n".join(lines) + "\n"

