"""Posting to a ledger is the books: serialised, once per period, keyed when a key is set."""

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from attribcli.cli import main


def _invoke(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def _payout(run, ledger, period, *more, env=None):
    return _invoke("payout", run, "--revenue", "20.00", "--minimum-payout", "5.00", "--period", period,
                   "--ledger", ledger, *more, env=env)


def test_concurrent_postings_are_serialised_and_each_statement_verifies(small_run, tmp_path):
    """Four payouts started together: each carries in the balance the one before it carried out (before the
    lock, all four carried in the same balance and the ledger kept one entry)."""
    ledger = tmp_path / "ledger.json"
    procs = [subprocess.Popen([sys.executable, "-m", "attribcli.cli", "payout", str(small_run), "--revenue", "20.00",
                               "--minimum-payout", "5.00", "--period", f"P{i}", "--ledger", str(ledger),
                               "--format", "json", "-o", str(tmp_path / f"s{i}.json")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    book = json.loads(ledger.read_text())
    assert len(book["entries"]) == 4
    assert sorted(e["period"] for e in book["entries"]) == ["P0", "P1", "P2", "P3"]
    for before, after in zip(book["entries"], book["entries"][1:]):
        assert after["carried_in"] == before["carried_out"]  # no balance carried in twice
    assert book["entries"][-1]["carried_out"], "a balance is carried: the test exercises the carry"
    for i in range(4):
        r = _invoke("verify", small_run, tmp_path / f"s{i}.json", "--ledger", ledger)
        assert r.exit_code == 0, r.output


def test_a_period_posted_twice_is_refused_and_the_same_statement_again_is_not_a_second_posting(small_run, tmp_path):
    ledger = tmp_path / "ledger.json"
    assert _payout(small_run, ledger, "2026-11").exit_code == 0
    assert _payout(small_run, ledger, "2026-11", "--format", "md").exit_code == 0  # re-rendered: no new entry
    before = ledger.read_bytes()
    r = _invoke("payout", small_run, "--revenue", "30.00", "--minimum-payout", "5.00", "--period", "2026-11",
                "--ledger", ledger, "-o", tmp_path / "again.csv")
    assert r.exit_code == 2 and "--period" in r.output and "already posted" in r.output
    assert len(r.output.strip().splitlines()) == 1
    assert ledger.read_bytes() == before and not (tmp_path / "again.csv").exists()
    assert len(json.loads(ledger.read_text())["entries"]) == 1


def _forge(ledger, key=None):
    """Move a cent in the first entry and recompute the whole chain, as a forger without the key can."""
    from attribcli.money import ledger as ledgers

    book = json.loads(ledger.read_text())
    first = book["entries"][0]
    payee = next(iter(first["carried_out"]))
    first["carried_out"][payee] += 100
    prev = None
    for e in book["entries"]:
        e["previous_sha256"] = prev
        e["entry_sha256"] = ledgers._entry_hash(e)
        if key is not None:
            e["entry_hmac"] = ledgers._entry_hmac(e["entry_sha256"], key)
        prev = e["entry_sha256"]
    ledger.write_text(json.dumps(book))


def test_an_unkeyed_chain_can_be_recomputed_and_verify_says_it_is_unkeyed(small_run, tmp_path):
    ledger = tmp_path / "ledger.json"
    assert _payout(small_run, ledger, "P1").exit_code == 0
    _forge(ledger)
    r = _invoke("verify", "--ledger", ledger)
    assert r.exit_code == 0 and "unkeyed" in r.output  # the honest answer: a hash chain alone proves no author


def test_a_keyed_ledger_refuses_a_recomputed_chain_and_a_wrong_key(small_run, tmp_path):
    key = {"ATTRIB_SIGNING_KEY": "s3cret"}
    ledger = tmp_path / "ledger.json"
    assert _payout(small_run, ledger, "P1", env=key).exit_code == 0
    assert _payout(small_run, ledger, "P2", env=key).exit_code == 0
    book = json.loads(ledger.read_text())
    assert all("entry_hmac" in e for e in book["entries"])
    r = _invoke("verify", "--ledger", ledger, env=key)
    assert r.exit_code == 0 and "keyed" in r.output and "unkeyed" not in r.output, r.output
    # without the key the ledger cannot be posted to (it would become unkeyed from there on)
    r = _payout(small_run, ledger, "P3", env={"ATTRIB_SIGNING_KEY": None})
    assert r.exit_code == 2 and "ATTRIB_SIGNING_KEY" in r.output
    # a forger who recomputes the chain but lacks the key
    _forge(ledger)
    r = _invoke("verify", "--ledger", ledger, env=key)
    assert r.exit_code == 1 and "HMAC" in r.output
    r = _payout(small_run, ledger, "P3", env=key)
    assert r.exit_code == 2 and "altered" in r.output
    # a forger with another key
    _forge(ledger, key=b"guess")
    r = _invoke("verify", "--ledger", ledger, env=key)
    assert r.exit_code == 1 and "HMAC" in r.output


def test_a_keyed_statement_is_signed_without_asking(small_run, tmp_path):
    out = tmp_path / "s.md"
    env = {"ATTRIB_SIGNING_KEY": "s3cret"}
    assert _invoke("payout", small_run, "--revenue", "10.00", "--format", "md", "-o", out, env=env).exit_code == 0
    assert "HMAC-SHA256 signature" in out.read_text()
    r = _invoke("verify", small_run, out, env=env)
    assert r.exit_code == 0 and "signature" in r.output, r.output
    r = _invoke("verify", small_run, out, env={"ATTRIB_SIGNING_KEY": "other"})
    assert r.exit_code == 1


def test_claims_that_are_not_utf8_are_one_line(small_run, tmp_path):
    claims = tmp_path / "claims.csv"
    claims.write_bytes(b"doc_id,holder_id\n\xff\xfe,h01\n")
    r = _invoke("payout", small_run, "--revenue", "1", "--ledger", tmp_path / "l.json", "--claims", claims)
    assert r.exit_code == 2 and "--claims" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "l.json").exists()


def test_the_lock_file_is_left_beside_the_ledger_and_a_killed_holder_does_not_block(tmp_path):
    """flock dies with its process: a SIGKILLed poster leaves no stale lock."""
    from attribcli.files import locked

    ledger = tmp_path / "ledger.json"
    child = subprocess.Popen([sys.executable, "-c", "import sys, time; from attribcli.files import locked\n"
                              f"with locked({str(ledger)!r}):\n    print('held', flush=True); time.sleep(60)"],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout.readline().strip() == "held"
    os.kill(child.pid, 9)
    child.wait()
    with locked(ledger):
        pass
    assert (tmp_path / "ledger.json.lock").exists()
