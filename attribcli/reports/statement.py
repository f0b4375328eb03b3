"""Payout statements: what each payee is owed, paid and carried, in CSV, Markdown and JSON.

A statement is a pure function of (valuation, spec), like every report (spec.py), so ``attrib verify`` can
re-derive it. Its lines are leaves of a Merkle tree (one payee's line plus a proof can be checked on
its own), it may be signed, and a single payee can be sent their own statement.
"""

from __future__ import annotations

import dataclasses
import json
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from attribcli.config import PayoutConfig, payout_policy
from attribcli.errors import AttribError
from attribcli.files import sha256_bytes
from attribcli.money.amounts import format_amount, parse_amount
from attribcli.money.payout import Payout, apply_claims, compute_payout, payee_kind
from attribcli.money.settlement import Settlement, settle
from attribcli.reports.cells import (
    csv_text,
    md_code,
    md_comment,
    md_link_target,
    md_table,
    md_text,
    num,
    safe_cell,
    short,
)
from attribcli.reports.merkle import key_from_env, leaf_bytes, merkle_root, proof_document, sign
from attribcli.reports.spec import ReportSpec, mark
from attribcli.rights.holders import ESCROW_ID, UNALLOCATED_ID
from attribcli.valuation.valuation import Valuation
from attribcli.valuation.values import top_documents


@dataclasses.dataclass(frozen=True)
class Statement:
    """Everything one statement is, computed once: renderers, the ledger and verify all read this."""

    id: str
    payout: Payout
    settlement: Settlement
    lines: list          # Merkle leaves, one per payee, in order
    root: str            # their Merkle root

    @property
    def size(self) -> int:
        return len(self.lines)


def build(val: Valuation, spec: ReportSpec) -> Statement:
    """The pipeline of one statement: policy (read once), allocation, escrow claims, settlement, lines."""
    policy = payout_policy(val.config_path, stages=spec.stages, platform_fee=spec.platform_fee, floor=spec.floor,
                           cap=spec.cap, minimum_payout=spec.minimum_payout, shared=spec.shared)
    payout = compute(val, spec, policy)
    st = settlement(spec, payout, policy)
    sid = statement_id(val, spec)
    lines = statement_lines(val, sid, payout, st)
    return Statement(sid, payout, st, lines, statement_root(lines))


def render_statement(val: Valuation, spec: ReportSpec, stmt: Statement | None = None) -> str:
    """A payout statement in spec.format (or, with spec.holder, the statement one payee is sent)."""
    stmt = stmt or build(val, spec)
    if spec.holder is not None:
        return _holder_statement(val, spec, stmt)
    return {"csv": _payout_csv, "md": _payout_md, "json": _payout_json}[spec.format](val, spec, stmt)


def settlement(spec: ReportSpec, payout: Payout, policy: PayoutConfig) -> Settlement:
    minimum = parse_amount(policy.minimum_payout, payout.currency, field="minimum_payout")
    return settle(payout, minimum=minimum, carried_in=dict(spec.carried_in or ()))


def compute(val: Valuation, spec: ReportSpec, policy: PayoutConfig) -> Payout:
    """The payout a statement describes: stages, allocation, floor/cap and escrow claims applied."""
    clash = sorted(val.holder_ids & {policy.platform_payee, policy.base_model_payee, policy.prompt_payee,
                                     policy.commons_payee})
    if clash:
        raise AttribError(f"payee id {clash[0]} is both a holder and a stage payee", file=str(val.config_path),
                          field="payout", fix="give the platform, base-model and prompt payees ids no holder uses")
    payout = compute_payout(val, revenue=spec.revenue, currency=spec.currency, policy=policy)
    apply_claims(val, payout, dict(spec.claims or ()))
    return payout


