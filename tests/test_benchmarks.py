"""Every benchmark script still runs (tiny sizes): the figures in RESULTS.md stay reproducible.

These check that the scripts work against the current API and print their tables; they assert no
timing (figures are measured by running the scripts as RESULTS.md says, not here)."""

import subprocess
import sys

import pytest

from tests.runs import ROOT, write_config


def _bench(*args, timeout=300):
    r = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("bench"), training__max_steps=2, training__batch_size=4)


def test_throughput_benchmark_runs(tiny_config):
    out = _bench("benchmarks/throughput.py", "--config", tiny_config, "--steps", "1")
    assert "order 1" in out and "order 2" in out
    out = _bench("benchmarks/throughput.py", "--synthetic", "16x32", "--steps", "1", "--batch-size", "2",
                 "--generations", "2")
    assert "16x32" in out


def test_fidelity_benchmarks_run(tiny_config):
    out = _bench("benchmarks/utility_approximation.py", "--config", tiny_config, "--steps", "2", "--lrs", "1e-3")
    assert "Spearman" in out
    out = _bench("benchmarks/adam_fidelity.py", "--config", tiny_config, "--warmup", "1", "--steps", "1",
                 "--batch", "3")
    assert "Pearson" in out
    out = _bench("benchmarks/shapley_ground_truth.py", "--permutations", "2", "--steps", "2")
    assert "Spearman" in out and "pooled" in out
    out = _bench("benchmarks/peers.py", "--steps", "2", "--repeat", "1")
    assert "torch.func" in out


def test_source_recovery_benchmark_runs(tiny_config):
    out = _bench("benchmarks/source_recovery.py", "--config", tiny_config, "--per-holder", "1")
    assert "attrib" in out and "BM25" in out and "TF-IDF" in out
