"""Report writers: CSV for machines, Markdown for people, JSON for programs.

Every report is a pure function of (run, spec): no clock, no environment. That is what lets
``attrib verify`` re-derive a report from its run and compare it byte for byte. Each format carries
its spec (JSON: ``parameters``; Markdown: a closing HTML comment; CSV: parameter columns), so the
report itself says how to re-derive it.
"""

from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import asdict, dataclass

import pandas as pd

from attribcli import value as V
from attribcli.rundir import Run

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MD_MARK = "<!-- attrib-report: "


@dataclass(frozen=True)
class ReportSpec:
    kind: str                      # "value" | "payout"
    format: str                    # "csv" | "md" | "json"
    by: str = "holder"             # value reports: sample | holder | generation | license
    revenue: str | None = None     # payout: total to split evenly across generations (None: per generation)
    currency: str = "USD"
    detail: bool = False           # payout CSV: one row per payee × generation
    stages: str | None = None      # payout: override the run's payout.stages
    platform_fee: float | None = None  # payout: override the run's payout.platform_fee
    minimum_payout: str | None = None  # payout: override the run's payout.minimum_payout
    carried_in: tuple | None = None    # payout: ((payee, minor units), ...) carried from the ledger
    holder: str | None = None          # payout: the statement one payee is sent
    plot: str | None = None            # payout md: file name of the PNG written next to the statement
    sign: bool = False                 # payout md/json: HMAC-SHA256 with the key in ATTRIB_SIGNING_KEY
    floor: str | None = None           # payout: override the run's payout.floor
    cap: str | None = None             # payout: override the run's payout.cap
    period: str | None = None          # payout: the period the statement covers, e.g. "2026-Q3"
    opted_out: tuple | None = None     # payout: holders who opted out after this run was trained (flagged)
    claims: tuple | None = None        # payout: ((document, holder), ...) escrow documents claimed (ledger)

    PAYOUT_ONLY = ("revenue", "currency", "detail", "stages", "platform_fee", "minimum_payout", "carried_in", "holder",
                   "plot", "sign", "floor", "cap", "period", "opted_out", "claims")

    @classmethod
    def from_params(cls, params: dict) -> "ReportSpec":
        ci, oo, cl = params.get("carried_in"), params.get("opted_out"), params.get("claims")
        return cls(**{**params, "carried_in": tuple((str(p), int(a)) for p, a in ci) if ci else None,
                      **({"opted_out": tuple(oo)} if oo else {}),
                      **({"claims": tuple((str(d), str(h)) for d, h in cl)} if cl else {})})

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not (k == "by" and self.kind == "payout")
                and not (k in self.PAYOUT_ONLY and self.kind == "value")}


def render(run: Run, spec: ReportSpec) -> str:
    if spec.kind == "value":
        table = value_table(run, spec.by)
        return {"csv": _value_csv, "md": _value_md, "json": _value_json}[spec.format](run, spec, table)
    from attribcli.statement import render_statement  # payout statements live in their own module

    return render_statement(run, spec)


# ----------------------------------------------------------------------------------------------- cells

def safe_cell(text) -> str:
    """Neutralize spreadsheet formula injection in user-supplied text (OWASP: prefix with ')."""
    s = "" if text is None else str(text)
    return "'" + s if s.startswith(FORMULA_START) else s


def num(x: float) -> str:
    """Full-precision, round-trippable, locale-free number text (the same on every run)."""
    x = float(x)
    return "0" if x == 0 else repr(x)


def short(x: float) -> str:
    return f"{float(x):.4g}"


def md_text(text) -> str:
    """Markdown table cell: escape HTML and pipes, keep it on one line."""
    s = html.escape(str(text), quote=False).replace("|", "\\|")
    return " ".join(s.split())


def _csv_text(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _md_table(header: list[str], rows: list[list], align: str | None = None) -> list[str]:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join((align or "-" * len(header))[i] == "r" and "---:" or "---" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def _mark(spec: ReportSpec, run: Run) -> str:
    return MD_MARK + json.dumps({"parameters": spec.to_dict(), "run_manifest_sha256": run.manifest_sha256},
                                sort_keys=True) + " -->"


def _holder_info(run: Run) -> dict[str, dict[str, str]]:
    return {str(r["holder_id"]): dict(r) for r in run.holders.to_dict("records")}


def _extra_columns(run: Run) -> list[str]:
    return [c for c in run.holders.columns if c not in ("holder_id", "name", "contact")]


# ----------------------------------------------------------------------------------------------- value

def value_table(run: Run, by: str) -> pd.DataFrame:
    gens = V.generation_ids(run)
    if by == "sample":
        t = pd.DataFrame(run.values, columns=gens)
        owner = V.holder_of_documents(run)
        lic = dict(zip(run.documents["id"].astype(str), run.documents["license"]))
        t.insert(0, "sample", run.samples["sample"].values)
        t.insert(1, "doc_id", run.samples["doc_id"].astype(str).values)
        t.insert(2, "chunk", run.samples["chunk"].values)
        t.insert(3, "holders", [owner[d] for d in t["doc_id"]])
        t.insert(4, "license", [lic[d] for d in t["doc_id"]])
        t.insert(5, "total", t[gens].sum(axis=1))
        return t
    if by == "holder":
        t = V.holder_values(run)
        info = _holder_info(run)
        t.insert(0, "total", t[gens].sum(axis=1))
        t.insert(0, "name", [info.get(p, {}).get("name", "unknown holder (escrow)") for p in t.index])
        t.index.name = "holder_id"
        return t.reset_index()
    if by == "license":
        t = V.license_values(run)
        counts = run.documents[~run.documents["opt_out"].astype(bool)].groupby("license").size()
        t.insert(0, "total", t[gens].sum(axis=1))
        t.insert(0, "documents", counts.reindex(t.index).fillna(0).astype(int).values)
        return t.reset_index()
    if by == "generation":
        t = V.efficiency(run)
        hv = V.holder_values(run)
        t["top_payee"] = [str(hv[g].idxmax()) for g in t["generation_id"]]
        return t
    raise ValueError(by)


def _value_csv(run, spec, table):
    header = list(table.columns) + ["run_manifest_sha256"]
    rows = [[num(v) if isinstance(v, float) else safe_cell(v) for v in r] + [run.manifest_sha256]
            for r in table.itertuples(index=False)]
    return _csv_text(header, rows)


def _value_json(run, spec, table):
    records = [{k: (float(v) if isinstance(v, float) else v.item() if hasattr(v, "item") else v)
                for k, v in r.items()} for r in table.to_dict("records")]
    return json.dumps({"attrib_report": "value", "parameters": spec.to_dict(),
                       "run": {"path_name": run.path.name, "manifest_sha256": run.manifest_sha256},
                       "unit": "nats of completion log-likelihood (first-order predicted loss reduction)",
                       "rows": records}, indent=2, ensure_ascii=False) + "\n"


def _value_md(run, spec, table):
    lines = [f"# Values by {spec.by}: run `{md_text(run.path.name)}`", "",
             "Unit: nats of the completion's log-likelihood (positive = the data lowered the generation's loss).", ""]
    cols = list(table.columns)
    lines += _md_table([md_text(c) for c in cols],
                       [[short(v) if isinstance(v, float) else md_text(v) for v in r] for r in table.itertuples(index=False)])
    if spec.by == "generation":
        lines += ["", "Efficiency: Σ values vs the realised loss reduction; `relative_gap` = gap / |realised|."]
    lines += ["", f"Run manifest SHA-256: `{run.manifest_sha256}`", "", _mark(spec, run), ""]
    return "\n".join(lines)
