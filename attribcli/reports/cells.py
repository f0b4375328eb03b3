"""Table cells and tables as text: the one place that decides how a number, a name or a row is written.

Imports nothing of attrib, so every report module can use it.
"""

from __future__ import annotations

import csv
import html
import io
import re

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text) -> str:
    """Neutralize spreadsheet formula injection in user-supplied text (OWASP: prefix with ').
    Header cells from inputs (holders columns, generation ids) too: a spreadsheet runs those as well."""
    s = "" if text is None else str(text)
    return "'" + s if s.startswith(FORMULA_START) else s


def unsafe_cell(text: str) -> str:
    """What safe_cell was given, for the readers of our own CSVs (verify): only the quote it added goes."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def num(x: float) -> str:
    """Full-precision, round-trippable, locale-free number text (the same on every run)."""
    x = float(x)
    return "0" if x == 0 else repr(x)


def short(x: float) -> str:
    return f"{float(x):.4g}"


# Every ASCII punctuation mark that starts Markdown or GFM syntax anywhere in a line: code, emphasis, links,
# images and reference definitions, tables, strikethrough, headings, math, autolinks (scheme ':', e-mail '@',
# 'www.' and bare domains '.'); '\\' so an escape cannot be undone. & < > become entities (raw HTML, <autolinks>).
_MD_PUNCT = re.compile(r"([\\`*_\[\]|~#:@$.])")
_MD_LINE_START = re.compile(r"^(?:([-+=])|(\d{1,9})\))")  # list items, setext underlines, ordered lists


def md_text(text) -> str:
    """Text from an input, inert wherever it lands in Markdown (a table cell, a heading, a list item, prose):
    it renders as the same characters, on one line, never as a link, image, autolink, HTML or formatting.

    CommonMark lets any ASCII punctuation be backslash-escaped and shows it as itself, so a holder's name
    stays readable while '[Claim](https://evil)' cannot become a link; marks that mean something only at
    the start of a line are escaped there, in case the text is ever placed first.
    """
    s = _MD_PUNCT.sub(r"\\\1", " ".join(str(text).split()))
    s = _MD_LINE_START.sub(lambda m: "\\" + m.group(1) if m.group(1) else m.group(2) + "\\)", s)
    return html.escape(s, quote=False)


def md_code(text, *, table: bool = False) -> str:
    """Text from an input as a Markdown code span (ids, run names): shown verbatim, nothing inside is live.

    The fence is one backtick longer than any run of backticks in the text, so the text cannot close it,
    and padded when the text starts or ends with one (CommonMark strips that one space). Inside a GFM table
    a '|' would end the cell even in a code span, so there it is written '\\|' (GFM shows '|')."""
    s = " ".join(str(text).split())
    if not s:
        return ""
    fence = "`" * (max((len(r) for r in re.findall("`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return fence + pad + (s.replace("|", "\\|") if table else s) + pad + fence


def md_link_target(name: str) -> str:
    """A link destination from an input (a file name): plain when it is plain, else in <...> with < > and
    backslash escaped, so no ')' or space in it can end the link early and start Markdown of its own."""
    s = " ".join(str(name).split())
    if re.fullmatch(r"[A-Za-z0-9._/-]+", s):
        return s
    return "<" + re.sub(r"([\\<>])", r"\\\1", s) + ">"


def md_comment(line: str) -> str:
    """An HTML comment line ``<!-- ... -->`` whose body is JSON (a report's closing mark), with < > & in the
    body as \\u escapes: the same JSON, but no string in it (a period, an id) can end the comment with '-->'
    and make the rest of the line live Markdown."""
    body = line[4:-3].replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    return line[:4] + body + line[-3:]


def csv_text(header: list[str], rows: list[list]) -> str:
    """Rows ending in LF. The csv module quotes only cells holding the delimiter, the quote or the line
    terminator, so a cell with a bare CR (a name from an input) would be written unquoted and read back as a
    line break: such a row is written with every cell quoted."""
    buf = io.StringIO()
    plain = csv.writer(buf, lineterminator="\n")
    quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    for row in [header, *rows]:
        (quoted if any(isinstance(c, str) and "\r" in c for c in row) else plain).writerow(row)
    return buf.getvalue()


def md_table(header: list[str], rows: list[list], align: str | None = None) -> list[str]:
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join((align or "-" * len(header))[i] == "r" and "---:" or "---" for i in range(len(header))) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out