STAGE_NAMES = {"platform": "platform fee", "base_model": "base model", "prompt": "prompt authors"}
_SHARED_RULES = {  # payout.shared, as the statement states it (README, Method: shared and specific value)
    "pool": "Each generation's value is in two parts: what the generation alone gained from the data (specific) and "
            "what it gained with any text of the domain, measured on the run's reference texts (shared). Its data "
            "money goes in proportion to the positive pieces: each holder's positive specific value, paid to that "
            "holder, and the shared part's positive total, paid to holders by their share of every training step's "
            "general learning (one key for every generation). Nats below: the positive pieces of each part.",
    "tokens": "Each generation's data money goes in proportion to the positive pieces of its value: each holder's "
              "positive specific value, paid to that holder, and the shared part's positive total, paid to holders "
              "by the tokens their documents were trained on (one key for every generation). Nats below: the "
              "positive pieces of each part.",
    "generation": "Each generation's data money goes in proportion to the positive pieces of its value: each holder's "
                  "positive specific value, paid to that holder, and the shared part's positive total, paid to "
                  "holders by their positive shared values in that generation. Nats below: the positive pieces of "
                  "each part.",
}


def payee_rows(val: Valuation, payout: Payout):
    info = val.holder_info
    extras = val.extra_columns
    for p in payout.payees():
        h = info.get(p, {})
        yield p, payee_name(val, payout, p), h.get("contact", ""), [h.get(c, "") for c in extras]


def payee_name(val: Valuation, payout: Payout, payee: str) -> str:
    """The holder's name, or what the line is (escrow, commons, a stage, no eligible recipient)."""
    stage_of = {p: stage for stage, p in payout.stage_payees.items()}
    return val.holder_info.get(payee, {}).get("name") or {
        "escrow": "unknown holders (escrow)", "unallocated": "no eligible recipient",
        "commons": "commons (public-domain works)"}.get(payee_kind(payee, payout),
                                                        STAGE_NAMES.get(stage_of.get(payee), payee))


def _share(amount: int, total: int) -> str:
    if not total:
        return "0.0000"
    with localcontext() as ctx:  # exact ratio of integers, rounded half-even at 4 decimals
        ctx.prec = 50
        return str((Decimal(amount * 100) / Decimal(total)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))


def statement_id(val: Valuation, spec: ReportSpec) -> str:
    """Binds lines to one statement: the run (manifest hash) and how its revenue was split."""
    params = {k: v for k, v in spec.to_dict().items()
              if k not in ("format", "detail", "carried_in", "holder", "plot", "sign", "claims")}
    return sha256_bytes(json.dumps({"run": val.manifest_sha256, **params}, sort_keys=True).encode())[:32]


def statement_lines(val: Valuation, sid: str, payout: Payout, st: Settlement) -> list[dict]:
    """The statement's lines as Merkle leaves (canonical JSON of each): one per payee, in order."""
    cur = payout.currency
    return [{"statement": sid, "payee_id": p, "kind": payee_kind(p, payout), "name": str(name),
             "amount": format_amount(payout.total(p), cur), "amount_minor": payout.total(p), "currency": cur,
             "carried_in_minor": st.carried_in.get(p, 0), "paid_minor": st.paid[p],
             "carried_out_minor": st.carried_out[p], **_part_fields(payout, p)}
            for p, name, _, _ in payee_rows(val, payout)]


def _part_fields(payout: Payout, payee: str) -> dict:
    """A payee's data money for its generations' specific and shared parts (before floor and cap); nothing for a
    statement whose data money is not cut into parts (as statements were before)."""
    if payout.shared is None:
        return {}
    return {"specific_minor": payout.part_total(payee, "specific"), "shared_minor": payout.part_total(payee, "shared")}


def statement_root(lines: list[dict]) -> str:
    return merkle_root([leaf_bytes(line) for line in lines])


