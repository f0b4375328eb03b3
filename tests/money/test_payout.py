"""Payout policies on a small real run: stages, platform fee, licence routing, shell-company splits, proofs."""

import csv
import io
import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.errors import AttribError
from tests.runs import copy_sample, write_config


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    base = tmp_path_factory.mktemp("payout")
    cfg = write_config(base)
    assert _invoke("train", cfg).exit_code == 0
    return base / "run"


def _statement(run_dir, *args):
    r = _invoke("payout", run_dir, "--revenue-from-generations", "--format", "json", *args)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_stage_split_reconciles_to_the_cent_and_pays_only_positive_stages(run_dir):
    doc = _statement(run_dir)
    for g in doc["generations"]:
        st = g["stages"]
        assert sum(s["amount_minor"] for s in st.values()) == g["revenue_minor"]
        for name in ("base_model", "fine_tuning", "prompt"):
            if st[name]["nats"] <= 0:
                assert st[name]["amount_minor"] == 0
        holders = sum(line["amount_minor"] for line in g["lines"]
                      if line["payee_id"] not in ("BASE_MODEL", "PROMPT_AUTHORS", "PLATFORM"))
        assert holders == st["fine_tuning"]["amount_minor"]
    assert sum(p["amount_minor"] for p in doc["payees"]) == doc["revenue_minor"]


def test_data_only_gives_all_revenue_to_the_data_and_platform_fee_comes_first(run_dir):
    data_only = _statement(run_dir, "--stages", "data_only")
    assert not any(p["kind"] in ("stage", "platform") for p in data_only["payees"])
    fee = _statement(run_dir, "--stages", "data_only", "--platform-fee", "0.3")
    for g in fee["generations"]:
        # 30 % of the generation's revenue, largest-remainder rounded to the cent
        assert abs(g["stages"]["platform"]["amount_minor"] - 0.3 * g["revenue_minor"]) <= 0.5 + 1e-9
        stages = g["stages"]
        assert stages["platform"]["amount_minor"] + stages["fine_tuning"]["amount_minor"] == g["revenue_minor"]


def test_fixed_stage_shares_from_the_config(tmp_path):
    cfg = write_config(tmp_path, payout={"stages": "fixed",
                                         "fixed_shares": {"base_model": 0.25, "fine_tuning": 0.7, "prompt": 0.05}})
    assert _invoke("train", cfg).exit_code == 0
    doc = _statement(tmp_path / "run")
    for g in doc["generations"]:
        st = g["stages"]
        assert abs(st["base_model"]["amount_minor"] - 0.25 * g["revenue_minor"]) <= 1
        assert abs(st["prompt"]["amount_minor"] - 0.05 * g["revenue_minor"]) <= 1


def test_fixed_shares_must_sum_to_one(tmp_path):
    cfg = write_config(tmp_path, payout={"stages": "fixed", "fixed_shares": {"base_model": 0.5, "fine_tuning": 0.6}})
    r = _invoke("train", cfg)
    assert r.exit_code == 2 and "payout.fixed_shares" in r.output and "sum to 1.1" in r.output


