"""Training documents with their rights metadata, and the samples cut from them.

A document is one JSONL line (or CSV row): id, text, holders with shares, licence, source, opt-out.
A *sample* is what the model trains on and what values are kept for: a window of at most
``context_length`` predicted tokens of one document. Opted-out documents yield no samples.
"""

from __future__ import annotations

import csv
import difflib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from attribcli.errors import AttribError
from attribcli.files import sha256_bytes
from attribcli.rights.holders import Holder
from attribcli.rights.spdx import canonical_license

DOC_FIELDS = ("id", "text", "holders", "license", "source", "opt_out")
REQUIRED = ("id", "text", "holders", "license")
SHARE_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)  # no per-document __dict__: millions of them
class Document:
    id: str
    text: str                               # "" once its tokens are in the token cache (tokens.py)
    holders: tuple[tuple[str, float], ...]  # (holder_id, share); empty = unknown owner → escrow
    license: str
    source: str
    opt_out: bool
    text_sha256: str = ""                   # of the UTF-8 text; computed when not given

    def __post_init__(self):
        if not self.text_sha256:
            object.__setattr__(self, "text_sha256", sha256_bytes(self.text.encode("utf-8")))

    def without_text(self) -> "Document":
        """The metadata alone (the text's hash kept): what stays in memory for a streamed corpus."""
        return replace(self, text="")


@dataclass(frozen=True)
class Sample:
    index: int
    doc_id: str
    chunk: int
    tokens: tuple[int, ...]  # inputs + the token after the last input: len = predicted tokens + 1


def load_corpus(path: Path, holders: dict[str, Holder]) -> list[Document]:
    """Every document in memory, text included (small corpora, tests); see ``iter_documents``."""
    return list(iter_documents(path, holders))


def iter_documents(path: Path, holders: dict[str, Holder]) -> Iterator[Document]:
    """The corpus one validated document at a time: the file is read line by line (row by row), so a
    corpus of millions of documents is never in memory at once. Raises at once when the file is
    missing, on the first bad record, and at the end when there was nothing to train on."""
    path = Path(path)
    if not path.is_file():
        raise AttribError(f"corpus file not found: {path}", field="data.corpus",
                          fix="point data.corpus at a .jsonl or .csv file")
    return _documents(path, holders)


def _documents(path: Path, holders: dict[str, Holder]) -> Iterator[Document]:
    records = _read_csv(path) if path.suffix.lower() == ".csv" else _read_jsonl(path)
    seen: dict[str, int] = {}   # id → line: the one per-document record kept for the whole pass
    usable = False
    for where, rec in records:
        doc = _document(rec, where, holders)
        if doc.id in seen:
            raise AttribError(f"duplicate document id '{doc.id}' (first at {path}:{seen[doc.id]})", file=where,
                              field="id", fix="give every document a unique id")
        seen[doc.id] = int(where.rpartition(":")[2])
        usable = usable or not doc.opt_out
        yield doc
    if not seen:
        raise AttribError("the corpus has no documents", file=str(path), fix="add one document per line")
    if not usable:
        raise AttribError("every document is opted out: nothing to train on", file=str(path),
                          field="opt_out", fix="include at least one document that may be used")


def _read_jsonl(path: Path):
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise AttribError("not UTF-8 text", file=f"{path}:{n}", fix="save the corpus as UTF-8") from None
            if n == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield from _jsonl_record(path, n, line)


def _jsonl_record(path: Path, n: int, line: str):
    if line.strip():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AttribError(f"invalid JSON: {exc.msg} at column {exc.colno}", file=f"{path}:{n}",
                              fix="write one JSON object per line") from None
        except (ValueError, RecursionError):  # a 4300+ digit number, or nesting deeper than Python's stack
            raise AttribError("invalid JSON: a number is too long or the nesting too deep", file=f"{path}:{n}",
                              fix="write one flat JSON object per line") from None
        if not isinstance(rec, dict):
            raise AttribError("expected a JSON object", file=f"{path}:{n}", fix="write one {...} object per line")
        yield f"{path}:{n}", rec


def _read_csv(path: Path):
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        rows = _csv_rows(reader, path)
        names = reader.fieldnames or []
        dup = [c for c in names if names.count(c) > 1]
        if dup:  # DictReader would silently keep the last one
            raise AttribError("duplicate column name", file=str(path), field=dup[0],
                              fix="give each column a distinct name")
        yield from _csv_records(rows, path)


def _csv_rows(reader, path: Path):
    """Rows one at a time; an undecodable byte or a broken quote is reported with its file."""
    try:
        first = next(reader, None)  # reads the header too, so fieldnames are known after this
    except (UnicodeDecodeError, csv.Error) as exc:
        raise AttribError(f"cannot read CSV: {exc}", file=str(path), fix="save it as UTF-8 CSV") from None

    def rest():
        if first is None:
            return
        yield first
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, csv.Error) as exc:
                raise AttribError(f"cannot read CSV: {exc}", file=str(path), fix="save it as UTF-8 CSV") from None
            yield row
    return rest()


