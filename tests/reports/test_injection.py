"""Issue 29, item 4: every text from an input is inert in every report format, and the reports still verify.

One tiny real run whose holders, generations and documents carry Markdown links, images, autolinks, raw HTML
and spreadsheet formulas, in names, a holders column name and a generation id; every report is rendered,
checked for live syntax, and re-derived by ``attrib verify``.
"""

import csv
import io
import json
import re

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from attribcli.cli import main
from attribcli.reports.cells import FORMULA_START
from attribcli.reports.spec import MD_MARK
from tests.runs import copy_sample, write_config

NAMES = {"h01": "[Claim your payout](https://evil.example)", "h02": "![x](https://evil.example/p.png)",
         "h03": '<img src="https://evil.example/p.png"> www.evil.example', "h04": "`code` **bold** _em_ ~~s~~",
         "h05": "# Heading\n- item", "h06": "[ref]: http://evil.example",
         "h07": "<https://evil.example> a@evil.example",
         "h08": "=HYPERLINK(\"http://evil.example\")"}
GEN_IDS = {"gen-001": "=GEN()+1", "gen-002": "[g](https://evil.example)"}
DOC_ID = "`x` [d](https://evil.example) <b>"
PERIOD = "[p](https://evil.example) --><img src=x><!--"
EXTRA = "=HEADER()"
# a holders column named like a report column must not shadow it for a reader that keys by column name
SHADOW = "payee_id"

