"""Table cells and tables as text: the one place that decides how a number, a name or a row is written.

Imports nothing of attrib, so every report module can use it.
"""

from __future__ import annotations

import csv
import html
import io

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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


def csv_text(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def md_table(header: list[str], rows: list[list], align: str | None = None) -> list[str]:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join((align or "-" * len(header))[i] == "r" and "---:" or "---" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out