def test_stage_payee_that_is_also_a_holder_is_refused(tmp_path, run_dir):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(run_dir, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["payout"]["base_model_payee"] = "h03"
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    r = _invoke("payout", run, "--revenue", "10")  # an edited run: refused before its config is read
    assert r.exit_code == 1 and "config.yaml" in r.output and len(r.output.strip().splitlines()) == 1
    from attribcli.files import sha256_file

    manifest = json.loads((run / "manifest.json").read_text())  # as if the run had been trained with that config
    manifest["outputs"]["config.yaml"] = sha256_file(run / "config.yaml")
    (run / "manifest.json").write_text(json.dumps(manifest))
    r = _invoke("payout", run, "--revenue", "10")
    assert r.exit_code == 2 and "h03" in r.output and len(r.output.strip().splitlines()) == 1


def test_non_commercial_documents_in_a_commercial_run_are_an_error_unless_allowed(tmp_path):
    cfg = write_config(tmp_path / "a", licenses={"run_use": "commercial"})
    r = _invoke("train", cfg)
    assert r.exit_code == 2 and "CC-BY-NC-4.0" in r.output and "license" in r.output
    assert not (tmp_path / "a/run").exists()
    cfg = write_config(tmp_path / "b", licenses={"run_use": "commercial", "allow_non_commercial_in_commercial": True})
    assert _invoke("train", cfg).exit_code == 0
    docs = [json.loads(line) for line in open(tmp_path / "b/run/inputs/documents.jsonl")]
    assert any(d["use"] == "non-commercial" and d["trained"] for d in docs)


def test_licence_routing_commons_exclusions_and_reasons(run_dir):
    docs = {d["id"]: d for d in map(json.loads, open(run_dir / "inputs/documents.jsonl"))}
    assert all(not d["trained"] for d in docs.values() if d["use"] == "non-commercial")
    assert all(d["pay_to"] == "commons" for d in docs.values() if d["license"] == "CC0-1.0")
    md = _invoke("payout", run_dir, "--revenue", "10", "--format", "md").stdout
    assert "- opted out (2)" in md and "non-commercial not trainable by policy" in md
    payees = {p["payee_id"]: p for p in _statement(run_dir)["payees"]}
    assert payees["COMMONS"]["kind"] == "commons"


def test_splitting_an_owner_into_shell_ids_gains_nothing(tmp_path):
    """The same training with h01's documents spread over three ids: the ids' values sum to h01's value
    exactly, and their payout together is h01's to within the rounding of each generation's lines."""
    whole = write_config(tmp_path / "whole")
    data = copy_sample(tmp_path / "data")
    lines = [json.loads(line) for line in open(data / "corpus.jsonl")]
    k = 0
    for d in lines:
        if [h["id"] for h in d["holders"]] == ["h01"]:
            d["holders"] = [{"id": f"h01{'abc'[k % 3]}", "share": 1.0}]
            k += 1
    (data / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    with open(data / "holders.csv", "a") as fh:
        fh.write("".join(f"h01{x},Shell {x},shell{x}@example.org,NO\n" for x in "abc"))
    split = write_config(tmp_path / "split", data=data)
    for cfg in (whole, split):
        assert _invoke("train", cfg).exit_code == 0
    np.testing.assert_array_equal(np.load(tmp_path / "whole/run/values.npy"),
                                  np.load(tmp_path / "split/run/values.npy"))

    def by_payee(run):
        rows = csv.DictReader(io.StringIO(_invoke("payout", run, "--revenue-from-generations").stdout))
        return {r["payee_id"]: (float(r["value"]), int(r["amount_minor"])) for r in rows}

    w, s = by_payee(tmp_path / "whole/run"), by_payee(tmp_path / "split/run")
    parts = [s[f"h01{x}"] for x in "abc"] + [s["h01"]]
    assert sum(v for v, _ in parts) == pytest.approx(w["h01"][0], rel=1e-12, abs=1e-15)
    assert sum(a for _, a in parts) <= w["h01"][1] + 8  # at most a cent per generation from rounding


def test_every_payee_can_check_their_line_against_the_statement(run_dir, tmp_path):
    statement = tmp_path / "statement.json"
    assert _invoke("payout", run_dir, "--revenue-from-generations", "--format", "json", "-o", statement).exit_code == 0
    doc = json.loads(statement.read_text())
    root, size = doc["merkle"]["root"], doc["merkle"]["size"]
    assert size == len(doc["lines"]) == len(doc["payees"])
    md = tmp_path / "statement.md"
    _invoke("payout", run_dir, "--revenue-from-generations", "--format", "md", "-o", md)
    assert root in md.read_text()
    for line in doc["lines"]:
        proof = tmp_path / f"{line['payee_id']}.json"
        assert _invoke("payout", run_dir, "--revenue-from-generations", "--proof-for", line["payee_id"],
                       "-o", proof).exit_code == 0
        assert _invoke("verify", "--line", proof, "--root", root, "--size", size).exit_code == 0
    assert _invoke("verify", run_dir, statement, "--line", proof).exit_code == 0
    assert _invoke("verify", run_dir, md, "--line", proof).exit_code == 0
    tampered = json.loads(proof.read_text())
    tampered["line"]["amount_minor"] += 1
    proof.write_text(json.dumps(tampered))
    r = _invoke("verify", "--line", proof, "--root", root, "--size", size)
    assert r.exit_code == 1 and "FAILED" in r.output


def test_proof_for_an_unknown_payee_and_a_line_without_root_are_one_line_errors(run_dir, tmp_path):
    r = _invoke("payout", run_dir, "--revenue", "1", "--proof-for", "nobody")
    assert r.exit_code == 2 and "--proof-for" in r.output and len(r.output.strip().splitlines()) == 1
    proof = tmp_path / "p.json"
    _invoke("payout", run_dir, "--revenue", "1", "--proof-for", "h01", "-o", proof)
    r = _invoke("verify", "--line", proof)
    assert r.exit_code == 2 and "--root" in r.output


def test_threshold_carries_forward_across_two_statements_and_the_ledger_proves_it(run_dir, tmp_path):
    ledger = tmp_path / "ledger.json"
    s1, s2 = tmp_path / "s1.json", tmp_path / "s2.json"
    assert _invoke("payout", run_dir, "--revenue", "20.00", "--minimum-payout", "2.00", "--ledger", ledger,
                   "--format", "json", "-o", s1).exit_code == 0
    one = json.loads(s1.read_text())
    held = {p["payee_id"]: p["carried_out_minor"] for p in one["payees"] if p["carried_out_minor"]}
    assert held and all(p["paid_minor"] == 0 or p["paid_minor"] >= 200 for p in one["payees"] if p["kind"] == "holder")
    assert _invoke("payout", run_dir, "--revenue", "300.00", "--minimum-payout", "2.00", "--ledger", ledger,
                   "--format", "json", "-o", s2).exit_code == 0
    two = json.loads(s2.read_text())
    by = {p["payee_id"]: p for p in two["payees"]}
    for payee, carried in held.items():  # what the first statement held back arrives in the second
        assert by[payee]["carried_in_minor"] == carried
        assert by[payee]["paid_minor"] + by[payee]["carried_out_minor"] == by[payee]["amount_minor"] + carried
    for doc in (one, two):  # no lost cent
        st = doc["settlement"]
        assert doc["revenue_minor"] + st["carried_in_minor"] == st["paid_minor"] + st["carried_out_minor"]
    assert by["ESCROW"]["paid_minor"] == 0  # escrow is held until claimed
    # the same statement rendered again (another format) is not settled twice
    assert _invoke("payout", run_dir, "--revenue", "300.00", "--minimum-payout", "2.00", "--ledger", ledger,
                   "--format", "md", "-o", tmp_path / "s2.md").exit_code == 0
    assert len(json.loads(ledger.read_text())["entries"]) == 2
    for report in (s1, s2, tmp_path / "s2.md"):
        r = _invoke("verify", run_dir, report, "--ledger", ledger)
        assert r.exit_code == 0, r.output
    # an earlier statement cannot be settled again after a later one
    r = _invoke("payout", run_dir, "--revenue", "20.00", "--minimum-payout", "2.00", "--ledger", ledger)
    assert r.exit_code == 2 and "settled earlier" in r.output
    # tampering: one cent moved in the ledger breaks the chain, for verify and for the next payout
    book = json.loads(ledger.read_text())
    first = book["entries"][0]
    payee = next(iter(first["carried_out"]))
    first["carried_out"][payee] += 1
    ledger.write_text(json.dumps(book))
    r = _invoke("verify", run_dir, s2, "--ledger", ledger)
    assert r.exit_code == 1 and "changed after it was written" in r.output
    r = _invoke("payout", run_dir, "--revenue", "5", "--ledger", ledger)
    assert r.exit_code == 2 and "altered" in r.output


def test_verify_detects_a_tampered_report_line_amount_and_ledger_free_reports_still_verify(run_dir, tmp_path):
    out = tmp_path / "s.json"
    _invoke("payout", run_dir, "--revenue", "42.42", "--format", "json", "-o", out)
    assert _invoke("verify", run_dir, out).exit_code == 0
    doc = json.loads(out.read_text())
    doc["payees"][0]["paid_minor"] += 1
    out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    r = _invoke("verify", run_dir, out)
    assert r.exit_code == 1 and "differs" in r.output


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_statement_reconciles_to_the_cent_for_random_values_and_revenues(run_dir, data):
    """revenue = Σ lines, and revenue + carried in = paid + carried out, for random value tables (negative
    values included), random revenues, stage policies, platform fees, minimum payouts and carried balances."""
    from attribcli.config import payout_policy
    from attribcli.money.payout import compute_payout
    from attribcli.money.settlement import settle
    from attribcli.posttrain.rundir import open_run
    from attribcli.valuation.valuation import Valuation

    run = open_run(run_dir)
    n, m = run.values.shape
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    scale = data.draw(st.sampled_from([1e-12, 1e-3, 1.0, 1e6]))
    bias = data.draw(st.sampled_from([-2.0, 0.0, 0.5, 3.0]))  # all negative ... mostly positive
    run.values = (rng.standard_normal((n, m)) + bias) * scale
    cents = data.draw(st.integers(0, 10**9))
    revenue = f"{cents // 100}.{cents % 100:02d}"
    stages = data.draw(st.sampled_from(["measured", "fixed", "data_only"]))
    policy = payout_policy(run.path / "config.yaml", stages=stages,
                           platform_fee=data.draw(st.sampled_from([0.0, 0.3, 1.0])),
                           floor=data.draw(st.sampled_from([None, "0.01", "3.00"])),
                           cap=data.draw(st.sampled_from([None, "3.00", "1000000.00"])))
    try:
        payout = compute_payout(Valuation(run), revenue=revenue, currency="USD", policy=policy)
    except AttribError as exc:  # a floor the revenue cannot meet for every positive holder: refused, not half met
        assert policy.floor and exc.field == "--floor" and "at most" in exc.line()
        return
    assert sum(payout.total(p) for p in payout.payees()) == cents
    assert all(payout.total(p) >= 0 for p in payout.payees())
    carriers = data.draw(st.lists(st.sampled_from(payout.payees()), max_size=5))
    carried = {p: data.draw(st.integers(0, 10**6)) for p in carriers}
    s = settle(payout, minimum=data.draw(st.integers(0, 10**5)), carried_in=carried)
    assert cents + sum(carried.values()) == sum(s.paid.values()) + sum(s.carried_out.values())
    assert all(v >= 0 for v in s.paid.values()) and all(v >= 0 for v in s.carried_out.values())


def test_aliases_are_paid_once_under_one_id_and_the_merge_is_shown(tmp_path):
    """h13 is h01 under another id: h13's documents are valued as before, and paid to h01."""
    data = copy_sample(tmp_path / "data")
    lines = [json.loads(line) for line in open(data / "corpus.jsonl")]
    moved = 0
    for d in lines:
        if [h["id"] for h in d["holders"]] == ["h01"] and moved < 5:
            d["holders"] = [{"id": "h13", "share": 1.0}]
            moved += 1
    (data / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in lines))
    rows = list(csv.reader(open(data / "holders.csv", newline="")))
    rows[0].append("alias_of")
    for r in rows[1:]:
        r.append("")
    rows.append(["h13", "M. Holt", "mh@example.org", "NO", "h01"])
    with open(data / "holders.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    for name, d in (("alias", data), ("plain", None)):
        cfg = write_config(tmp_path / name, **({"data": d} if d else {}))
        assert _invoke("train", cfg).exit_code == 0
    alias = {p["payee_id"]: p for p in _statement(tmp_path / "alias/run")["payees"]}
    plain = {p["payee_id"]: p for p in _statement(tmp_path / "plain/run")["payees"]}
    assert "h13" not in alias and alias["h01"]["amount_minor"] == plain["h01"]["amount_minor"]
    assert alias["h01"]["value"] == pytest.approx(plain["h01"]["value"], rel=1e-12)
    md = _invoke("payout", tmp_path / "alias/run", "--revenue-from-generations", "--format", "md").stdout
    assert "## Merged payees" in md and "`h13` (M\\. Holt) is paid as `h01`" in md


@pytest.mark.parametrize("alias_of, message", [("h99", "unknown holder"), ("self", "cycle")])
def test_bad_aliases_are_one_line_errors(tmp_path, alias_of, message):
    data = copy_sample(tmp_path / "data")
    rows = list(csv.reader(open(data / "holders.csv", newline="")))
    rows[0].append("alias_of")
    for r in rows[1:]:
        r.append("")
    rows[1][-1] = rows[1][0] if alias_of == "self" else alias_of
    with open(data / "holders.csv", "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    r = _invoke("train", write_config(tmp_path, data=data))
    assert r.exit_code == 2 and message in r.output and "alias_of" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_a_holder_statement_verifies_and_its_proof_checks_against_the_full_statement(run_dir, tmp_path):
    full = _statement(run_dir)
    for fmt in ("md", "json"):
        out = tmp_path / f"h04.{fmt}"
        assert _invoke("payout", run_dir, "--revenue-from-generations", "--holder", "h04", "--format", fmt,
                       "-o", out).exit_code == 0
        assert _invoke("verify", run_dir, out).exit_code == 0
    mine = json.loads((tmp_path / "h04.json").read_text())
    assert mine["amount_minor"] == next(p["amount_minor"] for p in full["payees"] if p["payee_id"] == "h04")
    assert sum(g["amount_minor"] for g in mine["generations"]) == mine["amount_minor"]
    proof = tmp_path / "proof.json"
    proof.write_text(json.dumps(mine["proof"]))
    r = _invoke("verify", "--line", proof, "--root", full["merkle"]["root"], "--size", full["merkle"]["size"])
    assert r.exit_code == 0, r.output
    assert "## Proof" in (tmp_path / "h04.md").read_text()


@pytest.mark.parametrize("args, field", [(["--holder", "nobody", "--format", "md"], "--holder"),
                                         (["--holder", "h01"], "--format")])
def test_holder_statement_errors_are_one_line(run_dir, args, field):
    r = _invoke("payout", run_dir, "--revenue", "1", *args)
    assert r.exit_code == 2 and field in r.output and len(r.output.strip().splitlines()) == 1


def test_signed_statements_verify_only_with_the_key(run_dir, tmp_path, monkeypatch):
    out = tmp_path / "signed.json"
    r = _invoke("payout", run_dir, "--revenue", "9.99", "--format", "json", "--sign", "-o", out)
    assert r.exit_code == 2 and "ATTRIB_SIGNING_KEY" in r.output and not out.exists()
    monkeypatch.setenv("ATTRIB_SIGNING_KEY", "k3y")
    for fmt in ("json", "md"):
        out = tmp_path / f"signed.{fmt}"
        assert _invoke("payout", run_dir, "--revenue", "9.99", "--format", fmt, "--sign", "-o", out).exit_code == 0
        assert _invoke("verify", run_dir, out).exit_code == 0
    sig = json.loads((tmp_path / "signed.json").read_text())["signature"]["value"]
    monkeypatch.setenv("ATTRIB_SIGNING_KEY", "another key")
    r = _invoke("verify", run_dir, tmp_path / "signed.json")
    assert r.exit_code == 1 and sig[:20] in (tmp_path / "signed.json").read_text()


def test_cap_and_floor_move_money_between_holders_exactly(run_dir, tmp_path):
    base = {p["payee_id"]: p for p in _statement(run_dir)["payees"]}
    holders = [p for p, x in base.items() if x["kind"] == "holder"]
    top = max(base[p]["amount_minor"] for p in holders)
    cap = top // 2
    capped = {p["payee_id"]: p for p in _statement(run_dir, "--cap", f"{cap // 100}.{cap % 100:02d}")["payees"]}
    assert max(capped[p]["amount_minor"] for p in holders) <= cap
    assert sum(x["amount_minor"] for x in capped.values()) == sum(x["amount_minor"] for x in base.values())
    assert sum(capped[p]["amount_minor"] for p in holders) + capped.get("UNALLOCATED", {"amount_minor": 0})[
        "amount_minor"] \
        == sum(base[p]["amount_minor"] for p in holders) + base.get("UNALLOCATED", {"amount_minor": 0})["amount_minor"]
    earning = sorted(base[p]["amount_minor"] for p in holders if base[p]["value"] > 0)
    floor = earning[1] + 1  # above the two smallest positive holders: they must be lifted
    floored = {p["payee_id"]: p for p in _statement(run_dir, "--floor", f"{floor // 100}.{floor % 100:02d}")["payees"]}
    lifted = [p for p in holders if base[p]["value"] > 0 and base[p]["amount_minor"] < floor]
    assert len(lifted) >= 2 and all(floored[p]["amount_minor"] == floor for p in lifted)
    assert all(floored[p]["amount_minor"] >= floor for p in holders if base[p]["amount_minor"] >= floor)  # donors
    assert all(floored[p]["amount_minor"] == 0 for p in holders if base[p]["value"] <= 0)  # no value, no floor
    assert sum(x["amount_minor"] for x in floored.values()) == sum(x["amount_minor"] for x in base.values())
    for fmt in ("csv", "json"):
        out = tmp_path / f"fc.{fmt}"
        assert _invoke("payout", run_dir, "--revenue-from-generations", "--floor", "8.00", "--cap", "12.00",
                       "--format", fmt, "-o", out).exit_code == 0
        assert _invoke("verify", run_dir, out).exit_code == 0
    r = _invoke("payout", run_dir, "--revenue", "10", "--floor", "5", "--cap", "1")
    assert r.exit_code == 2 and "floor" in r.output


def test_period_and_holders_opted_out_after_training_are_shown_and_verify(run_dir, tmp_path):
    for fmt in ("csv", "md", "json"):
        out = tmp_path / f"p.{fmt}"
        assert _invoke("payout", run_dir, "--revenue", "50", "--period", "2026-Q3", "--opted-out", "h02,h04",
                       "--format", fmt, "-o", out).exit_code == 0
        assert _invoke("verify", run_dir, out).exit_code == 0, fmt
    md = (tmp_path / "p.md").read_text()
    assert "period 2026-Q3" in md and "## Opted out after training" in md and "`h04`" in md
    rows = list(csv.DictReader(open(tmp_path / "p.csv")))
    assert {r["payee_id"] for r in rows if r["opted_out_after_training"] == "yes"} == {"h02", "h04"}
    r = _invoke("payout", run_dir, "--revenue", "1", "--opted-out", "h99")
    assert r.exit_code == 2 and "--opted-out" in r.output


def test_verify_names_any_tampered_file_of_the_run(run_dir, tmp_path):
    import shutil

    files = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*")
                   if p.is_file() and p.parts[len(run_dir.parts)] != "reports")
    assert {"values.npy", "losses.csv", "samples.csv", "model.pt", "config.yaml", "manifest.json",
            "inputs/documents.jsonl", "inputs/holders.csv", "inputs/generations.jsonl"} <= set(files)
    statement = tmp_path / "statement.json"
    assert _invoke("payout", run_dir, "--revenue", "10", "--format", "json", "-o", statement).exit_code == 0
    for rel in files:
        copy = tmp_path / rel.replace("/", "_")
        shutil.copytree(run_dir, copy)
        target = copy / rel
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0x01  # one bit
        target.write_bytes(bytes(data))
        r = _invoke("verify", copy, statement)
        assert r.exit_code in (1, 2), rel  # 2: a file too damaged to read is a one-line error naming it
        assert rel.split("/")[-1] in r.output or "manifest" in r.output, (rel, r.output)
        shutil.rmtree(copy)


def test_verify_names_a_changed_input_file(tmp_path):
    data = copy_sample(tmp_path / "data")
    assert _invoke("train", write_config(tmp_path, data=data)).exit_code == 0
    assert _invoke("verify", tmp_path / "run").exit_code == 0
    with open(data / "holders.csv", "a") as fh:
        fh.write("h99,Late Arrival,late@example.org,FR\n")
    r = _invoke("verify", tmp_path / "run")
    assert r.exit_code == 1 and "input holders" in r.output and "changed since training" in r.output


def test_escrow_is_carried_until_claimed_then_paid_to_the_claimant(run_dir, tmp_path):
    ledger = tmp_path / "ledger.json"
    s1 = _statement(run_dir, "--ledger", ledger)
    escrow = next(p for p in s1["payees"] if p["payee_id"] == "ESCROW")
    assert escrow["paid_minor"] == 0 and escrow["carried_out_minor"] == escrow["amount_minor"] > 0
    balances = json.loads(ledger.read_text())["entries"][-1]["escrow_documents"]
    assert sum(balances.values()) == escrow["carried_out_minor"]  # escrow tracked per document
    doc = max(balances, key=balances.get)
    claims = tmp_path / "claims.csv"
    claims.write_text(f"doc_id,holder_id\n{doc},h05\n")
    out = tmp_path / "s2.json"
    r = _invoke("payout", run_dir, "--revenue", "100.00", "--ledger", ledger, "--claims", claims,
                "--format", "json", "-o", out)
    assert r.exit_code == 0, r.output
    s2 = json.loads(out.read_text())
    by = {p["payee_id"]: p for p in s2["payees"]}
    assert by["h05"]["carried_in_minor"] == balances[doc]  # the carried escrow of that document moves
    assert by["ESCROW"]["carried_in_minor"] == escrow["carried_out_minor"] - balances[doc]
    assert s2["escrow_claims"] == [[doc, "h05"]]
    assert s2["revenue_minor"] + s2["settlement"]["carried_in_minor"] == \
        s2["settlement"]["paid_minor"] + s2["settlement"]["carried_out_minor"]
    last = json.loads(ledger.read_text())["entries"][-1]
    assert last["claims"] == {doc: "h05"} and doc not in last["escrow_documents"]
    for fmt in ("json", "csv", "md"):
        rendered = tmp_path / f"s2again.{fmt}"
        assert _invoke("payout", run_dir, "--revenue", "100.00", "--ledger", ledger, "--claims", claims,
                       "--format", fmt, "-o", rendered).exit_code == 0
        assert _invoke("verify", run_dir, rendered, "--ledger", ledger).exit_code == 0, fmt
    assert len(json.loads(ledger.read_text())["entries"]) == 2  # re-rendering settles nothing twice
    bad = tmp_path / "bad.csv"
    bad.write_text("doc_id,holder_id\ndoc-0001,h05\n")
    r = _invoke("payout", run_dir, "--revenue", "1", "--ledger", tmp_path / "other.json", "--claims", bad)
    assert r.exit_code == 2 and "not an escrow document" in r.output


def test_commons_line_payee_is_configurable(tmp_path):
    cfg = write_config(tmp_path, payout={"commons_payee": "PUBLIC_DOMAIN_FUND"})
    assert _invoke("train", cfg).exit_code == 0
    payees = {p["payee_id"]: p for p in _statement(tmp_path / "run")["payees"]}
    assert "COMMONS" not in payees and payees["PUBLIC_DOMAIN_FUND"]["kind"] == "commons"


def test_verify_names_a_garbled_run_config_instead_of_crashing(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    statement = tmp_path / "s.json"
    _invoke("payout", run_dir, "--revenue", "10", "--format", "json", "-o", statement)
    (copy / "config.yaml").write_text((copy / "config.yaml").read_text().replace("payout:", "payout: !!bad [", 1))
    r = _invoke("verify", copy, statement)
    assert r.exit_code == 1 and "config.yaml" in r.output and "Traceback" not in r.output
    r = _invoke("payout", copy, "--revenue", "10")  # altered since training: refused before it is parsed
    assert r.exit_code == 1 and "config.yaml" in r.output and len(r.output.strip().splitlines()) == 1


def test_a_floor_that_cannot_be_met_is_refused_naming_the_largest_that_can(run_dir):
    """A floor above what the holders with positive value can all receive was met for some and silently not for
    others; now it is one line (exit 2) naming --floor and the largest floor that can be met, and that floor is."""
    r = _invoke("payout", run_dir, "--revenue", "10", "--floor", "1000000")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "--floor" in r.output and "at most" in r.output
    best = r.output.split("at most ")[1].split()[0].rstrip(")")
    met = {p["payee_id"]: p for p in json.loads(_invoke("payout", run_dir, "--revenue", "10", "--floor", best,
                                                         "--format", "json").stdout)["payees"]}
    minor = round(float(best) * 100)
    assert all(p["amount_minor"] >= minor for p in met.values() if p["kind"] == "holder" and p["value"] > 0)
    above = f"{(minor + 1) // 100}.{(minor + 1) % 100:02d}"
    assert _invoke("payout", run_dir, "--revenue", "10", "--floor", above).exit_code == 2


def test_a_cap_too_low_to_place_the_money_shows_it_as_unallocated(run_dir):
    """The cap's symmetric case: what no holder may take under the cap is an UNALLOCATED line (README), shown."""
    st = _statement(run_dir, "--cap", "0.01")
    holders = [p for p in st["payees"] if p["kind"] == "holder"]
    unallocated = sum(p["amount_minor"] for p in st["payees"] if p["payee_id"] == "UNALLOCATED")
    assert all(p["amount_minor"] <= 1 for p in holders) and unallocated > 0


def test_leftover_cents_of_a_total_split_over_generations_are_not_the_lowest_ids(run_dir):
    """--revenue 0.03 over 8 generations: the 3 cents once always went to gen-001..003."""
    detail = list(csv.DictReader(io.StringIO(_invoke("payout", run_dir, "--revenue", "0.03", "--detail").stdout)))
    per_gen = {}
    for row in detail:
        per_gen[row["generation_id"]] = per_gen.get(row["generation_id"], 0) + int(row["amount_minor"])
    assert sum(per_gen.values()) == 3
    got = sorted(g for g, c in per_gen.items() if c)
    gens = sorted({row["generation_id"] for row in detail})
    assert got != gens[:3]  # this run's salt; test_amounts checks the spread over many statements
    again = list(csv.DictReader(io.StringIO(_invoke("payout", run_dir, "--revenue", "0.03", "--detail").stdout)))
    assert again == detail


def test_the_same_revenue_written_two_ways_is_the_same_statement(run_dir):
    """Leftover cents are ordered by a hash of the statement: '10' and '10.00' must hash alike, or a CSV statement
    (which records '10.00') re-derives with other cents than were paid."""
    paid = []
    for revenue in ("10", "10.00", "10.0"):
        r = _invoke("payout", run_dir, "--revenue", revenue, "--format", "json")
        assert r.exit_code == 0, r.output
        paid.append([(p["payee_id"], p["amount_minor"]) for p in json.loads(r.stdout)["payees"]])
    assert paid[0] == paid[1] == paid[2]


@pytest.fixture(scope="module")
def parts_run(tmp_path_factory):
    from tests.runs import reference_run

    return reference_run(tmp_path_factory.mktemp("parts"))


@pytest.mark.parametrize("rule", ["pool", "tokens", "generation"])
def test_the_data_money_is_cut_into_its_parts_each_paid_by_its_own_key_to_the_cent(parts_run, rule):
    from attribcli.money.amounts import allocate
    from attribcli.posttrain.rundir import open_run
    from attribcli.valuation.valuation import Valuation

    doc = _statement(parts_run, "--shared", rule)
    assert doc["shared_rule"] == rule
    val = Valuation(open_run(parts_run))
    specific, shared = val.holder_part("specific"), val.holder_part("shared")
    key = {"pool": val.holder_reference["step_share"], "tokens": val.holder_tokens}.get(rule)
    cut_somewhere = False
    for g in doc["generations"]:
        parts = g["parts"]
        assert parts["specific"]["amount_minor"] + parts["shared"]["amount_minor"] == \
            g["stages"]["fine_tuning"]["amount_minor"]
        assert sum(line["amount_minor"] for line in g["lines"]) == g["revenue_minor"]
        gid = g["generation_id"]
        assert parts["specific"]["nats"] == pytest.approx(specific[gid].clip(lower=0).sum())  # positive pieces
        assert parts["shared"]["nats"] == pytest.approx(max(shared[gid].sum(), 0.0))
        cut_somewhere |= parts["specific"]["amount_minor"] > 0 and parts["shared"]["amount_minor"] > 0
    assert cut_somewhere
    # each payee's part amounts are the exact allocation of that part's money by that part's key
    by_payee = {p["payee_id"]: p for p in doc["payees"]}
    assert sum(p["specific_minor"] + p["shared_minor"] for p in doc["payees"]) == \
        sum(g["stages"]["fine_tuning"]["amount_minor"] for g in doc["generations"])
    if key is not None:
        pool = sum(g["parts"]["shared"]["amount_minor"] for g in doc["generations"])
        want = {p: 0 for p in key.index}
        from attribcli.config import payout_policy
        from attribcli.money.payout import compute_payout

        payout = compute_payout(val, revenue=None, currency="USD",
                                policy=payout_policy(val.config_path, shared=rule))
        for gp in payout.generations:
            within = payout.salt + "\0" + gp.generation_id
            # the first split: each payee's positive specific value and the shared part's positive total
            first = allocate(gp.stage_amounts["fine_tuning"], {**{p: max(float(v), 0.0) for p, v in
                                                                  specific[gp.generation_id].items()},
                                                               "\0shared": max(shared[gp.generation_id].sum(), 0.0)},
                             salt=within)
            assert first.pop("\0shared") == sum(gp.part_amounts["shared"].values())
            assert {p: a for p, a in first.items() if a} == gp.part_amounts["specific"]
            money = sum(gp.part_amounts["shared"].values())
            weights = {p: float(v) for p, v in key.items()}
            for p, a in allocate(money, weights, salt=within + "\0shared").items():
                want[p] += a
        assert {p: by_payee[p]["shared_minor"] for p in want} == want and sum(want.values()) == pool
    for p in doc["payees"]:  # nobody with no positive specific value anywhere gets specific money
        if p["payee_id"] in specific.index and (specific.loc[p["payee_id"]] <= 0).all():
            assert p["specific_minor"] == 0


def test_statements_with_parts_show_them_and_verify(parts_run, tmp_path):
    md, csv_out = tmp_path / "s.md", tmp_path / "s.csv"
    assert _invoke("payout", parts_run, "--revenue", "100.00", "--format", "md", "-o", md).exit_code == 0
    text = md.read_text()
    assert "## Specific and shared parts" in text and "| Specific | Shared |" in text
    assert _invoke("verify", parts_run, md).exit_code == 0
    assert _invoke("payout", parts_run, "--revenue", "100.00", "--format", "csv", "-o", csv_out).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(csv_out.read_text())))
    assert sum(int(r["specific_minor"]) + int(r["shared_minor"]) for r in rows) > 0
    assert _invoke("verify", parts_run, csv_out).exit_code == 0
    for fmt in ("csv", "md", "json"):  # an overridden rule is recorded in the statement, so verify re-derives it
        out = tmp_path / f"tokens.{fmt}"
        assert _invoke("payout", parts_run, "--revenue", "100.00", "--shared", "tokens", "--format", fmt,
                       "--detail" if fmt == "csv" else "--period=x", "-o", out).exit_code == 0
        r = _invoke("verify", parts_run, out)
        assert r.exit_code == 0, r.output
    # --shared total pays as a run without parts does: by total values, no part columns
    whole = _statement(parts_run, "--shared", "total")
    assert whole["shared_rule"] is None and "specific_minor" not in whole["payees"][0]
    holder = _invoke("payout", parts_run, "--revenue", "100.00", "--format", "md", "--holder", "h01")
    assert holder.exit_code == 0 and "of it: specific" in holder.stdout


def test_parts_asked_of_a_run_without_reference_texts_are_one_line_errors(run_dir):
    r = _invoke("payout", run_dir, "--revenue", "10", "--shared", "pool")
    assert r.exit_code == 2 and "--shared" in r.output and len(r.output.strip().splitlines()) == 1
    r = _invoke("value", run_dir, "--part", "specific")
    assert r.exit_code == 2 and "data.reference" in r.output and len(r.output.strip().splitlines()) == 1
    doc = _statement(run_dir)
    assert doc["shared_rule"] is None and "specific_minor" not in doc["lines"][0]  # as before parts existed


def test_a_statement_keeps_each_generation_packed_and_sums_every_payee_in_one_pass_to_the_same_numbers():
    """Packed reads, iterates and compares as the dict it was made from; Payout's one-pass sums equal the
    sums taken one payee at a time, floats bit for bit (the statements' bytes rest on it)."""
    from attribcli.money.payout import GenerationPayout, Packed, Payout, packer

    rng = np.random.default_rng(5)
    pack = packer()
    payees = [f"h{i}" for i in range(7)]
    gens, plain = [], []
    for k in range(40):
        present = [p for p in payees if rng.random() > 0.2]  # some generations lack a payee or two
        values = {p: float(v) for p, v in zip(present, rng.normal(size=len(present)))}
        values[present[0]] = -0.0 if k % 5 == 0 else values[present[0]]
        amounts = {p: int(a) for p, a in zip(present, rng.integers(0, 300, size=len(present)))}
        plain.append(GenerationPayout(f"g{k}", sum(amounts.values()), values, amounts))
        gens.append(GenerationPayout(f"g{k}", sum(amounts.values()), pack(values, "d"), pack(amounts, "q")))
        assert isinstance(gens[-1].values, Packed) and gens[-1].values == values and gens[-1].amounts == amounts
        assert list(gens[-1].values) == list(values) and list(gens[-1].amounts.items()) == list(amounts.items())
        assert gens[-1].amounts.get("nobody", 0) == 0 and "nobody" not in gens[-1].amounts
    assert len({id(g.values._keys) for g in gens}) <= len({tuple(g.values) for g in gens})  # orders shared
    packed = Payout("USD", "generations", 0, generations=gens, adjustments={"h1": 5, "h2": -5})
    for p in payees + ["nobody"]:
        one_at_a_time = {
            "total": sum(g.amounts.get(p, 0) for g in plain) + packed.adjustments.get(p, 0),
            "value": sum(g.values.get(p, 0.0) for g in plain),
            "positive": sum(max(g.values.get(p, 0.0), 0.0) for g in plain),
            "paid": sum(1 for g in plain if g.amounts.get(p, 0) > 0)}
        got = {"total": packed.total(p), "value": packed.value(p), "positive": packed.positive_value(p),
               "paid": packed.generations_paid(p)}
        assert {k: repr(v) for k, v in got.items()} == {k: repr(v) for k, v in one_at_a_time.items()}, p
