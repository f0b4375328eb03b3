"""Who owns what: the holders table and licence identifiers.

A holder is a payee. Licences are SPDX identifiers (checked against the bundled SPDX list),
``LicenseRef-...`` for custom terms, or ``unknown``; simple SPDX expressions (``MIT OR Apache-2.0``)
are accepted when every id in them is valid.
"""

from __future__ import annotations

import csv
import difflib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from attribcli.errors import AttribError

ESCROW_ID = "ESCROW"  # the payout line for documents whose rights holder is unknown
COMMONS_ID = "COMMONS"  # public-domain works' value (the payee id is configurable: payout.commons_payee)
UNALLOCATED_ID = "UNALLOCATED"  # money with no eligible recipient: reported, never spread
RESERVED_IDS = (ESCROW_ID, UNALLOCATED_ID, COMMONS_ID, "PLATFORM", "BASE_MODEL", "PROMPT_AUTHORS")
HOLDER_COLUMNS = ("holder_id", "name", "contact")
_LICENSEREF = re.compile(r"^(DocumentRef-[A-Za-z0-9.\-]+:)?LicenseRef-[A-Za-z0-9.\-]+$")


@dataclass(frozen=True)
class Holder:
    id: str
    name: str
    contact: str
    extra: dict[str, str] = field(default_factory=dict, compare=False)


@lru_cache(maxsize=1)
def spdx_ids() -> dict[str, str]:
    """Lower-case id → canonical SPDX id, for every id in the bundled list (deprecated included)."""
    text = resources.files("attribcli.rights").joinpath("spdx_licenses.txt").read_text(encoding="utf-8")
    ids = [ln.lstrip("!") for ln in text.splitlines() if ln and not ln.startswith("#")]
    return {i.lower(): i for i in ids}


def canonical_license(value, *, file: str, field: str = "license") -> str:
    """Return the canonical spelling of a licence id or expression, or raise naming the fix."""
    if not isinstance(value, str) or not value.strip():
        raise AttribError(f"missing licence (got {value!r})", file=file, field=field,
                          fix="give an SPDX id such as CC-BY-4.0, a LicenseRef-..., or 'unknown'")
    value = value.strip()
    if value.lower() == "unknown":
        return "unknown"
    tokens = re.findall(r"\(|\)|[^\s()]+", value)
    out, depth, want_operand = [], 0, True  # operands and operators must alternate
    for i, tok in enumerate(tokens):
        if tok in ("(", ")", "AND", "OR", "WITH"):  # structure is kept as written: AND binds tighter than OR
            if (tok == "(") != want_operand and tok != ")" or (tok == ")" and want_operand):
                raise AttribError(f"malformed licence expression '{value}' at '{tok}'", file=file, field=field,
                                  fix="write ids joined by AND / OR / WITH, e.g. 'MIT OR Apache-2.0'")
            depth += {"(": 1, ")": -1}.get(tok, 0)
            want_operand = tok in ("(", "AND", "OR", "WITH")
            if depth < 0:
                break
            out.append(tok)
            continue
        if not want_operand:
            raise AttribError(f"malformed licence expression '{value}': '{tok}' follows another id", file=file,
                              field=field, fix="join ids with AND / OR / WITH, e.g. 'MIT OR Apache-2.0'")
        want_operand = False
        plus = "+" if tok.endswith("+") and tok.lower() not in spdx_ids() else ""  # "or later": keep it
        part = tok[:-1] if plus else tok
        if _LICENSEREF.match(part):
            out.append(part + plus)
        elif part.lower() in spdx_ids():
            out.append(spdx_ids()[part.lower()] + plus)
        elif i >= 1 and tokens[i - 1] == "WITH":
            out.append(part)  # licence exceptions are not in the licence list; accept as written
        else:
            close = difflib.get_close_matches(part.lower(), spdx_ids(), n=1, cutoff=0.75)
            hint = f"did you mean '{spdx_ids()[close[0]]}'? " if close else ""
            raise AttribError(f"'{part}' is not an SPDX licence id", file=file, field=field,
                              fix=f"{hint}use an id from spdx.org/licenses, LicenseRef-<name>, or 'unknown'")
    if want_operand and depth >= 0:
        raise AttribError(f"malformed licence expression '{value}': it ends with an operator", file=file,
                          field=field, fix="write ids joined by AND / OR / WITH, e.g. 'MIT OR Apache-2.0'")
    if depth != 0:
        raise AttribError(f"unbalanced parentheses in '{value}'", file=file, field=field,
                          fix="close every '(' with ')'")
    return " ".join(out).replace("( ", "(").replace(" )", ")")


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
        raise AttribError("empty file", file=str(path), fix="add the header holder_id,name,contact and one row per holder")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in HOLDER_COLUMNS if c not in header]
    if missing:
        raise AttribError(f"missing column(s) {', '.join(missing)}", file=str(path), field="header",
                          fix="the first line must name holder_id,name,contact (more columns are allowed)")
    if len(set(header)) != len(header):
        raise AttribError("duplicate column name", file=str(path), field="header", fix="give each column a distinct name")
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
