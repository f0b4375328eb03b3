"""Holders CSV and licence identifiers: good input parses, bad input is one AttribError line."""

from __future__ import annotations

from pathlib import Path

import pytest

from attribcli.errors import AttribError
from attribcli.rights.holders import ESCROW_ID, Holder, load_holders
from attribcli.rights.spdx import canonical_license, spdx_ids
from tests.helpers import one_line

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_HOLDERS = ROOT / "sample_data" / "holders.csv"


def write(tmp_path: Path, text: str, name: str = "holders.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8", newline="")
    return p


def bad_holders(path: Path, *needles: str) -> str:
    with pytest.raises(AttribError) as info:
        load_holders(path)
    return one_line(info.value, path.name, "fix:", *needles)


def bad_license(value, *needles: str, file="corpus.jsonl:7", field="license") -> str:
    with pytest.raises(AttribError) as info:
        canonical_license(value, file=file, field=field)
    return one_line(info.value, file, field, "fix:", *needles)


# --- holders: good -------------------------------------------------------------------------------

def test_sample_holders():
    holders = load_holders(SAMPLE_HOLDERS)
    assert list(holders) == [f"h{i:02d}" for i in range(1, 13)]
    h06 = holders["h06"]
    assert h06 == Holder("h06", "Pembrook, Vale & Associates", "clauses@pembrookvale.example.org")
    assert h06.name == "Pembrook, Vale & Associates"  # quoted comma kept inside the name
    assert h06.extra == {"country": "US"}
    assert holders["h01"].extra == {"country": "NO"}
    assert ESCROW_ID not in holders


def test_extra_columns_kept_and_cells_stripped(tmp_path):
    p = write(tmp_path, 'holder_id, name ,contact,country,iban\r\n'
                        ' a1 ,"Smith, Jane",jane@example.org,GB,GB00X\r\n'
                        '\r\n'                                        # blank rows are skipped
                        'b2,"Line ""Quoted"" Co",b@example.org,,\r\n')
    holders = load_holders(p)
    assert set(holders) == {"a1", "b2"}
    assert holders["a1"].name == "Smith, Jane" and holders["a1"].contact == "jane@example.org"
    assert holders["a1"].extra == {"country": "GB", "iban": "GB00X"}
    assert holders["b2"].name == 'Line "Quoted" Co' and holders["b2"].extra == {"country": "", "iban": ""}


def test_bom_and_column_order_do_not_matter(tmp_path):
    p = tmp_path / "holders.csv"
    p.write_bytes("\ufeffcontact,holder_id,name\nx@example.org,h1,Ann\n".encode("utf-8"))
    assert load_holders(p) == {"h1": Holder("h1", "Ann", "x@example.org")}


# --- holders: errors -----------------------------------------------------------------------------

