"""How a cell is written: spreadsheet-safe text, exact numbers, escaped Markdown, plain CSV."""

import csv
import io

import pytest

from attribcli.reports.cells import FORMULA_START, csv_text, md_table, md_text, num, safe_cell, short


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
