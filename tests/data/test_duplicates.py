"""Exact duplicates: trained once, value shared equally by the copies the policy trains, reported."""

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.data import duplicates
from attribcli.data.corpus import Document
from attribcli.posttrain.payees import ownership
from attribcli.posttrain.rundir import open_run
from attribcli.rights.licenses import LicensePolicy, apply_policy
from attribcli.valuation.values import holder_values
from tests.runs import copy_sample, write_config


def _doc(i, text, holder, opt_out=False, license="MIT"):
    return Document(f"d{i}", text, ((holder, 1.0),) if holder else (), license, "", opt_out)


def test_groups_keep_the_first_trainable_copy_and_share_among_trained_copies():
    docs = [_doc(1, "a", "h1", opt_out=True), _doc(2, "a", "h2"), _doc(3, "b", "h1"), _doc(4, "a", "h3"),
            _doc(5, "b", "h1"), _doc(6, "c", "h1")]
    outcome = apply_policy(docs, LicensePolicy.from_mapping({}, file="cfg"), file="corpus")
    groups = duplicates.find(docs, outcome)
    assert [(g.copies, g.sharing, g.kept) for g in groups] == [
        (("d1", "d2", "d4"), ("d2", "d4"), "d2"), (("d3", "d5"), ("d3", "d5"), "d3")]
    assert groups[0].across_holders and groups[0].opted_out == ("d1",) and groups[0].holders == ("h1", "h2", "h3")
    assert not groups[1].across_holders
    deduped, copy_of = duplicates.deduplicate(outcome, groups)
    assert copy_of == {"d4": "d2", "d5": "d3"}
    assert deduped.trained_ids == ("d2", "d3", "d6")
    assert "exact duplicate of d2" in deduped["d4"].reason
    line = duplicates.summary(groups)
    assert "2 texts with 3 extra copies" in line and "1 across holders" in line and "opted-out" in line
    rows = list(csv.DictReader(duplicates.report_csv(groups, docs, deduped).splitlines()))
    assert [r["doc_id"] for r in rows] == ["d1", "d2", "d4", "d3", "d5"]
    assert rows[0]["status"].startswith("not trained: opted out") and rows[1]["status"].startswith("trained")
    assert rows[2]["status"] == "not trained again: value shared with d2" and rows[0]["across_holders"] == "true"
    assert duplicates.summary([]) is None


def _corpus_with_copies(folder):
    data = copy_sample(folder)
    lines = (data / "corpus.jsonl").read_text().splitlines()
    first = json.loads(lines[0])  # doc-0001, owned by h10, trainable
    extra = [dict(first, id="dup-other-holder", holders=[{"id": "h05", "share": 1.0}]),
             dict(first, id="dup-same-holder")]
    (data / "corpus.jsonl").write_text("\n".join(lines + [json.dumps(e) for e in extra]) + "\n")
    return data


@pytest.mark.parametrize("mode", ["share", "keep"])
def test_a_run_trains_the_text_once_and_splits_its_value_three_ways(tmp_path, mode):
    data = _corpus_with_copies(tmp_path / "data")
    cfg = write_config(tmp_path / "cfg", data=data, data__duplicates=mode)
    r = CliRunner().invoke(main, ["train", str(cfg)])
    assert r.exit_code == 0, r.output
    assert "exact duplicates: 1 texts with 2 extra copies (1 across holders: a rights question)" in r.output
    run = open_run(tmp_path / "cfg/run")
    report = list(csv.DictReader((run.path / "inputs/duplicates.csv").read_text().splitlines()))
    assert [r["doc_id"] for r in report] == ["doc-0001", "dup-other-holder", "dup-same-holder"]
    trained_docs = set(run.samples["doc_id"])
    own = ownership(run)
    if mode == "keep":
        assert {"doc-0001", "dup-other-holder", "dup-same-holder"} <= trained_docs
        assert "duplicate_of" not in run.documents or run.documents["duplicate_of"].isna().all()
        return
    assert "doc-0001" in trained_docs and not {"dup-other-holder", "dup-same-holder"} & trained_docs
    docs = run.documents.set_index("id")
    assert docs.loc["dup-other-holder", "duplicate_of"] == "doc-0001" and not docs.loc["dup-same-holder", "trained"]
    # the kept document's value is split three ways: two thirds to h10 (two copies), one third to h05
    rows = own[own["doc_id"] == "doc-0001"].groupby("payee_id")["share"].sum()
    assert rows.to_dict() == pytest.approx({"h10": 2 / 3, "h05": 1 / 3})
    # value is conserved: every payee line together holds exactly the samples' total
    hv = holder_values(run)
    np.testing.assert_allclose(hv.to_numpy().sum(0), np.asarray(run.values).sum(0), rtol=1e-12, atol=1e-15)
    v_doc = np.asarray(run.values)[(run.samples["doc_id"] == "doc-0001").to_numpy()].sum(0)
    values, doc_of = np.asarray(run.values), run.samples["doc_id"].to_numpy()
    want = v_doc / 3
    for _, row in own[(own["payee_id"] == "h05") & (own["doc_id"] != "doc-0001")].iterrows():
        want = want + row["share"] * values[doc_of == row["doc_id"]].sum(0)
    np.testing.assert_allclose(hv.loc["h05"].to_numpy(), want, rtol=1e-9, atol=1e-15)


