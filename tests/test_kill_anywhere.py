"""Kill anywhere: train, replay and payout with a ledger, SIGKILLed at seeded random moments, then resumed or
rerun, end with the bytes of an uninterrupted run, and no kill loses what was written before it.

``KILL_ENV`` kills only after a step; here the kill lands wherever the delay falls (imports, token cache,
checkpoint writes, the final rename, the ledger append). Each delay is drawn from ``random.Random`` seeded by
the case, in [0, d] where d is the uninterrupted command's wall time measured by the module's fixtures, so
the draws follow the command however fast this machine is.

Every comparison is made at identical paths: the reference is built in ``BASE/w`` and moved aside, the killed
case rebuilds ``BASE/w`` from the same config, because config.yaml and manifest.json hold absolute paths
(run_dir, the config's path, the token cache's path, and through config.yaml's hash the manifest).
Nothing else differs between two runs of a config (no timestamp is written anywhere), so nothing is
normalised: every file and folder of the tree must match.

How many: ``ATTRIB_KILL_CASES`` cases per command (default 1: two or three kills each; the module took
2.5-4 minutes on 2 cores shared with other jobs, its commands' idle times add up to about 80 s);
``ATTRIB_KILL_SEED`` shifts the seeds. A kill lands where timing puts it, so a rare window may be hit in one
run and not the next: a failure names its seed and each attempt's delay. A long hunt:
``ATTRIB_KILL_CASES=30 pytest -m kill_anywhere``; ``-m "not kill_anywhere"`` leaves the module out.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.training.loop import KILL_ENV
from tests.runs import ROOT, SAMPLE, write_config

pytestmark = pytest.mark.kill_anywhere

CASES = int(os.environ.get("ATTRIB_KILL_CASES", "1"))
SEED = int(os.environ.get("ATTRIB_KILL_SEED", "0"))
KILLS = 2  # per case and command (payout: one per period)
SEEDS = [SEED + i for i in range(CASES)]
# 8 steps, a checkpoint every 2, a replay segment boundary at step 4: more places to die in
TRAIN = dict(training={"max_steps": 8, "batch_size": 8, "lr": 0.05, "checkpoint_every": 2, "replay_segments": 2})
# what --overwrite replaces the finished run with: another run, so the two cannot be confused
OTHER = dict(training={"max_steps": 4, "batch_size": 8, "lr": 0.02, "checkpoint_every": 2})
PERIODS = ("P1", "P2", "P3")
ENV = {k: v for k, v in os.environ.items() if k != KILL_ENV}


def _cmd(*args) -> list[str]:
    return [sys.executable, "-m", "attribcli", *map(str, args)]


def _timed(*args) -> float:
    """Run a command uninterrupted; its wall time, which the kill delays are drawn under."""
    t0 = time.monotonic()
    r = subprocess.run(_cmd(*args), capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return time.monotonic() - t0


def _tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """Every file and folder under ``root`` (hidden ones included): its SHA-256, or "dir"."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if rel.split("/")[0] in skip:
            continue
        out[rel] = "dir" if p.is_dir() else hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _same(got: dict, want: dict, what: str) -> None:
    """Byte-for-byte equality of two ``_tree``s, with the names that differ in the message."""
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    changed = sorted(k for k in set(got) & set(want) if got[k] != want[k])
    assert not (missing or extra or changed), f"{what}: missing {missing}, extra {extra}, changed {changed}"


def _cli(*args):
    """In-process, for checks only (verify): the killed commands themselves always run as processes."""
    return CliRunner().invoke(main, [str(a) for a in args])


def _kill_then_finish(first: list, again: list, rng: random.Random, duration: float, kills: int,
                      after_kill=lambda: None, attempts: list | None = None) -> list:
    """Start ``first``; SIGKILL it after a random delay; ``kills`` times, each time starting ``again``; then
    let ``again`` run to the end, which must exit 0. A command that ends before its delay ends the case (it
    must have exited 0). ``after_kill`` checks what a kill left. Returns what happened, for the messages."""
    attempts = [] if attempts is None else attempts
    cmd = first
    for i in range(kills + 1):
        delay = rng.uniform(0, duration) if i < kills else None
        proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)  # its own process group: the kill reaches only it
        try:
            _, err = proc.communicate(timeout=delay if delay is not None else 600)
        except subprocess.TimeoutExpired:
            if delay is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise AssertionError(f"{cmd}: did not finish in 600 s") from None
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            attempts.append(f"killed at {delay:.2f} s")
            after_kill()
            cmd = again
            continue
        attempts.append(f"finished (exit {proc.returncode}) before {delay:.2f} s" if delay is not None
                        else f"finished (exit {proc.returncode})")
        assert proc.returncode == 0, f"{cmd} after {attempts}: {err[-3000:]}"
        return attempts
    raise AssertionError("unreachable")