def _holder_statement(val: Valuation, spec: ReportSpec, stmt: Statement) -> str:
    """The statement one payee is sent: their amounts per generation, their documents, their settlement,
    and their line with its Merkle proof, checkable against the full statement's published root."""
    payout, st = stmt.payout, stmt.settlement
    payee = val.payee_of.get(spec.holder, spec.holder)
    if payee not in payout.payees():
        raise AttribError(f"'{spec.holder}' is not a payee of this statement", field="--holder",
                          fix=f"use one of: {', '.join(payout.payees())}")
    cur = payout.currency
    f = lambda a: format_amount(a, cur)  # noqa: E731
    name = next(n for p, n, _, _ in payee_rows(val, payout) if p == payee)
    proof = _proof(stmt, payee, "--holder")  # holder does not enter the statement id: the full statement's line
    gens = [{"generation_id": g.generation_id, "revenue": f(g.revenue), "data_stage": f(g.stage_amounts["fine_tuning"]),
             "value": g.values.get(payee, 0.0), "amount": f(g.amounts.get(payee, 0)),
             "amount_minor": g.amounts.get(payee, 0),
             **({f"{k}_minor": g.part_amounts[k].get(payee, 0) for k in ("specific", "shared")} if payout.shared
                else {})} for g in payout.generations]
    owner = val.ownership
    docs = None if val.per_payee else val.document_values  # a payee-level valuation values no document
    mine = owner[owner["payee_id"] == payee]
    doc_rows = sorted(((d, sh, None if docs is None else float(docs.loc[d].sum()) * sh)
                       for d, sh in zip(mine["doc_id"], mine["share"]) if docs is None or d in docs.index),
                      key=lambda r: (-(r[2] or 0.0), r[0]))
    lic = val.license_of
    if spec.format == "json":
        return json.dumps({"attrib_report": "payout", "parameters": spec.to_dict(),
                           "run": {"path_name": val.name, "manifest_sha256": val.manifest_sha256},
                           "payee_id": payee, "name": name, "currency": cur, "amount_minor": payout.total(payee),
                           "carried_in_minor": st.carried_in.get(payee, 0), "paid_minor": st.paid[payee],
                           "carried_out_minor": st.carried_out[payee], "generations": gens,
                           "documents": [{"doc_id": d, "share": sh, "license": lic.get(d), "value": v}
                                         for d, sh, v in doc_rows], "proof": proof},
                          indent=2, ensure_ascii=False) + "\n"
    lines = [f"# Statement for {md_text(payee)} ({md_text(name)})", "",
             f"- Run {md_code(val.name)}, statement `{proof['statement']}`, currency {cur}",
             f"- Earned this statement: **{f(payout.total(payee))}**; carried in {f(st.carried_in.get(payee, 0))}; "
             f"paid now **{f(st.paid[payee])}**; carried forward {f(st.carried_out[payee])}",
             f"- Your line is line {proof['index'] + 1} of {proof['size']} under Merkle root `{proof['root']}`; "
             "save the proof below as JSON and run `attrib verify --line PROOF --root ROOT --size N` with the "
             "root and size the full statement publishes.", "", "## Per generation", ""]
    parts = ["specific_minor", "shared_minor"] if payout.shared else []
    lines += md_table(["Generation", f"Revenue ({cur})", "To the data", "Your value (nats)", f"Your amount ({cur})",
                       *[f"of it: {k.split('_')[0]}" for k in parts]],
                       [[md_text(g["generation_id"]), g["revenue"], g["data_stage"], short(g["value"]), g["amount"],
                         *[f(g[k]) for k in parts]] for g in gens], "-rrrr" + "r" * len(parts))
    lines += ["", "## Your documents", ""]
    lines += md_table(["Document", "Your share", "License", "Value to you (nats)"],
                       [[md_code(d, table=True), f"{sh:g}", md_text(lic.get(d, "")),
                         "not valued" if v is None else short(v)] for d, sh, v in doc_rows[:20]],
                       "-r-r")
    if len(doc_rows) > 20:
        lines.append(f"\n… and {len(doc_rows) - 20} more (JSON statement lists all).")
    lines += ["", "## Proof", "", "```json", json.dumps(proof, indent=2, ensure_ascii=False), "```", "",
              md_comment(mark(spec, val.manifest_sha256)), ""]
    return "\n".join(lines)


def signature(sid: str, root: str, size: int) -> str:
    """HMAC-SHA256 over the statement id, its Merkle root and its number of lines: it covers every line."""
    key = key_from_env()
    if key is None:
        raise AttribError("signing needs a key", field="ATTRIB_SIGNING_KEY",
                          fix="export ATTRIB_SIGNING_KEY=<secret> (the same key verifies the statement)")
    return sign(f"{sid}\n{root}\n{size}\n".encode(), key)


