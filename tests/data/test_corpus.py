"""Corpus loading (JSONL and CSV), its errors, and cutting documents into training samples."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from attribcli.data.corpus import Document, load_corpus, make_samples
from attribcli.errors import AttribError
from attribcli.model.tokenizer import ByteTokenizer
from attribcli.rights.holders import Holder, load_holders
from tests.helpers import one_line

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_CORPUS = ROOT / "sample_data" / "corpus.jsonl"
SAMPLE_HOLDERS = ROOT / "sample_data" / "holders.csv"

HOLDERS = {hid: Holder(hid, hid.title(), f"{hid}@example.org") for hid in ("alice", "bob", "carol")}


def doc(**kv) -> dict:
    base = {"id": "d1", "text": "Some text.", "holders": [{"id": "alice", "share": 1}], "license": "MIT"}
    base.update(kv)
    return {k: v for k, v in base.items() if v is not ...}


def jsonl(tmp_path: Path, *records, name: str = "corpus.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return p


def csv_file(tmp_path: Path, text: str, name: str = "corpus.csv") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8", newline="")
    return p


def bad(path: Path, *needles: str, holders=HOLDERS) -> str:
    """Expect one AttribError line naming the file, every needle and a fix."""
    with pytest.raises(AttribError) as info:
        load_corpus(path, holders)
    return one_line(info.value, path.name, "fix:", *needles)


# --- the sample ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sample_docs() -> list[Document]:
    return load_corpus(SAMPLE_CORPUS, load_holders(SAMPLE_HOLDERS))


def test_sample_corpus_loads(sample_docs):
    by_id = {d.id: d for d in sample_docs}
    assert len(sample_docs) == 260 == len(by_id)
    assert sample_docs[0].id == "doc-0001" and sample_docs[-1].id == "doc-0260"
    # co-owned documents have two holders, shares as given, sorted by holder id
    assert by_id["doc-0152"].holders == (("h01", 0.5), ("h04", 0.5))
    assert by_id["doc-0232"].holders == (("h02", 0.6), ("h07", 0.4))
    assert [d.id for d in sample_docs if len(d.holders) == 2] == ["doc-0152", "doc-0232"]
    # opt-outs
    assert {d.id for d in sample_docs if d.opt_out} == {"doc-0075", "doc-0247"}
    assert by_id["doc-0075"].holders == (("h10", 1.0),)
    # no-holder documents (escrow)
    no_holder = {d.id for d in sample_docs if not d.holders}
    assert no_holder == {"doc-0039", "doc-0259"}
    for i in no_holder:
        assert by_id[i].license == "unknown" and by_id[i].source == "unknown"
    for d in sample_docs:
        assert d.text and isinstance(d.source, str)
        if d.holders:
            assert abs(sum(s for _, s in d.holders) - 1) < 1e-9


def test_sample_license_mix(sample_docs):
    from collections import Counter

    assert Counter(d.license for d in sample_docs) == {
        "CC-BY-SA-4.0": 65, "CC0-1.0": 44, "CC-BY-NC-4.0": 44, "CC-BY-4.0": 42,
        "LicenseRef-ExampleNewsroom-Terms": 42, "MIT": 18, "Apache-2.0": 3, "unknown": 2}


def test_text_sha256_is_of_the_utf8_text():
    import hashlib

    d = Document("x", "café", (), "MIT", "", False)
    assert d.text_sha256 == hashlib.sha256("café".encode()).hexdigest()


# --- CSV and JSONL give the same documents -------------------------------------------------------

def test_csv_and_jsonl_parse_to_the_same_documents(tmp_path):
    records = [
        {"id": "a", "text": "Plain text.", "holders": [{"id": "alice", "share": 1.0}], "license": "CC-BY-4.0",
         "source": "https://example.org/a", "opt_out": False},
        {"id": "b", "text": 'Commas, "quotes"\nand a second line.',
         "holders": [{"id": "bob", "share": 0.5}, {"id": "alice", "share": 0.5}], "license": "MIT",
         "source": "", "opt_out": True},
        {"id": "c", "text": "Nobody's.", "holders": [], "license": "unknown", "source": "unknown", "opt_out": False},
        {"id": "d", "text": "Three ways.", "holders": [{"id": "alice", "share": 0.25}, {"id": "bob", "share": 0.25},
                                                       {"id": "carol", "share": 0.5}],
         "license": "MIT OR Apache-2.0", "source": "x", "opt_out": False},
    ]
    from_jsonl = load_corpus(jsonl(tmp_path, *records), HOLDERS)

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["id", "text", "holders", "license", "source", "opt_out"])
    w.writerow(["a", records[0]["text"], "alice:1", "cc-by-4.0", records[0]["source"], "false"])
    w.writerow(["b", records[1]["text"], "bob:0.5;alice:0.5", "MIT", "", "true"])
    w.writerow(["c", records[2]["text"], "", "unknown", "unknown", ""])
    w.writerow(["d", records[3]["text"], " alice:0.25 ; bob:0.25;carol:0.5; ", "MIT OR Apache-2.0", "x", "FALSE"])
    from_csv = load_corpus(csv_file(tmp_path, buf.getvalue()), HOLDERS)

    assert from_csv == from_jsonl
    assert from_csv[1].holders == (("alice", 0.5), ("bob", 0.5)) and from_csv[1].opt_out is True
    assert from_csv[0].license == "CC-BY-4.0"
    assert from_csv[2].holders == ()


def test_csv_optional_columns_may_be_left_out(tmp_path):
    p = csv_file(tmp_path, "id,text,holders,license\nd1,hi,alice:1,MIT\n")
    assert load_corpus(p, HOLDERS) == [Document("d1", "hi", (("alice", 1.0),), "MIT", "", False)]


@pytest.mark.parametrize("cell, value", [("true", True), ("TRUE", True), ("1", True), ("yes", True),
                                         ("false", False), ("0", False), ("no", False), ("", False)])
def test_csv_opt_out_cells(tmp_path, cell, value):
    p = csv_file(tmp_path, f"id,text,holders,license,opt_out\nd0,x,alice:1,MIT,false\nd1,hi,alice:1,MIT,{cell}\n")
    assert load_corpus(p, HOLDERS)[1].opt_out is value


def test_jsonl_optional_fields_default_and_blank_lines_are_skipped(tmp_path):
    p = jsonl(tmp_path, doc(), "", "   ", doc(id="d2", holders=[], license="unknown"))
    docs = load_corpus(p, HOLDERS)
    assert [d.id for d in docs] == ["d1", "d2"]
    assert docs[0].source == "" and docs[0].opt_out is False and docs[0].holders == (("alice", 1.0),)


# --- errors: file level --------------------------------------------------------------------------

def test_missing_corpus_file(tmp_path):
    with pytest.raises(AttribError) as info:
        load_corpus(tmp_path / "absent.jsonl", HOLDERS)
    one_line(info.value, "data.corpus", "absent.jsonl", "not found", "fix:")


@pytest.mark.parametrize("line, needle", [
    ('{"id": "d2", "text": "x",', "invalid JSON"),
    ("not json", "invalid JSON"),
    ('{"id": "d2"} trailing', "invalid JSON"),
    ('["a list"]', "expected a JSON object"),
    ('"a string"', "expected a JSON object"),
    ('{"id": "d2", "text": "x", "holders": [], "license": "MIT", "n": 1' + "0" * 5000 + "}", "invalid JSON"),
    ("[" * 100_000, "invalid JSON"),
])
def test_bad_json_line_names_the_line_number(tmp_path, line, needle):
    p = jsonl(tmp_path, doc(), doc(id="d9"), line)
    bad(p, f"{p.name}:3", needle)


def test_not_utf8(tmp_path):
    p = tmp_path / "corpus.jsonl"
    p.write_bytes(b'{"id": "d1", "text": "caf\xe9", "holders": [], "license": "MIT"}\n')
    bad(p, "UTF-8")


@pytest.mark.parametrize("content", ["", "\n\n   \n"])
def test_empty_corpus(tmp_path, content):
    p = tmp_path / "corpus.jsonl"
    p.write_text(content)
    bad(p, "no documents")


@pytest.mark.parametrize("content", ["", "id,text,holders,license\n"])
def test_empty_csv_corpus(tmp_path, content):
    bad(csv_file(tmp_path, content), "no documents")


def test_all_documents_opted_out(tmp_path):
    p = jsonl(tmp_path, doc(opt_out=True), doc(id="d2", opt_out=True))
    bad(p, "opt_out", "opted out")


# --- errors: fields ------------------------------------------------------------------------------

def test_unknown_field_did_you_mean(tmp_path):
    p = jsonl(tmp_path, doc(), doc(id="d2", licence="MIT"))
    msg = bad(p, f"{p.name}:2", "licence", "unknown field", "did you mean 'license'?")
    assert f"{p.name}:2: licence: unknown field" in msg


def test_unknown_field_without_close_match(tmp_path):
    bad(jsonl(tmp_path, doc(zzz=1)), "zzz", "allowed: id, text")


def test_empty_field_name_is_still_named(tmp_path):
    bad(csv_file(tmp_path, "id,text,holders,license,\nd1,x,alice:1,MIT,\n"), "corpus.csv:2", '""', "unknown field")


@pytest.mark.parametrize("field", ["id", "text", "holders", "license"])
def test_missing_required_field(tmp_path, field):
    p = jsonl(tmp_path, doc(**{field: ...}))
    bad(p, f"{p.name}:1", f"{field}: required field is missing")


def test_duplicate_document_id(tmp_path):
    p = jsonl(tmp_path, doc(id="same"), doc(id="other"), doc(id="same"))
    msg = bad(p, f"{p.name}:3", "id", "duplicate document id 'same'")
    assert f"{p.name}:1" in msg  # where the first one is


@pytest.mark.parametrize("kv, field", [
    ({"id": ""}, "id"), ({"id": "  "}, "id"), ({"id": 7}, "id"), ({"id": None}, "id"),
    ({"text": ""}, "text"), ({"text": 3}, "text"), ({"text": ["a"]}, "text"),
    ({"source": 5}, "source"), ({"source": None}, "source"),
])
def test_wrong_types_for_id_text_source(tmp_path, kv, field):
    bad(jsonl(tmp_path, doc(**kv)), f"corpus.jsonl:1: {field}: ")


@pytest.mark.parametrize("value", ["true", "yes", 1, 0, None, []])
def test_opt_out_must_be_bool(tmp_path, value):
    bad(jsonl(tmp_path, doc(opt_out=value)), "opt_out", "true or false")


def test_shares_must_sum_to_one(tmp_path):
    p = jsonl(tmp_path, doc(holders=[{"id": "alice", "share": 0.5}, {"id": "bob", "share": 0.4}]))
    bad(p, "corpus.jsonl:1", "holders", "sum to 0.9")


def test_float_rounding_in_shares_is_tolerated(tmp_path):
    p = jsonl(tmp_path, doc(holders=[{"id": "alice", "share": 0.1}, {"id": "bob", "share": 0.2},
                                     {"id": "carol", "share": 0.7}]))  # 0.1 + 0.2 != 0.3 in binary
    assert load_corpus(p, HOLDERS)[0].holders == (("alice", 0.1), ("bob", 0.2), ("carol", 0.7))


@pytest.mark.parametrize("share", [0, 0.0, -0.5, 1.5, 2, "0.5", "1", None, True, [1], float("nan"),
                                   float("inf"), 10 ** 400])
def test_bad_share(tmp_path, share):
    p = tmp_path / "corpus.jsonl"
    rec = doc(holders=[{"id": "alice", "share": share}])
    p.write_text(json.dumps(rec) + "\n")  # json.dumps writes NaN / Infinity, which json.loads reads back
    bad(p, "corpus.jsonl:1", "holders[0].share", "(0, 1]")


def test_bad_share_in_second_entry_is_indexed(tmp_path):
    p = jsonl(tmp_path, doc(holders=[{"id": "alice", "share": 0.5}, {"id": "bob", "share": -0.5}]))
    bad(p, "holders[1].share")


def test_unknown_holder_did_you_mean(tmp_path):
    p = jsonl(tmp_path, doc(holders=[{"id": "alise", "share": 1}]))
    bad(p, "corpus.jsonl:1", "holders[0].id", "'alise' is not in the holders table", "did you mean 'alice'?")


@pytest.mark.parametrize("hid", [["alice"], {"a": 1}, 3, None, ""])
def test_holder_id_of_the_wrong_type(tmp_path, hid):
    bad(jsonl(tmp_path, doc(holders=[{"id": hid, "share": 1}])), "holders[0].id", "not in the holders table")


def test_holder_listed_twice(tmp_path):
    p = jsonl(tmp_path, doc(holders=[{"id": "alice", "share": 0.5}, {"id": "alice", "share": 0.5}]))
    bad(p, "holders[1].id", "'alice' listed twice")


@pytest.mark.parametrize("holders, field", [
    ({"alice": 1}, "holders"), ("alice", "holders"), (None, "holders"),
    ([{"id": "alice"}], "holders[0]"), ([{"id": "alice", "share": 1, "x": 1}], "holders[0]"), (["alice"], "holders[0]"),
])
def test_holders_shape(tmp_path, holders, field):
    bad(jsonl(tmp_path, doc(holders=holders)), f"corpus.jsonl:1: {field}: ")


@pytest.mark.parametrize("lic, hint", [("CC-BY-4", "did you mean 'CC-BY-4.0'?"), ("MIT2", "did you mean 'MIT'?"),
                                       ("", "missing licence"), (None, "missing licence"), (3, "missing licence")])
def test_bad_license(tmp_path, lic, hint):
    bad(jsonl(tmp_path, doc(license=lic)), "corpus.jsonl:1", "license", hint)


def test_license_is_canonicalised(tmp_path):
    assert load_corpus(jsonl(tmp_path, doc(license="cc-by-sa-4.0")), HOLDERS)[0].license == "CC-BY-SA-4.0"


# --- errors: CSV specifics -----------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["alice", "alice:x", ":1", "alice:0.5;bob", "alice=1"])
def test_csv_bad_holder_cell(tmp_path, cell):
    p = csv_file(tmp_path, f'id,text,holders,license\nd1,x,"{cell}",MIT\n')
    bad(p, "corpus.csv:2", "holders", "cannot read holder entry", "h1:0.5;h2:0.5")


def test_csv_shares_summing_to_0_9(tmp_path):
    bad(csv_file(tmp_path, "id,text,holders,license\nd1,x,alice:0.5;bob:0.4,MIT\n"), "corpus.csv:2", "holders",
        "sum to 0.9")


def test_csv_unknown_holder(tmp_path):
    bad(csv_file(tmp_path, "id,text,holders,license\nd1,x,bobb:1,MIT\n"), "holders[0].id", "did you mean 'bob'?")


def test_csv_bad_opt_out(tmp_path):
    bad(csv_file(tmp_path, "id,text,holders,license,opt_out\nd1,x,alice:1,MIT,maybe\n"), "corpus.csv:2", "opt_out",
        "'maybe'")


def test_csv_unknown_column(tmp_path):
    bad(csv_file(tmp_path, "id,text,holders,licence\nd1,x,alice:1,MIT\n"), "corpus.csv:2", "licence",
        "did you mean 'license'?")


def test_csv_row_with_too_many_cells(tmp_path):
    bad(csv_file(tmp_path, "id,text,holders,license\nd1,x,alice:1,MIT,extra\n"), "corpus.csv:2", "more cells")


def test_csv_row_with_too_few_cells_does_not_default_opt_out(tmp_path):
    p = csv_file(tmp_path, "id,text,holders,license,opt_out\nd1,x,alice:1,MIT,false\nd2,y,alice:1,MIT\n")
    bad(p, "corpus.csv:3", "opt_out", "fewer cells")


def test_csv_duplicate_column(tmp_path):
    bad(csv_file(tmp_path, "id,text,holders,license,id\nd1,x,alice:1,MIT,d2\n"), "id", "duplicate column")


def test_csv_duplicate_id(tmp_path):
    bad(csv_file(tmp_path, "id,text,holders,license\nd1,x,alice:1,MIT\nd1,y,bob:1,MIT\n"), "corpus.csv:3", "id",
        "duplicate document id 'd1'")


def test_csv_not_utf8(tmp_path):
    p = tmp_path / "corpus.csv"
    p.write_bytes(b"id,text,holders,license\nd1,caf\xe9,alice:1,MIT\n")
    bad(p, "UTF-8")


# --- make_samples --------------------------------------------------------------------------------

TOK = ByteTokenizer()


def _docs(texts, opt_out=()):
    return [Document(f"d{i}", t, (("alice", 1.0),), "MIT", "", i in opt_out) for i, t in enumerate(texts)]


@pytest.mark.parametrize("C", [1, 2, 3, 7, 16, 64])
def test_samples_cover_every_byte_exactly_once_and_never_cross_documents(C):
    texts = ["a", "ab", "abc", "x" * 16, "y" * 17, "z" * 15, "héllo wörld ✓ " * 5, "q" * 64, "r" * 65]
    docs = _docs(texts)
    samples = make_samples(docs, TOK, C)
    assert [s.index for s in samples] == list(range(len(samples)))
    for d in docs:
        mine = [s for s in samples if s.doc_id == d.id]
        stream = [TOK.bos_id] + TOK.encode(d.text)
        assert [s.chunk for s in mine] == list(range(len(mine)))
        assert len(mine) == -(-(len(stream) - 1) // C)  # ceil(bytes / C)
        predicted = []
        for s in mine:
            assert 2 <= len(s.tokens) <= C + 1
            assert list(s.tokens) == stream[s.chunk * C: s.chunk * C + len(s.tokens)]  # a window of this doc only
            predicted += s.tokens[1:]
        assert predicted == TOK.encode(d.text)  # reassembled: each byte predicted once, in order
        assert bytes(predicted).decode("utf-8") == d.text
        assert mine[0].tokens[0] == TOK.bos_id
        assert all(TOK.bos_id not in s.tokens[1:] for s in mine)  # no window reaches into another document
    # samples come document by document, in corpus order
    order = [s.doc_id for s in samples]
    assert order == sorted(order, key=lambda i: int(i[1:]))


def test_opted_out_documents_give_no_samples():
    docs = _docs(["first doc", "opted out doc", "third"], opt_out={1})
    samples = make_samples(docs, TOK, 4)
    assert {s.doc_id for s in samples} == {"d0", "d2"}
    assert [s.index for s in samples] == list(range(len(samples)))


def test_sample_lengths_on_the_sample_corpus(sample_docs):
    C = 64
    samples = make_samples(sample_docs, TOK, C)
    trainable = [d for d in sample_docs if not d.opt_out]
    assert {s.doc_id for s in samples} == {d.id for d in trainable}
    assert all(len(s.tokens) <= C + 1 for s in samples)
    assert sum(len(s.tokens) - 1 for s in samples) == sum(len(d.text.encode()) for d in trainable)


def test_exact_multiple_of_context_length():
    # 8 bytes with C=4: stream has 9 tokens, two full windows of 4 predictions each, no empty third window
    samples = make_samples(_docs(["abcdefgh"]), TOK, 4)
    assert [s.tokens for s in samples] == [(256, 97, 98, 99, 100), (100, 101, 102, 103, 104)]
