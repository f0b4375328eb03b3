"""attrib replay: generations valued after training equal, byte for byte, what training would have given."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.training.loop import KILL_ENV
from tests.runs import ROOT, SAMPLE, copy_sample, write_config

TABLES = ("values.npy", "values_order1.npy", "values_order2.npy", "losses.csv", "steps.csv", "target_steps.csv",
          "values_shared.npy", "values_reference.npy")


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "attribcli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=ROOT, timeout=600)


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _same_tables(run, valuation):
    """Every value table the run wrote for its own generations, byte for byte in the valuation."""
    names = [f for f in TABLES if (run / f).is_file()]
    assert names and "values.npy" in names
    for f in names:
        assert (run / f).read_bytes() == (run / "valuations" / valuation / f).read_bytes(), f


def _train(tmp_path, **overrides):
    cfg = write_config(tmp_path, **overrides)
    r = _invoke("train", cfg)
    assert r.exit_code == 0, r.output
    return tmp_path / "run"


@pytest.mark.parametrize("setting", [
    dict(attribution={"rule": "taylor", "order": 1}),
    dict(attribution={"rule": "taylor", "order": 2}, training__momentum=0.9, training__weight_decay=0.01),
    dict(training={"max_steps": 4, "batch_size": 8, "lr": 0.05, "momentum": 0.9, "micro_batch_size": 3,
                   "checkpoint_every": 3}),
    dict(training={"max_steps": 4, "batch_size": 8, "lr": 0.002, "optimizer": "adamw", "warmup_steps": 2,
                   "checkpoint_every": 2}),
    dict(model={"n_layer": 1, "n_head": 2, "n_embd": 32, "context_length": 256,
                "lora": {"rank": 4, "alpha": 8, "targets": []}}),
], ids=["order1", "order2-momentum", "path-micro-batches", "path-adamw", "lora"])
def test_a_replay_of_the_runs_own_generations_equals_training_byte_for_byte(tmp_path, setting):
    run = _train(tmp_path, **setting)
    r = _invoke("replay", run, "--generations", SAMPLE / "generations.jsonl", "--name", "again")
    assert r.exit_code == 0, r.output
    _same_tables(run, "again")
    man = json.loads((run / "valuations/again/manifest.json").read_text())
    assert man["trajectory"]["max_relative_loss_drift"] == 0.0 and man["kind"] == "replay"
    # a valuation is read like the run: the same holder table, named as its valuation
    own, again = _invoke("value", run, "--format", "json"), _invoke("value", run, "--valuation", "again",
                                                                       "--format", "json")
    assert json.loads(own.stdout)["rows"] == json.loads(again.stdout)["rows"]
    assert json.loads(again.stdout)["parameters"]["valuation"] == "again"


def test_a_replay_of_a_run_with_reference_texts_gives_the_same_parts_byte_for_byte(tmp_path):
    from tests.runs import reference_run

    run = reference_run(tmp_path, training={"max_steps": 6, "batch_size": 8, "lr": 0.05, "checkpoint_every": 2,
                                            "replay_segments": 3})  # segments joined as training folds them
    r = _cli("replay", run, "--generations", SAMPLE / "generations.jsonl", "--name", "again", "--nproc", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    _same_tables(run, "again")
    assert (run / "valuations/again/values_shared.npy").is_file()
    shared = _invoke("value", run, "--valuation", "again", "--part", "shared", "--format", "json")
    assert shared.exit_code == 0 and json.loads(shared.stdout)["parameters"]["part"] == "shared"


def test_segments_side_by_side_join_to_the_serial_replay_and_to_training(tmp_path):
    run = _train(tmp_path, training={"max_steps": 6, "batch_size": 8, "lr": 0.002, "optimizer": "adamw",
                                     "checkpoint_every": 4, "replay_segments": 3})
    assert sorted(p.name for p in (run / "checkpoints").glob("*.pt")) == ["step-0000002.pt", "step-0000004.pt"]
    gens = SAMPLE / "generations.jsonl"
    r = _cli("replay", run, "--generations", gens, "--name", "side", "--nproc", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _invoke("replay", run, "--generations", gens, "--name", "serial").exit_code == 0
    _same_tables(run, "side")
    _same_tables(run, "serial")
    assert json.loads((run / "valuations/side/manifest.json").read_text())["trajectory"]["processes"] == 2


def test_a_data_parallel_run_replays_on_its_own_processes(tmp_path):
    cfg = write_config(tmp_path, training__max_steps=3)
    r = _cli("train", cfg, "--nproc", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path / "run"
    one = _invoke("replay", run, "--generations", SAMPLE / "generations.jsonl", "--name", "x", "--nproc", "1")
    assert one.exit_code == 2 and "--nproc 2" in one.output
    r = _cli("replay", run, "--generations", SAMPLE / "generations.jsonl", "--name", "again")  # --nproc: the run's
    assert r.returncode == 0, r.stderr[-3000:]
    _same_tables(run, "again")


def test_a_run_without_generations_takes_the_same_steps_and_is_valued_by_its_replay(tmp_path):
    with_gens = _train(tmp_path / "a")
    without = _train(tmp_path / "b", data__generations=None)
    assert (without / "model.pt").read_bytes() == (with_gens / "model.pt").read_bytes()
    assert not (without / "values.npy").exists()
    r = _invoke("value", without)
    assert r.exit_code == 2 and "attrib replay" in r.output
    assert _invoke("replay", without, "--generations", SAMPLE / "generations.jsonl", "--name", "m1").exit_code == 0
    for f in ("values.npy", "losses.csv", "target_steps.csv"):
        assert (with_gens / f).read_bytes() == (without / "valuations/m1" / f).read_bytes(), f
    assert _invoke("payout", without, "--revenue", "10.00").exit_code == 0  # the only valuation is the default
    assert _invoke("replay", without, "--generations", SAMPLE / "generations.jsonl", "--name", "m2").exit_code == 0
    r = _invoke("payout", without, "--revenue", "10.00")
    assert r.exit_code == 2 and "m1, m2" in r.output


def test_a_killed_replay_resumes_to_the_same_bytes(tmp_path):
    run = _train(tmp_path, training={"max_steps": 6, "batch_size": 8, "lr": 0.05, "checkpoint_every": 2,
                                     "replay_segments": 2})
    gens = SAMPLE / "generations.jsonl"
    r = _cli("replay", run, "--generations", gens, "--name", "k", env={KILL_ENV: "5"})
    assert r.returncode == 137 and (run / "valuations/k.partial").is_dir() and not (run / "valuations/k").exists()
    again = _invoke("replay", run, "--generations", gens, "--name", "k")
    assert again.exit_code == 2 and "--resume" in again.output
    assert _invoke("replay", run, "--generations", gens, "--name", "k", "--resume").exit_code == 0
    _same_tables(run, "k")
    assert not (run / "valuations/k.partial").exists()


def _one_line(r, *needles, code=2):
    """Exit ``code`` (2: bad input; 1: the run is not as its manifest recorded it) and one error line (after any
    progress lines) naming each of ``needles``."""
    assert r.exit_code == code, r.output
    errors = [line for line in r.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and r.output.splitlines()[-1] == errors[0], r.output
    for n in needles:
        assert n in errors[0], r.output


def test_replay_reads_the_run_as_trained_and_refuses_what_changed_since(tmp_path):
    data = copy_sample(tmp_path / "data")
    shutil.copy(SAMPLE / "base_model.pt", data / "base.pt")
    model = {"n_layer": 4, "n_head": 4, "n_embd": 192, "context_length": 256,
             "tokenizer": str(SAMPLE / "tokenizer.json"), "base_weights": str(data / "base.pt")}
    run = _train(tmp_path, data=data, model=model, training={"max_steps": 1, "batch_size": 4, "lr": 1e-3})
    gens = data / "generations.jsonl"
    replay = lambda name="x": _invoke("replay", run, "--generations", gens, "--name", name)  # noqa: E731
    base = (data / "base.pt").read_bytes()
    (data / "base.pt").write_bytes(base + b"\0")
    _one_line(replay(), "base_weights", "changed since training", code=1)
    (data / "base.pt").write_bytes(base)
    conf = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(conf.replace("lr: 0.001", "lr: 0.002"))
    _one_line(replay(), "config.yaml", code=1)
    (run / "config.yaml").write_text(conf)
    _one_line(_invoke("replay", run, "--generations", gens, "--name", "../x"), "--name")
    _one_line(_invoke("replay", run, "--generations", tmp_path / "none.jsonl", "--name", "x"), "--generations")
    # the config's sources changed since training: the run's own copies and token cache are read, not them
    corpus, holders = (data / "corpus.jsonl").read_text(), (data / "holders.csv").read_text()
    (data / "corpus.jsonl").write_text(corpus.replace("a", "b", 1))
    (data / "holders.csv").write_text(holders + "\n")
    assert replay().exit_code == 0 and not list((run / "valuations").glob("*.partial"))
    _same_tables(run, "x")
    # the token cache gone: the corpus is read again only if it is the one trained on
    cache = tmp_path / ".attrib-cache"
    assert cache.is_dir()
    shutil.rmtree(cache)
    _one_line(replay("y"), "token cache is gone", "corpus", "changed since training", code=1)
    (data / "corpus.jsonl").write_text(corpus)
    assert replay("y").exit_code == 0 and cache.is_dir()
    _same_tables(run, "y")
    tokens = next(cache.rglob("tokens.bin"))  # an altered cache is refused, not trained from
    blob = tokens.read_bytes()
    tokens.write_bytes(bytes([blob[0] ^ 1]) + blob[1:])
    _one_line(replay("z"), "token cache is not the one the run was trained on", code=1)
    assert not (run / "valuations/z").exists()


@pytest.mark.skipif(torch.get_num_threads() < 2, reason="needs two threads to differ from one")
def test_a_trajectory_that_differs_stops_the_replay_with_nothing_written(tmp_path):
    run = _train(tmp_path, model={"n_layer": 1, "n_head": 2, "n_embd": 128, "context_length": 256})
    man = json.loads((run / "manifest.json").read_text())
    assert man["threads"] == torch.get_num_threads()
    (run / "manifest.json").write_text(json.dumps({**man, "threads": 1}))  # replayed on one thread: other bits
    threads = torch.get_num_threads()
    r = _invoke("replay", run, "--generations", SAMPLE / "generations.jsonl", "--name", "x")
    _one_line(r, "the trajectory is not the run's")  # a training loss (steps.csv) or the weights (model.pt)
    assert not (run / "valuations/x").exists() and not (run / "valuations/x.partial").exists()
    assert torch.get_num_threads() == threads  # the run's count was set for the replay only


def test_verify_checks_a_valuation_and_the_statement_made_from_it(tmp_path):
    run = _train(tmp_path)
    assert _invoke("replay", run, "--generations", SAMPLE / "generations.jsonl", "--name", "nov").exit_code == 0
    stmt = tmp_path / "nov.csv"
    assert _invoke("payout", run, "--valuation", "nov", "--revenue", "50.00", "-o", stmt).exit_code == 0
    assert _invoke("verify", run, stmt).exit_code == 0
    wrong = _invoke("verify", run, stmt, "--valuation", "other")
    assert wrong.exit_code == 2
    values = run / "valuations/nov/values.npy"
    v = np.load(values)
    v[0, 0] += 1.0
    np.save(values, v)
    bad = _invoke("verify", run, stmt)
    assert bad.exit_code == 1 and "valuations/nov/values.npy: changed since the replay" in bad.output


def test_two_monthly_statements_from_two_valuations_carry_the_ledger(tmp_path):
    run = _train(tmp_path, data__generations=None)
    lines = (SAMPLE / "generations.jsonl").read_text().splitlines()
    for name, part in (("2026-11", lines[:4]), ("2026-12", lines[4:])):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(part) + "\n")
        assert _invoke("replay", run, "--generations", tmp_path / f"{name}.jsonl", "--name", name).exit_code == 0
    ledger = tmp_path / "ledger.json"
    docs = {}
    for name in ("2026-11", "2026-12"):
        out = tmp_path / f"{name}.json"
        r = _invoke("payout", run, "--valuation", name, "--revenue", "30.00", "--minimum-payout", "5.00",
                    "--period", name, "--ledger", ledger, "--format", "json", "-o", out)
        assert r.exit_code == 0, r.output
        docs[name] = json.loads(out.read_text())
        assert _invoke("verify", run, out, "--ledger", ledger).exit_code == 0
    book = json.loads(ledger.read_text())
    first, second = book["entries"]
    assert first["carried_out"] and second["carried_in"] == first["carried_out"]
    for name, doc in docs.items():
        assert doc["parameters"]["valuation"] == name
        paid = sum(p["paid_minor"] for p in doc["payees"])
        carried_in = sum(p["carried_in_minor"] for p in doc["payees"])
        carried_out = sum(p["carried_out_minor"] for p in doc["payees"])
        assert doc["revenue_minor"] + carried_in == paid + carried_out  # to the cent, each month
