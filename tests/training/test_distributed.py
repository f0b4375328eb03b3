"""Data-parallel training (torchrun, DDP on gloo, 2 CPU processes) equals the single-process run.

Each test launches real processes through ``attrib train --nproc 2`` (torchrun --standalone)."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from attribcli.posttrain.rundir import CHECKPOINT
from attribcli.training.distributed import Group
from attribcli.training.loop import KILL_ENV
from tests.runs import ROOT, write_config

pytestmark = pytest.mark.skipif(not __import__("torch").distributed.is_available(), reason="no torch.distributed")


def _train(cfg, *args, env=None):
    return subprocess.run([sys.executable, "-m", "attribcli", "train", str(cfg), *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, cwd=ROOT, timeout=600)


def _values(run):
    return {f: np.load(run / f) for f in ("values.npy", "values_order1.npy", "values_order2.npy")
            if (run / f).is_file()}


@pytest.mark.parametrize("setting", [
    # plain SGD, 3 steps
    dict(training__max_steps=3),
    # a whole epoch: 401 samples in batches of 16 end with a 1-sample batch, so one process has an
    # empty shard (the placeholder path); order 2; momentum and weight decay (the carry); micro-batches
    # of 4 (DDP's no_sync until the last one)
    dict(training={"epochs": 1, "batch_size": 16, "micro_batch_size": 4, "lr": 0.05, "momentum": 0.9,
                   "weight_decay": 0.01, "checkpoint_every": 10},
         attribution={"rule": "taylor", "order": 2}),
    # the path rule, every step refined (the nodes' passes and the residual's all-reduce on every process)
    dict(training={"epochs": 1, "batch_size": 16, "micro_batch_size": 4, "lr": 0.05, "momentum": 0.9,
                   "checkpoint_every": 10},
         attribution={"rule": "path", "path_tolerance": 1e-9, "path_max_nodes": 3}),
], ids=["sgd", "epoch-order2-momentum-microbatches", "epoch-path-momentum-microbatches"])
def test_two_processes_equal_one_process(tmp_path, setting):
    one, two = write_config(tmp_path / "one", **setting), write_config(tmp_path / "two", **setting)
    r1 = _train(one)
    assert r1.returncode == 0, r1.stderr
    r2 = _train(two, "--nproc", "2")
    assert r2.returncode == 0, r2.stderr[:3000] + r2.stderr[-3000:]
    assert "x 2 processes" in r2.stderr and r2.stderr.count("run written to") == 1
    a, b = _values(tmp_path / "one/run"), _values(tmp_path / "two/run")
    assert a.keys() == b.keys() and a["values.npy"].shape == b["values.npy"].shape
    for name in a:
        # the same samples in the same global batches: equal up to summing the gradient in two parts
        # (float32 rounding: 1e-7 of the table's largest value; order 2 has small, cancelling entries)
        np.testing.assert_allclose(b[name], a[name], rtol=1e-4, atol=1e-7 * np.abs(a[name]).max(), err_msg=name)
    assert np.abs(a["values.npy"]).max() > 0
    for f in ("samples.csv", "inputs/documents.jsonl"):
        assert (tmp_path / "one/run" / f).read_bytes() == (tmp_path / "two/run" / f).read_bytes(), f
    l1, l2 = pd.read_csv(tmp_path / "one/run/losses.csv"), pd.read_csv(tmp_path / "two/run/losses.csv")
    np.testing.assert_allclose(l2["loss_final"], l1["loss_final"], rtol=1e-5)


def test_adamw_values_of_two_processes_stay_within_the_stated_rounding(tmp_path):
    """AdamW divides each step by √v̂, so the rounding of summing the gradient in two parts (the all-reduce) moves
    the trajectory more than under SGD: the README states the measured figure (the sample: holder values 3.1e-3
    apart) instead of equality. This holds the small run to it."""
    setting = dict(training={"max_steps": 6, "batch_size": 8, "lr": 1e-3, "optimizer": "adamw", "warmup_steps": 2,
                             "checkpoint_every": 10})
    one, two = write_config(tmp_path / "one", **setting), write_config(tmp_path / "two", **setting)
    assert _train(one).returncode == 0
    r2 = _train(two, "--nproc", "2")
    assert r2.returncode == 0, r2.stderr[-3000:]
    a, b = np.load(tmp_path / "one/run/values.npy"), np.load(tmp_path / "two/run/values.npy")
    gap = np.linalg.norm(b - a) / np.linalg.norm(a)
    assert 0 < gap < 3e-3, gap  # not equal (the README does not promise it); 3.0e-4 measured, 6 steps


def test_killed_distributed_run_resumes_to_identical_values(tmp_path):
    whole = write_config(tmp_path / "whole", training__max_steps=5, training__checkpoint_every=2)
    killed = write_config(tmp_path / "killed", training__max_steps=5, training__checkpoint_every=2)
    r = _train(whole, "--nproc", "2")
    assert r.returncode == 0, r.stderr[-3000:]
    r = _train(killed, "--nproc", "2", env={KILL_ENV: "3"})  # every process dies after step 3
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "a process failed" in last and "--resume --nproc 2" in last
    partial = tmp_path / "killed/run.partial"
    assert (partial / CHECKPOINT).is_file() and not (tmp_path / "killed/run").exists()
    r = _train(killed, "--nproc", "2", "--resume")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming" in r.stderr
    for f in ("values.npy", "losses.csv", "steps.csv", "target_steps.csv", "model.pt"):
        assert (tmp_path / "whole/run" / f).read_bytes() == (tmp_path / "killed/run" / f).read_bytes(), f


def test_bad_input_is_reported_before_any_process_starts(tmp_path):
    cfg = write_config(tmp_path, training__lr=-1.0)
    r = _train(cfg, "--nproc", "2")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "training.lr" in r.stderr and "torch.distributed" not in r.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_batch_smaller_than_the_processes_is_refused(tmp_path):
    cfg = write_config(tmp_path, training__batch_size=1)
    r = _train(cfg, "--nproc", "2")
    assert r.returncode == 2, r.stderr[-2000:]
    assert "training.batch_size" in r.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_shards_are_contiguous_and_cover_the_batch():
    idx = np.arange(7)
    parts = [Group(rank=r, world=3).shard(idx) for r in range(3)]
    assert np.array_equal(np.concatenate(parts), idx) and [len(p) for p in parts] == [3, 2, 2]
    assert Group().shard(idx) is idx