def line_proof(val: Valuation, spec: ReportSpec, payee: str) -> dict:
    """The proof document a single payee can be sent: their line, its index, the audit path, the root."""
    return _proof(build(val, dataclasses.replace(spec, holder=None)), payee, "--proof-for")


def _proof(stmt: Statement, payee: str, field: str) -> dict:
    index = next((i for i, line in enumerate(stmt.lines) if line["payee_id"] == payee), None)
    if index is None:
        raise AttribError(f"'{payee}' is not a payee of this statement", field=field,
                          fix=f"use one of: {', '.join(line['payee_id'] for line in stmt.lines)}")
    return proof_document(stmt.lines, index, statement=stmt.id)


def _payout_csv(val, spec, stmt: Statement):
    payout, st = stmt.payout, stmt.settlement
    cur = payout.currency
    extras = val.extra_columns
    tail = ["currency", "revenue_mode", "revenue_total", "stages", *(["shared"] if spec.shared else []),
            "platform_fee", "minimum_payout", "floor", "cap", "period", "escrow_claims",
            *(["valuation"] if spec.valuation else []), "run_manifest_sha256"]
    tail_vals = [cur, payout.mode, format_amount(payout.revenue, cur), "" if spec.stages is None else spec.stages,
                 *([spec.shared] if spec.shared else []),
                 "" if spec.platform_fee is None else repr(spec.platform_fee),
                 "" if spec.minimum_payout is None else spec.minimum_payout, spec.floor or "", spec.cap or "",
                 safe_cell(spec.period or ""), safe_cell(";".join(f"{d}:{h}" for d, h in spec.claims or ())),
                 *([safe_cell(spec.valuation)] if spec.valuation else []), val.manifest_sha256]
    flagged = set(spec.opted_out or ())
    tail = ["opted_out_after_training"] + tail
    if spec.detail:
        parts = [] if payout.shared is None else ["specific_minor", "shared_minor"]
        fixed = ["generation_id", "value", "amount", "amount_minor", *parts, "share_of_generation_pct"] + tail
        header = ["payee_id", "kind", "name", "contact", *_field_names(extras, fixed, safe_cell), *fixed]
        rows = []
        for p, name, contact, ex in payee_rows(val, payout):
            for g in payout.generations:
                a = g.amounts.get(p, 0)
                rows.append([safe_cell(p), payee_kind(p, payout), safe_cell(name), safe_cell(contact),
                             *map(safe_cell, ex), safe_cell(g.generation_id), num(g.values.get(p, 0.0)),
                             format_amount(a, cur), a, *[g.part_amounts.get(k, {}).get(p, 0) for k in
                                                         ("specific", "shared")][:len(parts)],
                             _share(a, g.revenue), _yes(p in flagged)] + tail_vals)
            if payout.adjustments.get(p):
                a = payout.adjustments[p]
                rows.append([safe_cell(p), payee_kind(p, payout), safe_cell(name), safe_cell(contact),
                             *map(safe_cell, ex), "(floor/cap adjustment)", "0", format_amount(a, cur), a,
                             *[0] * len(parts), "", _yes(p in flagged)] + tail_vals)
    else:
        parts = [] if payout.shared is None else ["specific_minor", "shared_minor"]
        fixed = ["value", "positive_value", "amount", "amount_minor", *parts, "share_of_revenue_pct",
                 "generations_paid", "carried_in_minor", "paid_minor", "carried_out_minor"] + tail
        header = ["payee_id", "kind", "name", "contact", *_field_names(extras, fixed, safe_cell), *fixed]
        rows = []
        for p, name, contact, ex in payee_rows(val, payout):
            pos = payout.positive_value(p)
            a = payout.total(p)
            rows.append([safe_cell(p), payee_kind(p, payout), safe_cell(name), safe_cell(contact), *map(safe_cell, ex),
                         num(payout.value(p)), num(pos), format_amount(a, cur), a,
                         *_part_fields(payout, p).values(), _share(a, payout.revenue),
                         payout.generations_paid(p), st.carried_in.get(p, 0),
                         st.paid[p], st.carried_out[p], _yes(p in flagged)] + tail_vals)
    return csv_text(header, rows)


