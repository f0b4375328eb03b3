"""Who is paid: the holders table, aliases (one holder listed under several ids is paid once), and the
reserved payee ids every later stage uses.

A holder is a payee.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from attribcli.errors import AttribError

ESCROW_ID = "ESCROW"  # the payout line for documents whose rights holder is unknown
COMMONS_ID = "COMMONS"  # public-domain works' value (the payee id is configurable: payout.commons_payee)
UNALLOCATED_ID = "UNALLOCATED"  # money with no eligible recipient: reported, never spread
RESERVED_IDS = (ESCROW_ID, UNALLOCATED_ID, COMMONS_ID, "PLATFORM", "BASE_MODEL", "PROMPT_AUTHORS")
HOLDER_COLUMNS = ("holder_id", "name", "contact")


@dataclass(frozen=True)
class Holder:
    id: str
    name: str
    contact: str
    extra: dict[str, str] = field(default_factory=dict, compare=False)


def load_holders(path: Path) -> dict[str, Holder]:
    """Holders CSV: ``holder_id,name,contact`` plus any further columns, kept for the reports."""
    path = Path(path)
    if not path.is_file():
        raise AttribError(f"holders file not found: {path}", field="data.holders",
                          fix="point data.holders at a CSV with columns holder_id,name,contact")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AttribError(f"cannot read CSV: {exc}", file=str(path), fix="save it as UTF-8 CSV") from None
    if not rows:
        raise AttribError("empty file", file=str(path),
                          fix="add the header holder_id,name,contact and one row per holder")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in HOLDER_COLUMNS if c not in header]
    if missing:
        raise AttribError(f"missing column(s) {', '.join(missing)}", file=str(path), field="header",
                          fix="the first line must name holder_id,name,contact (more columns are allowed)")
    if len(set(header)) != len(header):
        raise AttribError("duplicate column name", file=str(path), field="header",
                          fix="give each column a distinct name")
    holders: dict[str, Holder] = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise AttribError(f"{len(row)} cells, header has {len(header)}", file=f"{path}:{n}",
                              field=header[len(row)] if len(row) < len(header) else None,  # the first missing one
                              fix="quote cells that contain commas" if len(row) > len(header)
                              else "give every row one cell per column (empty is fine) and close every quote")
        rec = dict(zip(header, (c.strip() for c in row)))
        hid = rec["holder_id"]
        if not hid:
            raise AttribError("empty holder_id", file=f"{path}:{n}", field="holder_id", fix="give every holder an id")
        if hid in RESERVED_IDS:
            raise AttribError(f"'{hid}' is reserved for a payout line of its own", file=f"{path}:{n}",
                              field="holder_id", fix=f"choose an id other than {', '.join(RESERVED_IDS)}")
        if hid in holders:
            raise AttribError(f"duplicate holder_id '{hid}'", file=f"{path}:{n}", field="holder_id",
                              fix="each holder appears once; merge the rows")
        holders[hid] = Holder(hid, rec["name"], rec["contact"],
                              {k: v for k, v in rec.items() if k not in HOLDER_COLUMNS})
    if not holders:
        raise AttribError("no holders", file=str(path), fix="add one row per rights holder")
    resolve_aliases(holders, str(path))
    return holders


def resolve_aliases(holders: dict[str, Holder], file: str) -> dict[str, str]:
    """holder id → the payee it is paid as. An optional ``alias_of`` column names another holder id: the
    same person under two ids is paid once, under the id the chain ends at."""
    return alias_roots({hid: h.extra.get("alias_of", "") for hid, h in holders.items()}, file)


def alias_roots(parent: dict[str, str], file: str) -> dict[str, str]:
    """Follow every ``alias_of`` chain to its end; unknown targets and cycles are one-line errors."""
    parent = {k: (v or "").strip() for k, v in parent.items()}
    out = {}
    for hid in parent:
        seen, cur = [hid], hid
        while parent[cur]:
            if parent[cur] not in parent:
                raise AttribError(f"holder '{cur}' is an alias of unknown holder '{parent[cur]}'", file=file,
                                  field="alias_of", fix="name an existing holder_id, or leave alias_of empty")
            cur = parent[cur]
            if cur in seen:
                raise AttribError(f"alias cycle: {' -> '.join(seen + [cur])}", file=file, field="alias_of",
                                  fix="let every alias chain end at a holder with an empty alias_of")
            seen.append(cur)
        out[hid] = cur
    return out
