"""Value tables: per sample, holder, generation (with the efficiency check) or licence, as CSV, Markdown
or JSON."""

from __future__ import annotations

import json

import pandas as pd

from attribcli.reports.cells import csv_text, md_code, md_comment, md_table, md_text, num, safe_cell, short
from attribcli.reports.spec import ReportSpec, mark
from attribcli.valuation.valuation import Valuation


def render_values(val: Valuation, spec: ReportSpec) -> str:
    table = value_table(val, spec.by, spec.part)
    return {"csv": _value_csv, "md": _value_md, "json": _value_json}[spec.format](val, spec, table)


PART_WORDS = {"total": "", "specific": "specific part of the ", "shared": "shared part of the "}


def value_table(val: Valuation, by: str, part: str = "total") -> pd.DataFrame:
    """One row per sample, holder, licence or generation; ``part``: the values' total, or (a run trained with
    reference texts) their specific or shared part (inrun/shared.py). Per generation, every part at once."""
    gens = val.generation_ids
    if by == "sample":
        t = pd.DataFrame(val.part_values(part), columns=gens)
        owner = val.holder_of_documents
        lic = val.license_of
        t.insert(0, "sample", val.samples["sample"].values)
        t.insert(1, "doc_id", val.samples["doc_id"].astype(str).values)
        t.insert(2, "chunk", val.samples["chunk"].values)
        t.insert(3, "holders", [owner[d] for d in t["doc_id"]])
        t.insert(4, "license", [lic[d] for d in t["doc_id"]])
        t.insert(5, "total", t[gens].sum(axis=1))
        return t
    if by == "holder":
        t = val.holder_part(part).copy()
        info = val.holder_info
        t.insert(0, "total", t[gens].sum(axis=1))
        t.insert(0, "name", [info.get(p, {}).get("name", "unknown holder (escrow)") for p in t.index])
        t.index.name = "holder_id"
        return t.reset_index()
    if by == "license":
        t = val.license_part(part).copy()
        counts = val.trained_per_license
        t.insert(0, "total", t[gens].sum(axis=1))
        t.insert(0, "documents", counts.reindex(t.index).fillna(0).astype(int).values)
        return t.reset_index()
    if by == "generation":
        t = val.efficiency.copy()
        hv = val.holder_values
        t["top_payee"] = [str(hv[g].idxmax()) for g in t["generation_id"]]
        if val.parts:  # the generation's value in its two parts, and whose specific part is largest
            t["shared_sum"] = val.losses["shared_sum"].to_numpy()
            t["specific_sum"] = t["value_sum"] - t["shared_sum"]
            specific = val.holder_part("specific")
            t["top_payee_specific"] = [str(specific[g].idxmax()) for g in t["generation_id"]]
        return t
    raise ValueError(by)


def _value_csv(val: Valuation, spec: ReportSpec, table: pd.DataFrame) -> str:
    extra = ([spec.part] if spec.part != "total" else []) + ([spec.valuation] if spec.valuation else [])
    # one column per generation id: an input, neutralised like a data cell (a fixed column name is unchanged)
    header = [safe_cell(c) for c in table.columns] + (["part"] if spec.part != "total" else []) \
        + (["valuation"] if spec.valuation else []) + ["run_manifest_sha256"]
    rows = [[num(v) if isinstance(v, float) else safe_cell(v) for v in r] + extra + [val.manifest_sha256]
            for r in table.itertuples(index=False)]
    return csv_text(header, rows)


def _value_json(val: Valuation, spec: ReportSpec, table: pd.DataFrame) -> str:
    records = [{k: (float(v) if isinstance(v, float) else v.item() if hasattr(v, "item") else v)
                for k, v in r.items()} for r in table.to_dict("records")]
    return json.dumps({"attrib_report": "value", "parameters": spec.to_dict(),
                       "run": {"path_name": val.name, "manifest_sha256": val.manifest_sha256},
                       "unit": "nats of completion log-likelihood (first-order predicted loss reduction)",
                       "rows": records}, indent=2, ensure_ascii=False) + "\n"


def _value_md(val: Valuation, spec: ReportSpec, table: pd.DataFrame) -> str:
    lines = [f"# Values by {spec.by}: run {md_code(val.name)}"
             + (f", valuation {md_code(spec.valuation)}" if spec.valuation else ""), "",
             "Unit: nats of the completion's log-likelihood (positive = the data lowered the generation's loss)"
             + (f"; the {PART_WORDS[spec.part]}values (README, Method: shared and specific value)."
                if spec.part != "total" else "."), ""]
    cols = list(table.columns)
    lines += md_table([md_text(c) for c in cols],
                       [[short(v) if isinstance(v, float) else md_text(v) for v in r]
                        for r in table.itertuples(index=False)])
    if spec.by == "generation":
        lines += ["", "Efficiency: Σ values vs the realised loss reduction; `relative_gap` = gap / |realised|."]
    lines += ["", f"Run manifest SHA-256: `{val.manifest_sha256}`", "", md_comment(mark(spec, val.manifest_sha256)), ""]
    return "\n".join(lines)