def _fresh(folder: Path, **config) -> Path:
    """``folder`` emptied, with only the test config written in it."""
    shutil.rmtree(folder, ignore_errors=True)
    return write_config(folder, **config)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Uninterrupted runs of both configs, each built in BASE/w and moved to BASE/<name>, and their times."""
    base = tmp_path_factory.mktemp("kill")
    work = base / "w"
    times = {}
    for name, config in (("train", TRAIN), ("other", OTHER)):
        cfg = _fresh(work, **config)
        times[name] = _timed("train", cfg)
        work.rename(base / name)
    return base, times


def _checkpoint_step(part: Path) -> int:
    import torch

    last = part / "checkpoints/last.pt"
    return int(torch.load(last, map_location="cpu", weights_only=True)["step"]) if last.is_file() else 0


@pytest.mark.parametrize("seed", SEEDS)
def test_train_killed_anywhere_resumes_to_the_same_bytes(reference, seed):
    """Killed anywhere, ``--resume`` ends with the uninterrupted run's bytes; a kill never sets it back."""
    base, times = reference
    work, want = base / "w", _tree(base / "train")
    cfg = _fresh(work, **TRAIN)
    rng = random.Random(f"train-{seed}")
    attempts, progress = [], [0]

    def after_kill():
        run, part = work / "run", work / "run.partial"
        if run.exists():  # only ever renamed into place complete
            _same(_tree(run), _tree(base / "train/run"), f"run after {attempts}")
        elif part.exists():  # a later kill may not set the run back behind a checkpoint it had reached
            step = _checkpoint_step(part)
            assert step >= progress[-1], (f"after {attempts}: {part} holds no checkpoint past step {step}, "
                                          f"an earlier kill left step {progress[-1]}: --resume starts over "
                                          f"(files: {sorted(_tree(part))})")
            progress.append(step)

    _kill_then_finish(_cmd("train", cfg), _cmd("train", cfg, "--resume"), rng, times["train"], KILLS, after_kill,
                      attempts)
    _same(_tree(work), want, f"train, seed {seed}, {attempts}, checkpoints seen {progress}")


@pytest.mark.parametrize("seed", SEEDS)
def test_overwrite_killed_anywhere_keeps_the_finished_run_until_the_new_one_is_done(reference, seed):
    """``--overwrite`` over a finished run: until the new run is complete the old one stays, intact; once its
    swap journal is written the new run is complete, and the next command finishes the swap."""
    base, times = reference
    work = base / "w"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(base / "train", work, symlinks=True)
    old = _tree(work / "run")
    cfg = write_config(work, **OTHER)
    rng = random.Random(f"overwrite-{seed}")
    attempts = []

    new = _tree(base / "other/run")

    def after_kill():
        if (work / "run.replacing").exists():  # the swap's journal (replace.py): the new run is complete, and
            # any later command finishes the renames; until they are done it is in run.partial or in run
            where = work / ("run" if (work / "run/manifest.json").is_file()
                            and _tree(work / "run") == new else "run.partial")
            _same(_tree(where), new, f"the complete new run while swapping it in, after {attempts}")
            return
        assert (work / "run").is_dir(), f"after {attempts}: the finished run --overwrite was replacing is gone"
        now = _tree(work / "run")
        if now != old:  # only the complete new run may stand in its place: a swap that ended before this kill
            # (a later --overwrite then replaces it by the same run, beside it in run.partial)
            _same(now, new, f"the new run, swapped in before the kill, after {attempts}")
            return
        _same(now, old, f"the finished run being replaced, after {attempts}")

    cmd = _cmd("train", cfg, "--overwrite")
    # one kill at a known moment first (the loop's own, after the new run's first step), so that a removal
    # of the old run at the start is seen whatever the random delays below hit
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**ENV, KILL_ENV: "1"}, timeout=600)
    assert r.returncode == 137, r.stderr[-3000:]
    attempts.append("killed after step 1")
    after_kill()
    _kill_then_finish(cmd, cmd, rng, times["other"], KILLS, after_kill, attempts)
    r = _cli("verify", work / "run")
    assert r.exit_code == 0, r.output
    _same(_tree(work), _tree(base / "other"), f"overwrite, seed {seed}, {attempts}")


