"""The carry-forward ledger: one hash-chained entry per statement, balances carried from one statement
to the next, and any edit found."""

import json

import pytest

from attribcli.errors import AttribError
from attribcli.money import ledger as ledgers
from attribcli.money.settlement import Settlement


def _settlement(carried_in, paid, carried_out) -> Settlement:
    return Settlement(minimum=500, carried_in=carried_in, paid=paid, carried_out=carried_out)


def _two_entries(path):
    book = ledgers.load(path, "USD")
    ledgers.record(path, book, statement="s1", root="r1", settlement=_settlement({}, {"h1": 900}, {"h2": 300}))
    book = ledgers.load(path, "USD")
    carried = ledgers.carried_in(book, "s2")
    ledgers.record(path, book, statement="s2", root="r2",
                   settlement=_settlement(carried, {"h1": 700, "h2": 800}, {}))
    return ledgers.load(path, "USD")


def test_a_new_ledger_is_empty_and_in_the_statements_currency(tmp_path):
    assert ledgers.load(tmp_path / "l.json", "EUR") == {"format": ledgers.FORMAT, "currency": "EUR", "entries": []}


def test_balances_carry_from_one_statement_to_the_next(tmp_path):
    book = _two_entries(tmp_path / "l.json")
    first, second = book["entries"]
    assert first["carried_out"] == {"h2": 300} and second["carried_in"] == {"h2": 300}
    assert second["previous_sha256"] == first["entry_sha256"]
    assert ledgers.check_chain(book) == []


def test_recording_the_same_statement_again_changes_nothing(tmp_path):
    path = tmp_path / "l.json"
    book = _two_entries(path)
    before = path.read_bytes()
    ledgers.record(path, book, statement="s2", root="r2", settlement=_settlement({}, {}, {}))
    assert path.read_bytes() == before
    assert ledgers.carried_in(book, "s2") == {"h2": 300}  # re-rendered: what it carried in, again


def test_settling_an_older_statement_again_is_refused(tmp_path):
    book = _two_entries(tmp_path / "l.json")
    with pytest.raises(AttribError, match="settled earlier"):
        ledgers.carried_in(book, "s1")


@pytest.mark.parametrize("edit", ["amount", "order", "drop"])
def test_an_edited_ledger_is_refused(tmp_path, edit):
    path = tmp_path / "l.json"
    book = _two_entries(path)
    if edit == "amount":
        book["entries"][0]["paid"]["h1"] += 1
    elif edit == "order":
        book["entries"].reverse()
    else:
        book["entries"].pop(0)
    path.write_text(json.dumps(book))
    assert ledgers.check_chain(json.loads(path.read_text()))
    with pytest.raises(AttribError, match="altered"):
        ledgers.load(path, "USD")


def test_a_ledger_in_another_currency_is_refused(tmp_path):
    path = tmp_path / "l.json"
    _two_entries(path)
    with pytest.raises(AttribError, match="ledger is in USD"):
        ledgers.load(path, "EUR")
