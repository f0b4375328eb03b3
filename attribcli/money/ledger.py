"""The carry-forward ledger: amounts owed but not yet paid, across statements, tamper-evident.

One JSON file (in the run's reports/ folder or a given path). Each statement that settles against it
appends an entry: its id, Merkle root, what it carried in and out, and the hash of the previous entry,
so editing any past entry, or the balances, breaks the chain and ``attrib verify --ledger`` says where.
The current balances are the last entry's ``carried_out``.

A plain SHA-256 chain shows edits but not forgeries: whoever edits an entry can recompute every hash
after it. With ``ATTRIB_SIGNING_KEY`` set, each entry also carries an HMAC-SHA256 of its hash under the
key (``entry_hmac``), so only a holder of the key can write an entry that verifies; a keyed ledger is
keyed from its first entry to its last, and is only posted to, or checked, with the key.

Posting is serialised (``posting``): the ledger's lock is held from reading the balances to the atomic
write of the new entry, so two statements can never carry in the same balance.
"""

from __future__ import annotations

import contextlib
import csv
import json
from pathlib import Path

from attribcli.errors import AttribError
from attribcli.files import atomic_write_text, locked, sha256_bytes, temporaries
from attribcli.keys import KEY_VAR, key_from_env, sign, verify_signature
from attribcli.rights.holders import ESCROW_ID
from attribcli.valuation.valuation import Valuation

FORMAT = "attrib-ledger-v1"