_HOLDER_FIELDS = ("payee_id", "kind", "name", "contact")


def _field_names(extras: list[str], fixed: list[str], cell=str) -> list[str]:
    """The holders file's extra columns as report fields (``cell`` neutralises a CSV header, as a data cell
    is). One named like a report field (a column 'payee_id' or 'amount_minor') is written 'holder_<name>':
    a reader that keys rows by name, or a JSON object, must get the report's own field, not the input's."""
    taken, out = {*_HOLDER_FIELDS, *fixed}, []
    for c in extras:
        name = cell(c)
        while name in taken:
            name = "holder_" + name
        taken.add(name)
        out.append(name)
    return out


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _payout_json(val, spec, stmt: Statement):
    payout, st = stmt.payout, stmt.settlement
    cur = payout.currency
    extras = _field_names(val.extra_columns, ["value", "amount", "amount_minor", "carried_in_minor", "paid_minor",
                                               "carried_out_minor"])
    payees = [{"payee_id": p, "kind": payee_kind(p, payout), "name": name, "contact": contact,
               **dict(zip(extras, ex)), "value": payout.value(p),
               "amount": format_amount(payout.total(p), cur), "amount_minor": payout.total(p),
               "carried_in_minor": st.carried_in.get(p, 0), "paid_minor": st.paid[p],
               "carried_out_minor": st.carried_out[p], **_part_fields(payout, p)}
              for p, name, contact, ex in payee_rows(val, payout)]
    gens = [{"generation_id": g.generation_id, "revenue": format_amount(g.revenue, cur), "revenue_minor": g.revenue,
             "stages": {st: {"nats": g.stage_nats.get(st), "amount_minor": g.stage_amounts.get(st, 0),
                             "payee": payout.stage_payees.get(st, "holders")}
                        for st in ("platform", "base_model", "fine_tuning", "prompt")},
             **({"parts": {k: {"nats": g.part_nats[k], "amount_minor": sum(g.part_amounts[k].values())}
                           for k in ("specific", "shared")}} if payout.shared else {}),
             "lines": [{"payee_id": p, "value": g.values.get(p, 0.0), "amount": format_amount(a, cur),
                        "amount_minor": a}
                       for p, a in g.amounts.items() if a or g.values.get(p, 0.0)]}
            for g in payout.generations]
    doc = {"attrib_report": "payout", "parameters": spec.to_dict(),
           "run": {"path_name": val.name, "manifest_sha256": val.manifest_sha256},
           "currency": cur, "revenue_mode": payout.mode, "revenue": format_amount(payout.revenue, cur),
           "revenue_minor": payout.revenue, "shared_rule": payout.shared, "payees": payees, "generations": gens,
           "statement_id": stmt.id,
           "floor_cap_adjustments_minor": dict(payout.adjustments),
           "settlement": {"minimum_payout_minor": st.minimum, "carried_in_minor": sum(st.carried_in.values()),
                          "paid_minor": sum(st.paid.values()), "carried_out_minor": sum(st.carried_out.values())},
           "merkle": {"root": stmt.root, "size": stmt.size,
                      "algorithm": "RFC 6962 Merkle tree hash, SHA-256",
                      "leaf": "canonical JSON (sorted keys, no spaces, UTF-8) of each line of 'lines'"},
           "lines": stmt.lines,
           **({"signature": {"algorithm": "HMAC-SHA256", "over": "statement_id, merkle root, size (one per line)",
                             "key": "ATTRIB_SIGNING_KEY",
                             "value": signature(stmt.id, stmt.root, stmt.size)}} if spec.sign else {}),
           "period": spec.period, "opted_out_after_training": list(spec.opted_out or ()),
           "escrow_claims": [list(c) for c in spec.claims or ()],
           "excluded_documents": val.excluded_documents["id"].astype(str).tolist(),
           "escrow_documents": val.escrow_documents["id"].astype(str).tolist(),
           "method": val.method,
           **({"fidelity": val.fidelity} if val.fidelity is not None else {})}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _payout_md(val, spec, stmt: Statement):
    payout, st = stmt.payout, stmt.settlement
    cur, total = payout.currency, payout.revenue
    f = lambda a: format_amount(a, cur)  # noqa: E731
    info = val.holder_info
    name_of = {p: n for p, n, _, _ in payee_rows(val, payout)}
    paid = [p for p in payout.payees() if payout.total(p) > 0]
    escrow_amt = payout.total(ESCROW_ID)
    mode = ("each generation's own revenue" if payout.mode == "generations"
            else f"a total of {f(total)} {cur} split evenly across generations")
    lines = [f"# Payout statement: run {md_code(val.name)}"
             + (f", valuation {md_code(spec.valuation)}" if spec.valuation else "")
             + (f", period {md_text(spec.period)}" if spec.period else ""), "",
             "## Summary", "",
             f"- Revenue: **{f(total)} {cur}** ({mode}), over {len(payout.generations)} generations",
             f"- Paid to {sum(1 for p in paid if payee_kind(p, payout) == 'holder')} rights holders; "
             f"escrow (unknown holders): {f(escrow_amt)} {cur}",
             f"- Lines sum exactly to the revenue: {f(sum(payout.total(p) for p in payout.payees()))} {cur}",
             f"- Reconciliation: revenue {f(total)} + carried in {f(sum(st.carried_in.values()))} = paid now "
             f"{f(sum(st.paid.values()))} + carried forward {f(sum(st.carried_out.values()))} {cur} (minimum payout "
             f"{f(st.minimum)}; escrow is carried until claimed)",
             (f"- Valuation manifest SHA-256 (it names the run's): `{val.manifest_sha256}`" if spec.valuation else
              f"- Run manifest SHA-256: `{val.manifest_sha256}`"),
             *(["- Values: **approximate**, from the run's gradient index (`attrib query`; its accuracy: "
                "benchmarks/RESULTS.md, The gradient index); `attrib replay` gives the exact ones"]
               if val.approximate else []),
             *(["- The run has reference texts, but values from its index have no specific and shared parts: this "
                "statement pays them by total values (`attrib replay` values the generations with their parts)"]
               if payout.shared is None and not val.parts and "reference" in val.manifest.get("inputs", {}) else []),
             *([f"- The index against exact values, measured on the run's {c['generations']} training-time "
                f"generations: Spearman over {'payees' if val.per_payee else 'samples'} {c['spearman_median']:.3f} "
                f"(median; least {c['spearman_min']:.3f}), value sums {c['value_sum_ratio_median']:.2f}x the exact "
                "(median)" + (f"; payee shares {100 * c['share_tv_median']:.1f} % apart (total variation, median)"
                              if c.get("share_tv_median") is not None else "")]
               if (c := val.index_check) else []),
             *(["- Values per payee only (`attrib query --per payee`): no document or licence is valued"]
               if val.per_payee else []),
             f"- Statement `{stmt.id}`: Merkle root `{stmt.root}` "
             f"over its {stmt.size} lines (a payee can check their line: `attrib payout ... --proof-for ID`, "
             "then `attrib verify --line PROOF --root ROOT --size N`)",
             *([f"- HMAC-SHA256 signature (key ATTRIB_SIGNING_KEY) over statement id, root and size: `"
                f"{signature(stmt.id, stmt.root, stmt.size)}`"]
               if spec.sign else []), "",
             *([f"![Payee shares and the distribution of sample values]({md_link_target(spec.plot)})", ""]
               if spec.plot else []),
             "## Stage split", "",
             "Each generation's revenue, after any platform fee, splits across the stages that produced it, "
             "measured in nats of the completion's log-likelihood (base model: uniform reference → base; "
             "fine-tuning data: base → fine-tuned; prompt: without → with the prompt); the data stage goes "
             "to holders by value.", ""]
    stage_rows = []
    for g in payout.generations:
        sa, sn = g.stage_amounts, g.stage_nats
        stage_rows.append([md_text(g.generation_id), f(g.revenue), f(sa.get("platform", 0)),
                           f"{short(sn['base_model'])} / {f(sa['base_model'])}",
                           f"{short(sn['fine_tuning'])} / {f(sa['fine_tuning'])}",
                           f"{short(sn['prompt'])} / {f(sa['prompt'])}"])
    lines += md_table(["Generation", f"Revenue ({cur})", "Platform", "Base model (nats / amount)",
                        "Fine-tuning data (nats / amount)", "Prompt (nats / amount)"], stage_rows, "-rrrrr")
    if payout.shared:
        lines += ["", "## Specific and shared parts", "", _SHARED_RULES[payout.shared], ""]
        lines += md_table(["Generation", "Specific (nats / amount)", "Shared (nats / amount)"],
                           [[md_text(g.generation_id),
                             f"{short(g.part_nats['specific'])} / {f(sum(g.part_amounts['specific'].values()))}",
                             f"{short(g.part_nats['shared'])} / {f(sum(g.part_amounts['shared'].values()))}"]
                            for g in payout.generations], "-rr")
    lines += ["", "## Per holder", ""]
    rows = []
    part_cols = ["Specific", "Shared"] if payout.shared else []
    for p in sorted(payout.payees(), key=lambda p: (-payout.total(p), p)):
        rows.append([md_text(p), md_text(name_of[p]), short(payout.value(p)), f(payout.total(p)),
                     *[f(v) for v in _part_fields(payout, p).values()],
                     _share(payout.total(p), total) + " %", f(st.carried_in.get(p, 0)), f(st.paid[p]),
                     f(st.carried_out[p])])
    lines += md_table(["Payee", "Name", "Value (nats)", f"Amount ({cur})", *part_cols, "Share", "Carried in",
                        "Paid now", "Carried forward"], rows, "--rr" + "r" * len(part_cols) + "rrrr")
    neg = [(g.generation_id, p, v) for g in payout.generations for p, v in g.values.items() if v < 0]
    if neg:
        lines += ["", f"Negative values earn nothing: {len(neg)} holder × generation pairs had negative value "
                  "(their data raised the generation's loss); they are shown in the value tables."]
    lines += ["", "## Generations", ""]
    owner, doc_values = val.holder_of_documents, None if val.per_payee else val.document_values
    for g in payout.generations:
        lines += [f"### {md_text(g.generation_id)}: {f(g.revenue)} {cur}", ""]
        top = sorted((p for p in g.amounts if g.amounts[p] > 0), key=lambda p: (-g.amounts[p], p))[:3]
        lines += md_table(["Top holders", "Value (nats)", f"Amount ({cur})"],
                           [[md_text(f"{p} ({name_of.get(p, p)})"), short(g.values.get(p, 0.0)),
                             f(g.amounts[p])] for p in top],
                           "-rr")
        if doc_values is None:
            lines += ["", "Top documents: not valued (values per payee only: attrib query --per payee)", ""]
            continue
        docs = top_documents(doc_values, g.generation_id)
        top_docs = ", ".join(f"{md_code(d)} ({md_text(owner[d])}, {short(v)})" for d, v in docs)
        lines += ["", "Top documents: " + top_docs, ""]
    if spec.opted_out:
        lines += ["## Opted out after training", "",
                  "These holders opted out after this run was trained: their documents were used, so this statement "
                  "pays them, and they must be left out of the next training run:", ""]
        lines += [f"- {md_code(p)} ({md_text(info.get(p, {}).get('name', ''))}): {f(payout.total(p))} {cur} this "
                  "statement" for p in spec.opted_out] + [""]
    merges = val.merged_holders
    if merges:
        lines += ["## Merged payees", "", "Holders listed under more than one id are paid once, under one id:", ""]
        lines += [f"- {md_code(a)} ({md_text(info.get(a, {}).get('name', ''))}) is paid as {md_code(p)} "
                  f"({md_text(info.get(p, {}).get('name', ''))})" for a, p in merges] + [""]
    counts = val.trained_per_license
    lic_tot = None if val.per_payee else val.license_values.sum(axis=1)  # a payee-level valuation: not valued
    lines += ["## License mix", ""]
    cls = val.documents.drop_duplicates("license").set_index("license")
    flag = lambda lic_id, col: ("yes" if cls.loc[lic_id, col] else "no") if col in cls else ""  # noqa: E731
    lines += md_table(["License", "Use", "Attribution", "Share-alike", "Trained documents", "Value (nats)"],
                       [[md_text(lic_id), md_text(cls.loc[lic_id, "use"]) if "use" in cls else "",
                         flag(lic_id, "attribution"), flag(lic_id, "share_alike"), int(counts.get(lic_id, 0)),
                         "not valued" if lic_tot is None else short(lic_tot[lic_id])]
                        for lic_id in (counts.index if lic_tot is None else lic_tot.index)], "----rr")
    excl = val.excluded_documents
    lines += ["", "## Exclusions", "", f"{len(excl)} documents were not trained on and earn nothing"
              + (":" if len(excl) else ".")]
    for reason, group in excl.groupby("reason", sort=True):
        lines.append(f"- {md_text(reason)} ({len(group)}): " + ", ".join(md_code(i) for i in group["id"]))
    esc = val.escrow_documents
    lines += ["", "## Escrow", "",
              f"{len(esc)} trained documents have no known rights holder; their share, {f(escrow_amt)} {cur}, "
              "is held in escrow until claimed"
              + (": " + ", ".join(md_code(i) for i in esc["id"]) if len(esc) else ".")]
    if spec.claims:
        lines += ["", "Claimed escrow documents (paid to their holder from this statement on): "
                  + ", ".join(f"{md_code(d)} → {md_code(h)}" for d, h in spec.claims)]
    if any(payee_kind(p, payout) == "unallocated" for p in payout.payees()):
        lines += ["", f"UNALLOCATED: {f(payout.total(UNALLOCATED_ID))} {cur} of generations where no data had "
                  "positive value."]
    eff = val.efficiency
    lines += ["", "## Method", "",
              f"{val.method.get('name', '')}: {md_text(val.method.get('formula', ''))}.",
              "Holder value = Σ share × document value; revenue per generation is split in proportion to positive "
              + ("pieces of value (each holder's specific value, the shared part's total: see Specific and shared "
                 "parts), in integer minor units, by largest remainder (ties ordered by a hash of the statement)."
                 if payout.shared else  # as statements before parts said it, so they still re-derive byte for byte
                 "holder value, in integer minor units, by largest remainder (ties by holder id)."), "",
              "Efficiency check (Σ values vs realised loss reduction, nats):", ""]
    lines += md_table(["Generation", "Realised", "Σ values", "Relative gap"],
                       [[md_text(r.generation_id), short(r.realised_reduction), short(r.value_sum),
                         short(r.relative_gap)]
                        for r in eff.itertuples(index=False)], "-rrr")
    lines += _fidelity_md(val.fidelity)
    lines += ["", f"Verify: {md_code(f'attrib verify {val.name} REPORT')} re-derives this statement from the run.", "",
              md_comment(mark(spec, val.manifest_sha256)), ""]
    return "\n".join(lines)


def _fidelity_md(faithful: dict | None) -> list[str]:
    """Per-step fidelity (training/fidelity.py): whether the values describe what each step did. Runs made
    before it was measured have none, and their statements stay as they were."""
    if faithful is None:
        return []
    lines = ["", "Per-step fidelity (each step's predicted reduction, Σ values + carry, against the realised one): "
             + md_text(faithful["description"]) + "."]
    worst = "; ".join(f"step {w['step']}: predicted {short(w['predicted'])}, realised {short(w['realised'])}"
                      for w in faithful["worst_steps"])
    lines += ["", f"Steps furthest off: {md_text(worst)}."]
    if faithful["problems"]:
        lines += ["", "**Warning: the values do not describe this training step by step** ("
                  + md_text("; ".join(faithful["problems"])) + "): the amounts above rest on values that do not add up "
                  "to what the steps did."]
    return lines
