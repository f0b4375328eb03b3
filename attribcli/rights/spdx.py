"""Licence identifiers: SPDX ids (checked against the bundled SPDX list), ``LicenseRef-...`` for custom
terms, or ``unknown``; simple SPDX expressions (``MIT OR Apache-2.0``) are accepted when every id in them
is valid, and written in their canonical spelling.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from importlib import resources

from attribcli.errors import AttribError

_LICENSEREF = re.compile(r"^(DocumentRef-[A-Za-z0-9.\-]+:)?LicenseRef-[A-Za-z0-9.\-]+$")


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