def test_missing_holders_file(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(AttribError) as info:
        load_holders(missing)
    one_line(info.value, "data.holders", "nope.csv", "not found", "fix:")


def test_directory_is_not_a_holders_file(tmp_path):
    with pytest.raises(AttribError, match="not found"):
        load_holders(tmp_path)


def test_missing_column(tmp_path):
    bad_holders(write(tmp_path, "holder_id,name\nh1,Ann\n"), "header", "missing column", "contact")


def test_missing_columns_all_named(tmp_path):
    bad_holders(write(tmp_path, "id,who\nh1,Ann\n"), "header", "holder_id, name, contact")


def test_duplicate_column(tmp_path):
    bad_holders(write(tmp_path, "holder_id,name,contact,name\nh1,A,a@x,B\n"), "header", "duplicate column")


def test_duplicate_holder_id(tmp_path):
    p = write(tmp_path, "holder_id,name,contact\nh1,Ann,a@x\nh2,Bob,b@x\nh1,Ann again,a2@x\n")
    msg = bad_holders(p, "holder_id", "duplicate holder_id 'h1'")
    assert f"{p.name}:4" in msg  # the line of the repeat


def test_reserved_escrow_id(tmp_path):
    p = write(tmp_path, f"holder_id,name,contact\n{ESCROW_ID},Nobody,n@x\n")
    msg = bad_holders(p, "holder_id", "ESCROW", "reserved")
    assert f"{p.name}:2" in msg


def test_empty_holder_id(tmp_path):
    bad_holders(write(tmp_path, "holder_id,name,contact\n ,Ann,a@x\n"), "holders.csv:2", "holder_id", "empty")


def test_ragged_row_too_few_cells_names_the_missing_column(tmp_path):
    p = write(tmp_path, "holder_id,name,contact,country\nh1,Ann,a@x,GB\nh2,Bob\n")
    msg = bad_holders(p, f"{p.name}:3", "2 cells, header has 4", "one cell per column")
    assert f"{p.name}:3: contact: " in msg


def test_ragged_row_too_many_cells_names_the_line(tmp_path):
    # an unquoted comma in a name: the row is the place to fix, there is no field to name
    p = write(tmp_path, "holder_id,name,contact\nh1,Smith, Jane,j@x\n")
    bad_holders(p, f"{p.name}:2", "4 cells, header has 3", "quote")


def test_unterminated_quote_is_a_ragged_row(tmp_path):
    p = write(tmp_path, 'holder_id,name,contact\nh1,"Ann,a@x\n')
    bad_holders(p, f"{p.name}:2", "cells")


@pytest.mark.parametrize("text", ["", "\n", "   \n"])
def test_empty_file(tmp_path, text):
    msg = bad_holders(write(tmp_path, text))
    assert "empty file" in msg or ("header" in msg and "missing column" in msg)


def test_header_only_file(tmp_path):
    bad_holders(write(tmp_path, "holder_id,name,contact\n\n"), "no holders")


def test_not_utf8(tmp_path):
    p = tmp_path / "holders.csv"
    p.write_bytes(b"holder_id,name,contact\nh1,Andr\xe9,a@x\n")
    bad_holders(p, "UTF-8")


# --- licences ------------------------------------------------------------------------------------

@pytest.mark.parametrize("given, canonical", [
    ("cc-by-4.0", "CC-BY-4.0"),
    ("CC-BY-4.0", "CC-BY-4.0"),
    ("  cc0-1.0 ", "CC0-1.0"),
    ("mit", "MIT"),
    ("apache-2.0", "Apache-2.0"),
    ("LicenseRef-Foo", "LicenseRef-Foo"),
    ("LicenseRef-ExampleNewsroom-Terms", "LicenseRef-ExampleNewsroom-Terms"),
    ("DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2", "DocumentRef-spdx-tool-1.2:LicenseRef-MIT-Style-2"),
    ("unknown", "unknown"),
    ("UNKNOWN", "unknown"),
    ("MIT OR Apache-2.0", "MIT OR Apache-2.0"),
    ("mit OR apache-2.0", "MIT OR Apache-2.0"),
    ("MIT AND CC-BY-4.0", "MIT AND CC-BY-4.0"),
    ("GPL-2.0-or-later WITH Classpath-exception-2.0", "GPL-2.0-or-later WITH Classpath-exception-2.0"),
    ("GPL-2.0+", "GPL-2.0+"),              # a deprecated id that ends in '+': kept whole
    ("Apache-2.0+", "Apache-2.0+"),        # the '+' ("or later") operator is kept
    ("lgpl-2.1-only", "LGPL-2.1-only"),
])
def test_canonical_license(given, canonical):
    assert canonical_license(given, file="corpus.jsonl:1") == canonical


def test_every_bundled_id_maps_to_itself():
    ids = spdx_ids()
    assert len(ids) > 600 and ids["mit"] == "MIT" and ids["cc-by-4.0"] == "CC-BY-4.0"
    for canonical in ids.values():
        assert canonical_license(canonical, file="f") == canonical


@pytest.mark.parametrize("value, hint", [
    ("CC-BY-4", "did you mean 'CC-BY-4.0'?"),
    ("MIT2", "did you mean 'MIT'?"),
    ("Apache 2.0", None),
    ("cc by 4.0", None),
    ("LicenseRef-", None),
    ("MIT OR CC-BY-4", "did you mean 'CC-BY-4.0'?"),   # the bad part of an expression is named
])
def test_bad_license_id(value, hint):
    msg = bad_license(value, "not an SPDX licence id", "spdx.org/licenses")
    if hint:
        assert hint in msg
    if value == "MIT OR CC-BY-4":
        assert "'CC-BY-4'" in msg


@pytest.mark.parametrize("value", ["LicenseRef-has space", "MIT AND", "AND MIT", "MIT OR OR Apache-2.0", "()"])
def test_malformed_license_expression(value):
    bad_license(value, "malformed licence expression")


@pytest.mark.parametrize("value", ["", "   ", None, 5, ["MIT"], {"id": "MIT"}])
def test_empty_or_non_text_license(value):
    bad_license(value, "missing licence")


def test_license_error_names_the_given_file_and_field():
    bad_license("nope-1.0", file="/data/c.csv:12", field="licence_column")


def test_license_with_newline_still_gives_one_line():
    bad_license("MIT2\nsecond line")


def test_licence_expression_keeps_its_parentheses():
    from attribcli.rights.spdx import canonical_license

    assert canonical_license("(mit OR apache-2.0) AND bsd-3-clause", file="f") == "(MIT OR Apache-2.0) AND BSD-3-Clause"
    for bad in ("(MIT", "MIT)"):
        with pytest.raises(AttribError, match="parentheses"):
            canonical_license(bad, file="f")