def _entry_hash(entry: dict) -> str:
    body = {k: v for k, v in entry.items() if k not in ("entry_sha256", "entry_hmac")}
    return sha256_bytes(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def _entry_hmac(entry_sha256: str, key: bytes) -> str:
    return sign(f"attrib-ledger-entry\n{entry_sha256}\n".encode(), key)


def signing_key() -> bytes | None:
    return key_from_env(KEY_VAR)


@contextlib.contextmanager
def posting(path: Path):
    """The ledger locked for one statement's posting: hold it from ``load`` to ``record``."""
    with locked(path, field="--ledger"):
        yield


def read(path: Path) -> dict:
    """The ledger file as JSON, or a one-line error (not JSON, not UTF-8, not a ledger)."""
    path = Path(path)
    try:
        ledger = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise AttribError("not a JSON ledger", file=str(path), field="--ledger",
                          fix="pass a ledger written by attrib payout --ledger, or a new path") from None
    except OSError as exc:
        raise AttribError(f"cannot read the ledger ({exc.strerror})", file=str(path), field="--ledger",
                          fix="pass a readable ledger file") from None
    if not isinstance(ledger, dict) or ledger.get("format") != FORMAT or not isinstance(ledger.get("entries"), list) \
            or not all(isinstance(e, dict) for e in ledger["entries"]):
        raise AttribError("not an attrib ledger", file=str(path), field="--ledger", fix="pass a new path")
    return ledger


def load(path: Path, currency: str, *, key: bytes | None = None) -> dict:
    """The ledger to post to (empty when ``path`` does not exist), checked: format, currency, chain and,
    with ``key``, every entry's HMAC. Call under ``posting``."""
    path = Path(path)
    if not path.exists():
        return {"format": FORMAT, "currency": currency, "entries": []}
    ledger = read(path)
    if ledger.get("currency") != currency:
        raise AttribError(f"ledger is in {ledger.get('currency')}, the statement in {currency}", file=str(path),
                          field="--currency", fix="use the ledger's currency, or another ledger")
    problems = check_chain(ledger, key=key)
    if problems:
        raise AttribError(f"ledger was altered: {problems[0]}", file=str(path), field="--ledger",
                          fix="restore it from a backup; never edit a ledger by hand")
    keyed = [i for i, e in enumerate(ledger["entries"]) if "entry_hmac" in e]
    if keyed and key is None:
        raise AttribError(f"the ledger is keyed (entry {keyed[0] + 1} carries an HMAC) and {KEY_VAR} is not set",
                          file=str(path), field=KEY_VAR, fix=f"set {KEY_VAR} to the ledger's key")
    return ledger


def check_chain(ledger: dict, *, key: bytes | None = None) -> list[str]:
    """Every break of the hash chain; with ``key``, also every entry whose HMAC is missing or wrong (a keyed
    ledger must be keyed throughout: an entry without one could have been forged)."""
    problems, prev = [], None
    for i, e in enumerate(ledger.get("entries", [])):
        if not isinstance(e, dict):
            problems.append(f"entry {i + 1} is not an object")
            prev = None
            continue
        if e.get("previous_sha256") != prev:
            problems.append(f"entry {i + 1} does not follow entry {i}")
        if _entry_hash(e) != e.get("entry_sha256"):
            problems.append(f"entry {i + 1} ({e.get('statement')}) was changed after it was written")
        if key is not None:
            mac = e.get("entry_hmac")
            if mac is None:
                problems.append(f"entry {i + 1} ({e.get('statement')}) carries no HMAC under {KEY_VAR}")
            elif not verify_signature(f"attrib-ledger-entry\n{e.get('entry_sha256')}\n".encode(), key, mac):
                problems.append(f"entry {i + 1} ({e.get('statement')}) has an HMAC that the key does not "
                                "give: forged, or written under another key")
        prev = e.get("entry_sha256")
    return problems


def carried_in(ledger: dict, statement: str, period: str | None = None) -> dict[str, int]:
    """Balances carried into ``statement``: the last entry's carried_out, or, when the last entry IS this
    statement (the same statement rendered again, in another format), what it carried in. A statement
    settled before, or another statement for a ``period`` already posted, is refused."""
    entries = ledger["entries"]
    if entries and entries[-1]["statement"] == statement:
        return dict(entries[-1]["carried_in"])
    if any(e["statement"] == statement for e in entries):
        raise AttribError(f"statement {statement} was settled earlier in this ledger", field="--ledger",
                          fix="settle each period once; re-render older statements without --ledger")
    if period is not None and any(e.get("period") == period for e in entries):
        raise AttribError(f"period {period} was already posted to this ledger by another statement",
                          field="--period", fix="post each period once: re-render its statement with the same "
                                                "options, or name the new period")
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


def opening(ledger: dict, statement: str, claims_file: Path | None, val: Valuation,
            period: str | None = None) -> tuple[dict, dict, dict]:
    """What ``statement`` settles against: (carried-in balances, escrow claims, escrow per document).

    New claims in ``claims_file`` move each claimed document's carried escrow to its holder. The same
    statement rendered again reuses what was recorded for it: nothing is transferred twice."""
    entries = ledger["entries"]
    if entries and entries[-1]["statement"] == statement:
        return dict(entries[-1]["carried_in"]), dict(entries[-1].get("claims", {})), {}
    carried, claimed = carried_in(ledger, statement, period), standing_claims(ledger, statement)
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
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error, OSError) as exc:
        raise AttribError(f"unreadable claims file ({type(exc).__name__}: not UTF-8 CSV)", file=str(path),
                          field="--claims", fix="save it as a UTF-8 CSV with the columns doc_id,holder_id") from None
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
           escrow_documents: dict | None = None, period: str | None = None, key: bytes | None = None) -> None:
    """Append ``statement``'s entry (atomically; call under ``posting``, after ``load``)."""
    entries = ledger["entries"]
    if entries and entries[-1]["statement"] == statement:
        return  # already recorded: re-rendering the same statement changes nothing
    entry = {"statement": statement, **settled_fields(root, settlement),
             "claims": dict(sorted((claims or {}).items())),
             "escrow_documents": {k: v for k, v in sorted((escrow_documents or {}).items()) if v},
             **({"period": period} if period is not None else {}),
             "previous_sha256": entries[-1]["entry_sha256"] if entries else None}
    entry["entry_sha256"] = _entry_hash(entry)
    if key is not None:
        entry["entry_hmac"] = _entry_hmac(entry["entry_sha256"], key)
    for stale in temporaries(Path(path).parent, Path(path).name):  # a posting killed mid-write (we hold the lock)
        stale.unlink(missing_ok=True)
    atomic_write_text(path, json.dumps({**ledger, "entries": entries + [entry]}, indent=2, sort_keys=True) + "\n")