def test_ownership_is_written_by_training_and_equals_the_mapping_from_the_documents(tmp_path):
    data = _corpus_with_copies(tmp_path / "data")
    cfg = write_config(tmp_path / "cfg", data=data)
    assert CliRunner().invoke(main, ["train", str(cfg)]).exit_code == 0
    run_dir = tmp_path / "cfg/run"
    rows = list(csv.DictReader((run_dir / "inputs/ownership.csv").read_text().splitlines()))
    assert [(r["holder_id"], float(r["share"])) for r in rows if r["doc_id"] == "doc-0001"] == [
        ("h10", 1 / 3), ("h05", 1 / 3), ("h10", 1 / 3)]
    assert not any(r["doc_id"].startswith("dup-") for r in rows)  # the copies' shares ride on doc-0001
    from_file = ownership(open_run(run_dir))
    (run_dir / "inputs/ownership.csv").rename(tmp_path / "aside.csv")  # a run made before the file existed
    from_documents = ownership(open_run(run_dir, check=False))  # such a run's manifest does not list the file
    assert from_file[["doc_id", "payee_id"]].equals(from_documents[["doc_id", "payee_id"]])
    np.testing.assert_allclose(from_file["share"], from_documents["share"], rtol=1e-15)


def test_a_holderless_copy_escrows_its_share_and_can_be_claimed(tmp_path):
    from attribcli.config import payout_policy
    from attribcli.money.payout import compute_payout, escrow_by_document
    from attribcli.rights.holders import ESCROW_ID
    from attribcli.valuation.valuation import Valuation
    from attribcli.valuation.values import escrow_documents

    data = copy_sample(tmp_path / "data")
    lines = (data / "corpus.jsonl").read_text().splitlines()
    copy = dict(json.loads(lines[0]), id="dup-nobody", holders=[])  # doc-0001's text, owner unknown
    (data / "corpus.jsonl").write_text("\n".join(lines + [json.dumps(copy)]) + "\n")
    cfg = write_config(tmp_path / "cfg", data=data)
    assert CliRunner().invoke(main, ["train", str(cfg)]).exit_code == 0
    run = open_run(tmp_path / "cfg/run")
    assert "dup-nobody" in set(escrow_documents(run)["id"])
    val = Valuation(run)
    payout = compute_payout(val, revenue="1000.00", currency="USD",
                            policy=payout_policy(val.config_path, stages="data_only"))
    per_doc = escrow_by_document(val, payout)
    assert sum(per_doc.values()) == sum(g.amounts.get(ESCROW_ID, 0) for g in payout.generations)
    assert per_doc["dup-nobody"] > 0  # half of doc-0001's value is escrowed for the unknown owner
    # ... and it is half of what doc-0001's value earns its own holder h10 through that document
    own = ownership(run)
    assert own[own["doc_id"] == "doc-0001"].set_index("payee_id")["share"].to_dict() == {"h10": 0.5, ESCROW_ID: 0.5}
