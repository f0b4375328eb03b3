"""The carry-forward ledger: amounts owed but not yet paid, across statements, tamper-evident.

One JSON file (in the run's reports/ folder or a given path). Each statement that settles against it
appends an entry: its id, Merkle root, what it carried in and out, and the hash of the previous entry,
so editing any past entry, or the balances, breaks the chain and ``attrib verify --ledger`` says where.
The current balances are the last entry's ``carried_out``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from attribcli.errors import AttribError
from attribcli.files import atomic_write_text, sha256_bytes
from attribcli.rights.holders import ESCROW_ID
from attribcli.valuation.valuation import Valuation

FORMAT = "attrib-ledger-v1"


def _entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k != "entry_sha256"}
    return sha256_bytes(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def load(path: Path, currency: str) -> dict:
    path = Path(path)
    if not path.exists():
        return {"format": FORMAT, "currency": currency, "entries": []}
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise AttribError("not a JSON ledger", file=str(path), field="--ledger",
                          fix="pass a ledger written by attrib payout --ledger, or a new path") from None
    if ledger.get("format") != FORMAT:
        raise AttribError("not an attrib ledger", file=str(path), field="--ledger", fix="pass a new path")
    if ledger.get("currency") != currency:
        raise AttribError(f"ledger is in {ledger.get('currency')}, the statement in {currency}", file=str(path),
                          field="--currency", fix="use the ledger's currency, or another ledger")
    problems = check_chain(ledger)
    if problems:
        raise AttribError(f"ledger was altered: {problems[0]}", file=str(path), field="--ledger",
                          fix="restore it from a backup; never edit a ledger by hand")
    return ledger


def check_chain(ledger: dict) -> list[str]:
    problems, prev = [], None
    for i, e in enumerate(ledger.get("entries", [])):
        if e.get("previous_sha256") != prev:
            problems.append(f"entry {i + 1} does not follow entry {i}")
        if _entry_hash(e) != e.get("entry_sha256"):
            problems.append(f"entry {i + 1} ({e.get('statement')}) was changed after it was written")
        prev = e.get("entry_sha256")
    return problems


def carried_in(ledger: dict, statement: str) -> dict[str, int]:
    """Balances carried into ``statement``: the last entry's carried_out, or, when the last entry IS this
    statement (the same statement rendered again, in another format), what it carried in."""
    entries = ledger["entries"]
    if entries and entries[-1]["statement"] == statement:
        return dict(entries[-1]["carried_in"])
    if any(e["statement"] == statement for e in entries):
        raise AttribError(f"statement {statement} was settled earlier in this ledger", field="--ledger",
                          fix="settle each period once; re-render older statements without --ledger")
    return dict(entries[-1]["carried_out"]) if entries else {}


def standing_claims(ledger: dict, statement: str) -> dict[str, str]:
    """Escrow documents claimed so far (document → holder), as of ``statement``."""
    entries = [e for e in ledger["entries"] if e["statement"] != statement]
    return dict(entries[-1].get("claims", {})) if entries else {}


def escrow_balances(ledger: dict, statement: str) -> dict[str, int]:
    """Escrow carried per holder-less document, as of ``statement``."""
    entries = [e for e in ledger["entries"] if e["statement"] != statement]
    return dict(entries[-1].get("escrow_documents", {})) if entries else {}


def settled_fields(root: str, settlement) -> dict:
    """What an entry records of a statement's settlement; verify compares exactly these."""
    return {"merkle_root": root,
            **{name: {k: v for k, v in sorted(getattr(settlement, name).items()) if v}
               for name in ("carried_in", "paid", "carried_out")}}


def opening(ledger: dict, statement: str, claims_file: Path | None, val: Valuation) -> tuple[dict, dict, dict]:
    """What ``statement`` settles against: (carried-in balances, escrow claims, escrow per document).

    New claims in ``claims_file`` move each claimed document's carried escrow to its holder. The same
    statement rendered again reuses what was recorded for it: nothing is transferred twice."""
    entries = ledger["entries"]
    if entries and entries[-1]["statement"] == statement:
        return dict(entries[-1]["carried_in"]), dict(entries[-1].get("claims", {})), {}
    carried, claimed = carried_in(ledger, statement), standing_claims(ledger, statement)
    balances = escrow_balances(ledger, statement)
    for doc, holder in (read_claims(claims_file, val, claimed) if claims_file else {}).items():
        moved = balances.pop(doc, 0)
        if moved:
            carried[ESCROW_ID] = carried.get(ESCROW_ID, 0) - moved
            carried[holder] = carried.get(holder, 0) + moved
        claimed[doc] = holder
    return carried, claimed, balances


def read_claims(path: Path, val: Valuation, standing: dict[str, str]) -> dict[str, str]:
    """doc_id,holder_id rows: each an escrow document of the run, claimed by a holder of the run."""
    if not Path(path).is_file():
        raise AttribError(f"claims file not found: {path}", field="--claims", fix="pass a CSV with doc_id,holder_id")
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    escrow = set(val.escrow_documents["id"].astype(str))
    holders = val.holder_ids
    out = {}
    for n, row in enumerate(rows, start=2):
        doc, who = (row.get("doc_id") or "").strip(), (row.get("holder_id") or "").strip()
        if doc not in escrow:
            raise AttribError(f"'{doc}' is not an escrow document of this run", file=f"{path}:{n}", field="doc_id",
                              fix=f"claim one of: {', '.join(sorted(escrow))}")
        if who not in holders:
            raise AttribError(f"'{who}' is not a holder of this run", file=f"{path}:{n}", field="holder_id",
                              fix="add the holder to the holders table first")
        if standing.get(doc, who) != who:
            raise AttribError(f"'{doc}' was already claimed by {standing[doc]}", file=f"{path}:{n}", field="doc_id",
                              fix="resolve the dispute outside attrib; a claim is settled once")
        out[doc] = who
    return out



def record(path: Path, ledger: dict, *, statement: str, root: str, settlement, claims: dict | None = None,
           escrow_documents: dict | None = None) -> None:
    entries = ledger["entries"]
    if entries and entries[-1]["statement"] == statement:
        return  # already recorded: re-rendering the same statement changes nothing
    entry = {"statement": statement, **settled_fields(root, settlement),
             "claims": dict(sorted((claims or {}).items())),
             "escrow_documents": {k: v for k, v in sorted((escrow_documents or {}).items()) if v},
             "previous_sha256": entries[-1]["entry_sha256"] if entries else None}
    entry["entry_sha256"] = _entry_hash(entry)
    atomic_write_text(path, json.dumps({**ledger, "entries": entries + [entry]}, indent=2, sort_keys=True) + "\n")
