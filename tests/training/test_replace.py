"""attrib train --overwrite replaces only an attrib run, keeps it until the new one is complete, keeps reports/."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from attribcli.errors import AttribError
from attribcli.files import sha256_file
from attribcli.training import replace
from attribcli.training.loop import KILL_ENV
from tests.runs import ROOT, copy_sample, write_config


def _train(cfg, *args, env=None):
    return subprocess.run([sys.executable, "-m", "attribcli", "train", str(cfg), *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, cwd=ROOT)


def _attrib(*args):
    return subprocess.run([sys.executable, "-m", "attribcli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


def _tree(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_overwrite_refuses_a_folder_that_is_not_a_run_and_deletes_nothing(tmp_path):
    """A run_dir mistyped as the data folder: --overwrite used to delete the corpus and the notes beside it."""
    data = copy_sample(tmp_path / "data")
    (data / "notes.txt").write_text("mine")
    before = _tree(data)
    cfg = write_config(tmp_path, data=data, run_dir=str(data))
    r = _train(cfg, "--overwrite")
    assert r.returncode == 2, r.stderr
    assert str(data) in r.stderr and "not an attrib run" in r.stderr.replace("is not one", "not an attrib run")
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert _tree(data) == before and not (tmp_path / "data.partial").exists()


def test_overwrite_refuses_a_run_holding_a_file_attrib_did_not_write(small_run, tmp_path):
    run = shutil.copytree(small_run, tmp_path / "run")
    (run / "notes.txt").write_text("the auditor's notes")
    before = _tree(run)
    cfg = write_config(tmp_path)
    r = _train(cfg, "--overwrite")
    assert r.returncode == 2 and "notes.txt" in r.stderr and "did not write" in r.stderr, r.stderr
    assert _tree(run) == before


def test_overwrite_refuses_an_unknown_partial_folder(tmp_path):
    cfg = write_config(tmp_path)
    stray = tmp_path / "run.partial"
    stray.mkdir()
    (stray / "thesis.tex").write_text("years of work")
    r = _train(cfg, "--overwrite")
    assert r.returncode == 2 and "run.partial" in r.stderr and "not one" in r.stderr, r.stderr
    assert (stray / "thesis.tex").read_text() == "years of work"


def test_a_killed_overwrite_keeps_the_old_run_and_resume_completes_the_replacement(tmp_path):
    cfg = write_config(tmp_path, training__max_steps=6)
    assert _train(cfg).returncode == 0
    run = tmp_path / "run"
    ledger, statement = run / "reports" / "ledger.json", run / "reports" / "P1.json"
    r = _attrib("payout", run, "--revenue", "20.00", "--minimum-payout", "5.00", "--period", "P1",
                "--ledger", ledger, "--format", "json", "-o", statement)
    assert r.returncode == 0, r.stderr
    old = _tree(run)
    old_manifest = sha256_file(run / "manifest.json")
    # the replacement is another run (another seed) killed after step 3: the old run is untouched
    write_config(tmp_path, training__max_steps=6, seed=8)
    r = _train(cfg, "--overwrite", env={KILL_ENV: "3"})
    assert r.returncode == 137
    assert _tree(run) == old and (tmp_path / "run.partial").is_dir()
    found = _attrib("verify", run).stderr.strip().splitlines()
    assert found and all("input config" in f for f in found), found  # only the config was edited, for the new run
    r = _train(cfg, "--resume")
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "run.partial").exists() and not (tmp_path / "run.replaced").exists()
    assert sha256_file(run / "manifest.json") != old_manifest
    # the books moved with the run: ledger and statement unchanged, the old manifest kept for the record
    assert ledger.read_bytes() == old["reports/ledger.json"] and statement.read_bytes() == old["reports/P1.json"]
    kept = run / "reports" / "replaced-runs" / old_manifest / "manifest.json"
    assert sha256_file(kept) == old_manifest
    r = _attrib("verify", run)
    assert r.returncode == 0, r.stderr + r.stdout
    # the old statement names the old run: verify says so instead of passing it
    r = _attrib("verify", run, statement)
    assert r.returncode == 1 and "another run" in r.stderr
    # and the ledger goes on: the next period carries in what P1 carried out
    r = _attrib("payout", run, "--revenue", "20.00", "--minimum-payout", "5.00", "--period", "P2",
                "--ledger", ledger, "--format", "json", "-o", run / "reports" / "P2.json")
    assert r.returncode == 0, r.stderr
    book = json.loads(ledger.read_text())
    assert [e["period"] for e in book["entries"]] == ["P1", "P2"]
    assert book["entries"][1]["carried_in"] == book["entries"][0]["carried_out"]


def _finished_pair(tmp_path, small_run):
    """A finished run at RUN with reports/, a complete new run at RUN.partial, the journal written."""
    final, part = tmp_path / "run", tmp_path / "run.partial"
    shutil.copytree(small_run, final)
    (final / "reports").mkdir()
    (final / "reports" / "ledger.json").write_text("{}")
    shutil.copytree(small_run, part)
    (part / "steps.csv").write_text((part / "steps.csv").read_text() + "\n")  # tell the two apart
    old_sha = sha256_file(final / "manifest.json")
    (tmp_path / "run.replacing").write_text(json.dumps({"replaces": old_sha}))
    return final, part, _tree(part)


@pytest.mark.parametrize("killed_after", [0, 1, 2, 3, 4])
def test_the_swap_journal_finishes_from_any_step(small_run, tmp_path, monkeypatch, killed_after):
    """A kill between any two steps of the swap: the next command that opens the run finishes it."""
    final, part, new = _finished_pair(tmp_path, small_run)
    old_sha = sha256_file(final / "manifest.json")
    calls = {"n": 0}
    real_replace, real_rmtree = os.replace, shutil.rmtree

    def dying(fn):
        def step(*a, **k):
            if calls["n"] == killed_after:
                raise KeyboardInterrupt("killed")
            calls["n"] += 1
            return fn(*a, **k)
        return step

    monkeypatch.setattr(replace.os, "replace", dying(real_replace))
    monkeypatch.setattr(replace.shutil, "rmtree", dying(real_rmtree))
    try:
        replace.finish(final)
    except KeyboardInterrupt:
        pass
    monkeypatch.undo()
    from attribcli.posttrain.rundir import finished

    finished(final)  # any reader completes the journal
    assert not (tmp_path / "run.replacing").exists()
    assert not part.exists() and not (tmp_path / "run.replaced").exists()
    got = _tree(final)
    assert {k: v for k, v in got.items() if not k.startswith("reports/")} == new
    assert got["reports/ledger.json"] == b"{}"
    assert f"reports/replaced-runs/{old_sha}/manifest.json" in got


def test_require_run_names_the_folder(tmp_path):
    with pytest.raises(AttribError) as exc:
        replace.require_run(tmp_path)
    assert str(tmp_path) in exc.value.line() and "run_dir" in exc.value.line()


def test_a_second_train_of_the_same_run_dir_is_refused_while_one_runs(tmp_path):
    """Two trainings writing one RUN.partial would corrupt it: the run's lock lets one through."""
    from attribcli.files import locked

    cfg = write_config(tmp_path)
    with locked(tmp_path / "run"):  # what a running 'attrib train' holds
        r = _train(cfg)
    assert r.returncode == 2 and "another attrib command is writing it" in r.stderr, r.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()
    assert _train(cfg).returncode == 0


def test_a_replay_of_a_name_being_replayed_is_refused(small_run, tmp_path):
    from attribcli.files import locked

    run = shutil.copytree(small_run, tmp_path / "run")
    args = ["replay", run, "--generations", ROOT / "sample_data/generations.jsonl", "--name", "k"]
    with locked(run / "valuations" / "k"):
        r = _attrib(*args)
    assert r.returncode == 2 and "another attrib command" in r.stderr, r.stderr
    assert not (run / "valuations/k").exists() and not (run / "valuations/k.partial").exists()