def _csv_records(rows, path: Path):
    for n, row in enumerate(rows, start=2):
        if None in row:
            raise AttribError("more cells than columns", file=f"{path}:{n}", fix="quote cells that contain commas")
        short = [k for k, v in row.items() if v is None]
        if short:  # DictReader fills missing cells with None; do not default opt_out silently
            raise AttribError("fewer cells than columns", file=f"{path}:{n}", field=short[0],
                              fix="give every row one cell per column (an empty cell is fine)")
        rec = dict(row)
        where = f"{path}:{n}"
        if "holders" in rec:
            rec["holders"] = _parse_holder_cell(rec["holders"], where)
        if "opt_out" in rec:
            rec["opt_out"] = _parse_bool_cell(rec["opt_out"], where)
        yield where, rec


def _parse_holder_cell(cell: str, where: str):
    out = []
    for part in filter(None, (p.strip() for p in cell.split(";"))):
        hid, sep, share = part.rpartition(":")
        try:
            out.append({"id": hid.strip(), "share": float(share)})
        except ValueError:
            sep = ""
        if not sep or not hid.strip():
            raise AttribError(f"cannot read holder entry '{part}'", file=where, field="holders",
                              fix="write holders as id:share;id:share, e.g. h1:0.5;h2:0.5")
    return out


def _parse_bool_cell(cell: str, where: str) -> bool:
    v = cell.strip().lower()
    if v in ("true", "1", "yes", "y"):
        return True
    if v in ("false", "0", "no", "n", ""):
        return False
    raise AttribError(f"cannot read '{cell}' as true/false", file=where, field="opt_out", fix="write true or false")


def _document(rec: dict, where: str, holders: dict[str, Holder]) -> Document:
    for key in rec:
        if key not in DOC_FIELDS:
            close = difflib.get_close_matches(key, DOC_FIELDS, n=1)
            raise AttribError("unknown field", file=where, field=key or '""',
                              fix=f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(DOC_FIELDS)}")
    for key in REQUIRED:
        if key not in rec:
            raise AttribError("required field is missing", file=where, field=key,
                              fix=f"add \"{key}\" (fields: {', '.join(DOC_FIELDS)})")
    doc_id, text = rec["id"], rec["text"]
    if not isinstance(doc_id, str) or not doc_id.strip():
        raise AttribError(f"document id must be non-empty text (got {doc_id!r})", file=where, field="id",
                          fix="give every document a unique text id")
    if not isinstance(text, str) or not text:
        raise AttribError("text must be non-empty", file=where, field="text", fix="remove the document or add its text")
    opt_out = rec.get("opt_out", False)
    if not isinstance(opt_out, bool):
        raise AttribError(f"expected true or false (got {opt_out!r})", file=where, field="opt_out",
                          fix="write true or false")
    source = rec.get("source", "")
    if not isinstance(source, str):
        raise AttribError("source must be text (a URL or description)", file=where, field="source", fix="quote it")
    return Document(doc_id, text, _holders(rec["holders"], where, holders),
                    canonical_license(rec["license"], file=where), source, opt_out)


def _holders(value, where: str, known: dict[str, Holder]) -> tuple[tuple[str, float], ...]:
    fix = 'write "holders": [{"id": "h1", "share": 0.5}, ...] with shares summing to 1, or [] if unknown'
    if not isinstance(value, list):
        raise AttribError("holders must be a list", file=where, field="holders", fix=fix)
    out: dict[str, float] = {}
    for i, entry in enumerate(value):
        f = f"holders[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"id", "share"}:
            raise AttribError("each holder needs exactly 'id' and 'share'", file=where, field=f, fix=fix)
        hid, share = entry["id"], entry["share"]
        if not isinstance(hid, str) or hid not in known:  # a list/dict id is unhashable
            close = difflib.get_close_matches(str(hid), known, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise AttribError(f"holder '{hid}' is not in the holders table", file=where, field=f + ".id",
                              fix=f"{hint}add it to the holders CSV or correct the id")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:  # NaN fails too
            raise AttribError(f"share must be a number in (0, 1] (got {share!r})", file=where,
                              field=f + ".share", fix=fix)
        if hid in out:
            raise AttribError(f"holder '{hid}' listed twice", file=where, field=f + ".id", fix="list each holder once")
        out[hid] = float(share)
    total = math.fsum(out.values())
    if out and abs(total - 1.0) > SHARE_TOLERANCE:
        raise AttribError(f"shares sum to {total:.12g}, not 1", file=where, field="holders",
                          fix="make the shares of each document add up to exactly 1")
    return tuple(sorted(out.items()))


def make_samples(docs: list[Document], tokenizer, context_length: int,
                 trainable: set[str] | None = None) -> list[Sample]:
    """Cut every trainable document into windows of at most ``context_length`` predicted tokens.

    The stream is ``[BOS] + bytes``; window k predicts tokens ``k*C+1 .. (k+1)*C``, so every byte of a
    document is predicted exactly once and no window crosses a document boundary (one owner per sample).
    """
    samples = []
    for doc in docs:
        if doc.opt_out or (trainable is not None and doc.id not in trainable):
            continue
        stream = [tokenizer.bos_id] + tokenizer.encode(doc.text)
        for chunk, start in enumerate(range(0, len(stream) - 1, context_length)):
            samples.append(Sample(len(samples), doc.id, chunk, tuple(stream[start:start + context_length + 1])))
    return samples