# CommonMark + GFM tables and strikethrough; text_join off, so an escaped character is a token of its own and a
# 'text' token holds only unescaped source: what GFM's or linkify's autolinker scans.
_MD = MarkdownIt("commonmark").enable(["table", "strikethrough"]).disable("text_join")
_AUTOLINK = re.compile(r"(?i)(?:\b(?:https?|ftp|mailto|xmpp):|www\.|\w@\w|//localhost"
                       r"|[a-z0-9-]\.[a-z]{2,})")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("injection")
    data = copy_sample(base / "data")
    rows = list(csv.reader(open(data / "holders.csv", newline="")))
    rows[0] += [EXTRA, SHADOW]
    for row in rows[1:]:
        row[1] = NAMES.get(row[0], row[1])
        row += ["=1+1", "h99"]
    with open(data / "holders.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    gens = [json.loads(line) for line in open(data / "generations.jsonl")]
    for g in gens:
        g["id"] = GEN_IDS.get(g["id"], g["id"])
    (data / "generations.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gens))
    docs = [json.loads(line) for line in open(data / "corpus.jsonl")]
    target = next(d for d in docs if d.get("holders") and d["holders"][0]["id"] == "h01"  # listed in h01's statement
                  and d["license"] == "CC-BY-4.0" and not d.get("opt_out"))
    target["id"] = DOC_ID
    (data / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    r = CliRunner().invoke(main, ["train", str(write_config(base, data=data))])
    assert r.exit_code == 0, r.output
    return base / "run"


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _written(run_dir, tmp_path, name, *args):
    out = tmp_path / name
    r = _invoke(*args, "-o", out)
    assert r.exit_code == 0, r.output
    v = _invoke("verify", run_dir, out)
    assert v.exit_code == 0 and "OK" in v.output, v.output
    return out.read_text(encoding="utf-8")


def _live_markdown(text: str) -> list[str]:
    """Everything in a Markdown report that a renderer would turn into a link, an image, HTML or formatting."""
    found = []
    tokens = _MD.parse(text)
    for t in tokens:
        if t.type == "html_block":
            body = t.content.strip()
            if not (body.startswith(MD_MARK) and body.endswith("-->") and body.count("-->") == 1
                    and "<" not in body[len(MD_MARK):] and ">" not in body[:-3]):
                found.append(f"html block {body!r}")
        for c in t.children or ():
            if c.type in ("link_open", "image", "html_inline"):  # emphasis: the unit tests (the prose uses **)
                found.append(f"{c.type} in {t.content!r}")
            if c.type == "text" and _AUTOLINK.search(c.content):
                found.append(f"autolink {c.content!r} in {t.content!r}")
    return found


MD_REPORTS = [("payout.md", ("payout", "--revenue", "10", "--format", "md", "--period", PERIOD)),
              ("h01.md", ("payout", "--revenue", "10", "--format", "md", "--holder", "h01")),
              ("h03.md", ("payout", "--revenue-from-generations", "--format", "md", "--holder", "h03")),
              *[(f"value-{by}.md", ("value", "--by", by, "--format", "md"))
                for by in ("holder", "sample", "generation", "license")]]


@pytest.mark.parametrize("name, args", MD_REPORTS, ids=[n for n, _ in MD_REPORTS])
def test_markdown_reports_have_no_live_syntax_and_verify(run_dir, tmp_path, name, args):
    text = _written(run_dir, tmp_path, name, *args[:1], run_dir, *args[1:])
    assert not _live_markdown(text)
    assert "evil" in text  # the names are there, escaped, not dropped


def test_the_statement_shows_the_names_as_written(run_dir, tmp_path):
    """Escaped is not mangled: the rendered text of the statement holds every name exactly."""
    for args, names in ((("payout", "--revenue", "10", "--format", "md"), [*NAMES.values(), *GEN_IDS.values()]),
                        (("value", "--by", "sample", "--format", "md"), [DOC_ID, *GEN_IDS.values()])):
        text = _written(run_dir, tmp_path, "r.md", args[0], run_dir, *args[1:])
        plain = " ".join("".join(c.content for c in t.children) for t in _MD.parse(text) if t.type == "inline")
        for name in names:
            assert " ".join(name.split()) in plain, name


CSV_REPORTS = [("payout.csv", ("payout", "--revenue", "10", "--period", "=P()")),
               ("detail.csv", ("payout", "--revenue-from-generations", "--detail")),
               *[(f"value-{by}.csv", ("value", "--by", by)) for by in ("holder", "sample", "generation", "license")]]


def _number(cell: str) -> bool:
    try:
        return float(cell) == float(cell)
    except ValueError:
        return False


@pytest.mark.parametrize("name, args", CSV_REPORTS, ids=[n for n, _ in CSV_REPORTS])
def test_csv_reports_neutralise_header_and_data_cells_and_verify(run_dir, tmp_path, name, args):
    text = _written(run_dir, tmp_path, name, *args[:1], run_dir, *args[1:])
    rows = list(csv.reader(io.StringIO(text)))
    for row in rows:
        bad = [c for c in row if c.startswith(FORMULA_START) and not _number(c)]
        assert not bad, (row[0], bad)
    assert len(set(rows[0])) == len(rows[0])  # no column shadows another
    if name.startswith("payout") or name.startswith("detail"):
        assert "'" + EXTRA in rows[0] and SHADOW in rows[0] and rows[0].index(SHADOW) == 0
        assert {r[0] for r in rows[1:]} >= set(NAMES)  # payee_id is the payee's, not the holders column's
    elif name != "value-generation.csv" and name != "value-license.csv":
        assert "'" + GEN_IDS["gen-001"] in rows[0]


@pytest.mark.parametrize("args", [("payout", "--revenue", "10", "--format", "json"),
                                  ("payout", "--revenue", "10", "--format", "json", "--holder", "h01"),
                                  ("value", "--by", "sample", "--format", "json")])
def test_json_reports_keep_the_text_exactly_and_verify(run_dir, tmp_path, args):
    text = _written(run_dir, tmp_path, "r.json", args[0], run_dir, *args[1:])
    doc = json.loads(text)
    if "payees" in doc:
        by_id = {p["payee_id"]: p for p in doc["payees"]}
        assert by_id["h05"]["name"] == NAMES["h05"] and by_id["h01"]["name"] == NAMES["h01"]
        assert by_id["h01"][EXTRA] == "=1+1" and by_id["h01"]["holder_" + SHADOW] == "h99"
    assert all(ch not in text for ch in "\r\x00\x1b")