@pytest.fixture(scope="module")
def stable(reference):
    """A run of the training config in BASE/s, for the replay and payout tests: a copy of the reference would
    name BASE/w/config.yaml as its input, which the train tests rebuild and verify would then refuse."""
    base, _ = reference
    _timed("train", write_config(base / "s", **TRAIN))
    return base / "s/run"


@pytest.fixture(scope="module")
def replayed(reference, stable):
    """The stable run, its own files' tree, an uninterrupted replay 'k' of the sample's generations (moved to
    BASE/replay-k) and the replay's time."""
    base, run = reference[0], stable
    before = _tree(run, skip=("valuations",))
    took = _timed("replay", run, "--generations", SAMPLE / "generations.jsonl", "--name", "k")
    (run / "valuations/k").rename(base / "replay-k")
    return run, before, base / "replay-k", took


@pytest.mark.parametrize("seed", SEEDS)
def test_replay_killed_anywhere_resumes_to_the_same_bytes(replayed, seed):
    """Killed anywhere, ``--resume`` ends with the uninterrupted replay's bytes, and the run is untouched."""
    run, before, ref, took = replayed
    shutil.rmtree(run / "valuations", ignore_errors=True)
    rng = random.Random(f"replay-{seed}")
    attempts = []
    want = _tree(ref)

    def after_kill():
        _same(_tree(run, skip=("valuations",)), before, f"the run's own files after {attempts}")
        if (run / "valuations/k").exists():
            _same(_tree(run / "valuations/k"), want, f"valuations/k after {attempts}")

    args = ("replay", run, "--generations", SAMPLE / "generations.jsonl", "--name", "k")
    _kill_then_finish(_cmd(*args), _cmd(*args, "--resume"), rng, took, KILLS, after_kill, attempts)
    _same(_tree(run / "valuations/k"), want, f"replay, seed {seed}, {attempts}")
    # the replay's working folder is gone; its lock file stays by design (files.locked: never removed)
    assert sorted(p.name for p in (run / "valuations").iterdir()) == ["k", "k.lock"], attempts
    _same(_tree(run, skip=("valuations",)), before, f"the run's own files, {attempts}")


def _payout(run: Path, out: Path, period: str) -> list[str]:
    return _cmd("payout", run, "--revenue", "20.00", "--minimum-payout", "5.00", "--period", period,
                "--ledger", out / "ledger.json", "--format", "json", "-o", out / f"{period}.json")


def _entries(ledger: Path) -> list:
    return json.loads(ledger.read_text(encoding="utf-8"))["entries"] if ledger.exists() else []


@pytest.fixture(scope="module")
def paid(reference, stable):
    """The stable run, its tree, the uninterrupted statements and ledger of ``PERIODS`` (written in BASE/out,
    moved to BASE/payout), and the longest payout's time."""
    base, run = reference[0], stable
    out = base / "out"
    before = _tree(run, skip=("valuations",))
    took = max(_timed(*_payout(run, out, period)[3:]) for period in PERIODS)
    out.rename(base / "payout")
    return run, out, before, base / "payout", took


@pytest.mark.parametrize("seed", SEEDS)
def test_payout_with_a_ledger_killed_anywhere_reruns_to_the_same_bytes(paid, seed):
    """Each period killed anywhere and run again: the same statements and ledger as an uninterrupted sequence;
    no kill loses a ledger entry or leaves a half-written statement; every statement verifies."""
    run, out, before, ref, took = paid
    shutil.rmtree(out, ignore_errors=True)
    want = _tree(ref)
    rng = random.Random(f"payout-{seed}")
    attempts = []
    for period in PERIODS:
        had = _entries(out / "ledger.json")

        def after_kill(period=period, had=had):
            now = _entries(out / "ledger.json")  # parses: never half-written
            assert now[:len(had)] == had, f"{period}, after {attempts}: the ledger lost entries written before"
            statement = out / f"{period}.json"
            if statement.exists():
                assert statement.read_bytes() == (ref / statement.name).read_bytes(), (period, attempts)

        cmd = _payout(run, out, period)
        _kill_then_finish(cmd, cmd, rng, took, 1, after_kill, attempts)
        assert len(_entries(out / "ledger.json")) == len(had) + 1, (period, attempts)
    _same(_tree(out), want, f"payout, seed {seed}, {attempts}")
    _same(_tree(run, skip=("valuations",)), before, f"the run, {attempts}")
    for period in PERIODS:
        r = _cli("verify", run, out / f"{period}.json", "--ledger", out / "ledger.json")
        assert r.exit_code == 0, (period, r.output)
