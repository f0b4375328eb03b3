"""How a cell is written: spreadsheet-safe text, exact numbers, escaped Markdown, plain CSV."""

import csv
import io
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt  # rich's dependency: a CommonMark parser is always installed

from attribcli.reports.cells import FORMULA_START, csv_text, md_code, md_table, md_text, num, safe_cell, short


@pytest.mark.parametrize("start", FORMULA_START)
def test_a_cell_that_a_spreadsheet_would_run_is_quoted(start):
    assert safe_cell(start + "SUM(A1)") == "'" + start + "SUM(A1)"


def test_ordinary_text_and_none_are_left_alone():
    assert safe_cell("Ada Lovelace") == "Ada Lovelace"
    assert safe_cell(None) == ""
    assert safe_cell(12) == "12"


@pytest.mark.parametrize("x", [0.1, 1 / 3, -2.5e-17, 123456789.123, 1e300])
def test_numbers_round_trip_exactly(x):
    assert float(num(x)) == x


def test_zero_is_one_spelling_and_short_is_four_digits():
    assert num(0.0) == num(-0.0) == "0"
    assert short(1 / 3) == "0.3333"


def test_markdown_cells_escape_html_and_pipes_and_stay_on_one_line():
    assert md_text("a|b <script>\nc") == "a\\|b &lt;script&gt; c"


def test_csv_text_quotes_what_needs_quoting_and_reads_back():
    text = csv_text(["a", "b"], [["x,y", 'say "hi"'], [1, ""]])
    assert text.endswith("\n") and "\r" not in text
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ["x,y", 'say "hi"'], ["1", ""]]


def test_md_table_aligns_the_columns_it_is_told_to():
    lines = md_table(["Payee", "Amount"], [["h1", "1.00"]], "-r")
    assert lines == ["| Payee | Amount |", "|---|---:|", "| h1 | 1.00 |"]


# --- Markdown injection (issue 29): text from an input must read the same and do nothing ------------------

# CommonMark + GFM tables and strikethrough; text_join off, so each backslash escape or entity stays a token
# of its own and a 'text' token holds only unescaped source: what an autolinker (GFM, linkify) would scan.
_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("text_join")
_AUTOLINK = re.compile(r"(?i)(?:\b(?:https?|ftp|mailto|xmpp):|www\.|\w@\w|//localhost"
                       r"|[a-z0-9-]\.[a-z]{2,})")

HOSTILE = ["[Claim your payout](https://evil.example)", "![x](https://evil.example/p.png)",
           "<https://evil.example>", "https://evil.example/x", "www.evil.example", "WWW.EVIL.EXAMPLE",
           "mail ceo@evil.example", "mailto:ceo@evil.example", "[x]: http://evil.example", "[x][1]",
           '<img src="https://evil.example/p.png">', "<script>alert(1)</script>", "`code` and ``more``",
           "# Heading", "## Sub", "*bold* **more** _em_ __em__", "~~gone~~", "- item", "+ item", "1. item",
           "2) item", "> quote", "---", "===", "| a | b |", "line one\nline two\r\n\tthree", "a  \nb",
           "trailing \\", "&amp; &#42; &lt;", "$x^2$", "[^1]", "evil.example", "a\u2028b\x85c"]


def _inline(src: str):
    """The inline tokens of the one block `src` makes (after a table header when it is a table row)."""
    blocks = [t for t in _MD.parse(src) if t.type == "inline"]
    return blocks[-1].children


def _plain(tokens) -> str:
    return "".join(t.content for t in tokens)


def _inert(tokens) -> bool:
    return (all(t.type in ("text", "text_special") for t in tokens)
            and not any(_AUTOLINK.search(t.content) for t in tokens if t.type == "text"))


@pytest.mark.parametrize("text", HOSTILE)
def test_markdown_text_is_inert_and_reads_the_same(text):
    want = " ".join(text.split())
    tokens = _MD.parse(md_text(text))
    assert [t.type for t in tokens] == ["paragraph_open", "inline", "paragraph_close"], md_text(text)
    assert _inert(tokens[1].children), (md_text(text), tokens[1].children)
    assert _plain(tokens[1].children) == want
    cell = _inline(f"| h |\n|---|\n| {md_text(text)} |")
    assert _inert(cell) and _plain(cell) == want
    item = _inline(f"- {md_text(text)}")  # after a list marker or a heading's hashes too
    assert _inert(item) and _plain(item) == want
    heading = _inline(f"# Statement for {md_text(text)}")
    assert _inert(heading) and _plain(heading) == "Statement for " + want


def test_markdown_text_escapes_what_the_issue_names():
    assert md_text("[a](https://x)") == "\\[a\\](https\\://x)"
    assert md_text("![x](p.png)") == "!\\[x\\](p\\.png)"
    assert md_text("<img src=x>") == "&lt;img src=x&gt;"
    assert md_text("www.x") == "www\\.x" and md_text("a@b") == "a\\@b"
    assert md_text("# h") == "\\# h" and md_text("- i") == "\\- i" and md_text("3) i") == "3\\) i"
    assert md_text("`c` *b* _e_") == "\\`c\\` \\*b\\* \\_e\\_"
    assert md_text("Ada Okonkwo-Reyes") == "Ada Okonkwo-Reyes"  # ordinary names are left as they were


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(list("ab1 .:/@<>&[]()!`*_~#|\\-+=$w\n\t;'\"") + ["www.", "http://"]),
                max_size=30).map("".join))
def test_any_text_is_inert_in_a_paragraph_a_cell_and_a_list_item(text):
    want = " ".join(text.split())
    for src, prefix in ((md_text(text), ""), (f"| h |\n|---|\n| {md_text(text)} |", ""),
                        (f"- x {md_text(text)}", "x ")):
        if not want and not src.startswith("|"):
            continue
        tokens = _inline(src)
        assert _inert(tokens), (src, tokens)
        assert _plain(tokens) == prefix + want


@pytest.mark.parametrize("text", HOSTILE + ["a`b", "``", "`x`", "a|b"])
def test_a_code_span_holds_the_text_whatever_it_holds(text):
    want = " ".join(text.split())
    tokens = _inline(f"Run {md_code(text)} here")
    assert [t.type for t in tokens] == ["text", "code_inline", "text"], tokens
    assert tokens[1].content == want
    cell = _inline(f"| h |\n|---|\n| {md_code(text, table=True)} |")
    assert [t.type for t in cell] == ["code_inline"] and cell[0].content == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(list("ab `|<>&\\\n*_[]") + ["http://x"]), min_size=1, max_size=20).map("".join))
def test_any_text_stays_inside_its_code_span(text):
    want = " ".join(text.split())
    if want:
        tokens = _inline(f"Run {md_code(text)} here")
        assert [t.type for t in tokens] == ["text", "code_inline", "text"] and tokens[1].content == want
        cell = _inline(f"| h |\n|---|\n| {md_code(text, table=True)} |")
        assert [t.type for t in cell] == ["code_inline"] and cell[0].content == want
