"""Generations file: the sample loads, bad input is one AttribError line, tokens() marks the completion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from attribcli.data.generations import Generation, load_generations
from attribcli.errors import AttribError
from attribcli.model.tokenizer import ByteTokenizer
from tests.helpers import one_line

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_GENERATIONS = ROOT / "sample_data" / "generations.jsonl"
TOK = ByteTokenizer()


def gen(**kv) -> dict:
    base = {"id": "g1", "prompt": "Once", "completion": " upon a time.", "revenue": "1.50"}
    base.update(kv)
    return {k: v for k, v in base.items() if v is not ...}


def write(tmp_path: Path, *records, name: str = "generations.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return p


def load(path: Path, *, context_length: int = 256, currency: str = "USD"):
    return load_generations(path, context_length=context_length, currency=currency, tokenizer=TOK)


def bad(path: Path, *needles: str, **kw) -> str:
    with pytest.raises(AttribError) as info:
        load(path, **kw)
    return one_line(info.value, path.name, "fix:", *needles)


# --- good ----------------------------------------------------------------------------------------

def test_sample_generations_load():
    gens = load(SAMPLE_GENERATIONS)
    assert [g.id for g in gens] == [f"gen-{i:03d}" for i in range(1, 9)]
    assert [g.revenue for g in gens] == ["12.50", "7.25", "31.80", "4.99", "18.00", "25.40", "9.75", "38.10"]
    for g in gens:
        assert isinstance(g, Generation) and g.prompt and g.completion
        assert len(g.tokens(TOK)[0]) - 1 <= 256


def test_revenue_is_optional_and_ints_are_whole_units(tmp_path):
    gens = load(write(tmp_path, gen(id="a", revenue=...), gen(id="b", revenue=None), gen(id="c", revenue=3),
                      gen(id="d", revenue=" 2.5 "), "", gen(id="e", prompt="")))
    assert [(g.id, g.revenue) for g in gens] == [("a", None), ("b", None), ("c", "3"), ("d", "2.5"), ("e", "1.50")]
    assert gens[4].prompt == ""


def test_revenue_decimals_follow_the_currency(tmp_path):
    assert load(write(tmp_path, gen(revenue="1.005")), currency="BHD")[0].revenue == "1.005"
    bad(write(tmp_path, gen(revenue="1.5")), "revenue", currency="JPY")


def test_exactly_context_length_tokens_is_fine(tmp_path):
    # [BOS] + prompt + completion, minus one (the last token is only a target): 4 + 6 = 10 predicted tokens
    g = load(write(tmp_path, gen(prompt="abcd", completion="efghij")), context_length=10)[0]
    assert len(g.tokens(TOK)[0]) - 1 == 10


# --- tokens() ------------------------------------------------------------------------------------

def test_tokens_with_prompt():
    g = Generation("g", "ab", "cd", None)
    tokens, first = g.tokens(TOK)
    assert tokens == [TOK.bos_id, 97, 98, 99, 100]
    assert first == 3 and tokens[first:] == TOK.encode("cd")


def test_tokens_without_prompt():
    g = Generation("g", "ab", "cd", None)
    tokens, first = g.tokens(TOK, with_prompt=False)
    assert tokens == [TOK.bos_id, 99, 100]
    assert first == 1 and tokens[first:] == TOK.encode("cd")


def test_tokens_with_empty_prompt_and_multibyte_text():
    g = Generation("g", "", "é✓", None)
    assert g.tokens(TOK) == g.tokens(TOK, with_prompt=False) == ([TOK.bos_id] + list("é✓".encode()), 1)
    g = Generation("g", "naïve ", "café", None)
    tokens, first = g.tokens(TOK)
    assert first == 1 + len("naïve ".encode()) and bytes(tokens[first:]).decode() == "café"


def test_tokens_on_the_sample():
    for g in load(SAMPLE_GENERATIONS):
        tokens, first = g.tokens(TOK)
        assert bytes(tokens[1:first]).decode() == g.prompt
        assert bytes(tokens[first:]).decode() == g.completion
        bare, first_bare = g.tokens(TOK, with_prompt=False)
        assert first_bare == 1 and bare[1:] == tokens[first:]


# --- errors --------------------------------------------------------------------------------------

def test_missing_file(tmp_path):
    with pytest.raises(AttribError) as info:
        load(tmp_path / "absent.jsonl")
    one_line(info.value, "data.generations", "absent.jsonl", "not found", "fix:")


@pytest.mark.parametrize("line, needle", [
    ('{"id": "g2", "prompt": "x"', "invalid JSON"),
    ("nonsense", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"id": "g2", "prompt": "", "completion": "x", "revenue": 1' + "0" * 5000 + "}", "invalid JSON"),
    ("[" * 100_000, "invalid JSON"),
])
def test_bad_json_names_the_line(tmp_path, line, needle):
    p = write(tmp_path, gen(), line)
    bad(p, f"{p.name}:2", needle)


def test_not_utf8(tmp_path):
    p = tmp_path / "generations.jsonl"
    p.write_bytes(b'{"id": "g1", "prompt": "caf\xe9", "completion": "x"}\n')
    bad(p, "UTF-8")


@pytest.mark.parametrize("content", ["", "\n  \n"])
def test_no_generations(tmp_path, content):
    p = tmp_path / "generations.jsonl"
    p.write_text(content)
    bad(p, "no generations")


def test_unknown_field(tmp_path):
    p = write(tmp_path, gen(revnue="1.00"))
    msg = bad(p, "revnue", "unknown field", "allowed: id, prompt, completion, revenue")
    assert f"{p.name}:1: revnue: " in msg


@pytest.mark.parametrize("field", ["id", "prompt", "completion"])
@pytest.mark.parametrize("value", [..., None, 5, ["x"]])
def test_missing_or_non_text_required_field(tmp_path, field, value):
    bad(write(tmp_path, gen(**{field: value})), f"generations.jsonl:1: {field}: ")


def test_empty_completion(tmp_path):
    bad(write(tmp_path, gen(completion="")), "generations.jsonl:1", "completion", "empty")


@pytest.mark.parametrize("gid", ["", "   "])
def test_empty_id(tmp_path, gid):
    bad(write(tmp_path, gen(id=gid)), "generations.jsonl:1", "id", "empty or repeated")


def test_duplicate_id(tmp_path):
    p = write(tmp_path, gen(id="g1"), gen(id="g2"), gen(id="g1"))
    bad(p, f"{p.name}:3", "id", "'g1'", "repeated")


@pytest.mark.parametrize("revenue, needle", [
    ("-1.00", "negative"),
    (-3, "negative"),
    ("abc", "not a plain decimal"),
    ("$12.50", "not a plain decimal"),
    ("1,000.00", "not a plain decimal"),
    ("1e3", "not a plain decimal"),
    ("NaN", "not a plain decimal"),
    ("", "empty"),
    (True, "boolean"),
    ([1], "type list"),
    ({"amount": 1}, "type dict"),
    (12.5, "float"),                       # a JSON float cannot hold money exactly
    ("12.505", "finer than the 2 decimal places"),   # too many decimals for USD
])
def test_bad_revenue(tmp_path, revenue, needle):
    p = write(tmp_path, gen(), gen(id="g2", revenue=revenue))
    bad(p, f"{p.name}:2", "revenue", needle)


def test_prompt_plus_completion_longer_than_context(tmp_path):
    p = write(tmp_path, gen(prompt="abcd", completion="efghijk"))
    bad(p, "generations.jsonl:1", "completion", "11 tokens", "context is 10", "model.context_length",
        context_length=10)


def test_long_prompt_counts_against_the_context(tmp_path):
    p = write(tmp_path, gen(prompt="p" * 300, completion="c"))
    bad(p, "completion", "301 tokens", "context is 256")


@pytest.mark.parametrize("reserved", ["total", "sample", "name", "holder_id"])
def test_an_id_named_like_a_value_table_column_is_refused(tmp_path, reserved):
    """A value table has one column per generation id beside its own: 'total' used to crash attrib value."""
    bad(write(tmp_path, gen(id="g0"), gen(id=reserved)), reserved, "id", "column")
