"""The gradient index: written by attrib train, queried by attrib query into an approximate valuation."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.training.index import hat, points
from attribcli.training.loop import KILL_ENV
from tests.runs import ROOT, SAMPLE, write_config

LOSSLESS = {"dim": 1_000_000, "segments": 4}  # more numbers than parameters, one segment per step


def _invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _train(tmp_path, index, **overrides):
    attribution = {"rule": "taylor", **overrides.pop("attribution", {}), "index": index}
    cfg = write_config(tmp_path, attribution=attribution, **overrides)
    r = _invoke("train", cfg)
    assert r.exit_code == 0, r.output
    return tmp_path / "run"


def _query(run, name="q"):
    r = _invoke("query", run, "--generations", SAMPLE / "generations.jsonl", "--name", name)
    assert r.exit_code == 0, r.output
    return run / "valuations" / name


@pytest.mark.parametrize("setting", [
    {},
    dict(training={"max_steps": 4, "batch_size": 8, "lr": 0.003, "optimizer": "adamw", "weight_decay": 0.01,
                   "micro_batch_size": 3, "checkpoint_every": 2}),
    dict(model={"n_layer": 1, "n_head": 2, "n_embd": 32, "context_length": 256,
                "lora": {"rank": 4, "alpha": 8, "targets": []}}),
], ids=["sgd", "adamw-micro-batches", "lora"])
def test_a_lossless_index_with_a_segment_per_step_reproduces_the_exact_first_order_values(tmp_path, setting):
    run = _train(tmp_path, LOSSLESS, **setting)
    info = json.loads((run / "manifest.json").read_text())["index"]
    assert [p["after_steps"] for p in info["points"]] == [0, 1, 2, 3]
    assert info["bytes_per_sample"] == 4 * 4 * info["dim"]
    out = _query(run)
    exact, approx = np.load(run / "values.npy"), np.load(out / "values.npy")
    assert exact.shape == approx.shape
    np.testing.assert_allclose(approx, exact, rtol=0, atol=2e-5 * np.abs(exact).max())  # float32 storage
    man = json.loads((out / "manifest.json").read_text())
    assert man["kind"] == "index-query" and man["approximate"] is True
    assert (out / "losses.csv").read_text().splitlines()[0] == ("generation_id,completion_tokens,loss_reference,"
        "loss_base,loss_final,loss_final_no_prompt,value_sum,carry_sum,realised_reduction,efficiency_gap,relative_gap")
    report = run / "reports/q.md"
    r = _invoke("payout", run, "--valuation", "q", "--revenue", "100", "--format", "md", "-o", report)
    assert r.exit_code == 0, r.output
    assert "**approximate**, from the run's gradient index" in report.read_text()
    assert _invoke("verify", run, report).exit_code == 0


def test_a_query_measures_its_error_on_the_training_time_generations(tmp_path):
    """Queried for 3 of the 8 generations the run was trained with, the index also values the other 5, whose
    exact values the run holds, and the manifest and the statement say how far apart they are (lossless and one
    point per step: not at all); values.npy has the 3 asked for."""
    run = _train(tmp_path, LOSSLESS)
    lines = (SAMPLE / "generations.jsonl").read_text().splitlines()
    (tmp_path / "three.jsonl").write_text("\n".join(lines[:3]) + "\n")
    r = _invoke("query", run, "--generations", tmp_path / "three.jsonl", "--name", "q")
    assert r.exit_code == 0, r.output
    out = run / "valuations/q"
    exact, approx = np.load(run / "values.npy"), np.load(out / "values.npy")
    np.testing.assert_allclose(approx, exact[:, :3], rtol=0, atol=2e-5 * np.abs(exact).max())
    check = json.loads((out / "manifest.json").read_text())["check"]
    assert check["generations"] == 5 and check["spearman_min"] > 0.999
    assert abs(check["value_sum_ratio_median"] - 1) < 1e-3
    report = run / "reports/q.md"
    assert _invoke("payout", run, "--valuation", "q", "--revenue", "100", "--format", "md", "-o", report).exit_code == 0
    assert "measured on the run's 5 training-time generations: Spearman over samples 1.000" in report.read_text()
    assert _invoke("verify", run, report).exit_code == 0


def test_a_projected_index_keeps_the_values_order(tmp_path):
    """About half as many numbers as parameters: every parameter projected or kept whole, one segment per step."""
    run = _train(tmp_path, {"dim": 16384, "segments": 4})
    exact, approx = np.load(run / "values.npy"), np.load(_query(run) / "values.npy")
    assert np.load(run / "index/point-0.npy").shape[0] == exact.shape[0]
    trained = np.abs(exact).sum(1) > 0
    for j in range(exact.shape[1]):
        assert np.corrcoef(exact[trained, j], approx[trained, j])[0, 1] > 0.9, j
    assert np.all(approx[~trained] == 0)


def test_few_points_follow_adamw_through_many_steps(tmp_path):
    """Lossless, 12 AdamW steps at a constant lr, 4 reference points (the segments' middles): the values' sum
    per generation stays within 15 % of the exact one. Their order does not survive here (Pearson -0.55 to
    0.87): the first step, whose preconditioner is from one gradient, takes most of the value and is queried at
    the first middle's (benchmarks/RESULTS.md)."""
    run = _train(tmp_path, {"dim": 1_000_000, "segments": 4},
                 training={"max_steps": 12, "batch_size": 8, "lr": 0.003, "optimizer": "adamw",
                           "checkpoint_every": 5})
    info = json.loads((run / "manifest.json").read_text())["index"]
    assert [p["after_steps"] for p in info["points"]] == [1, 4, 7, 10]
    exact, approx = np.load(run / "values.npy"), np.load(_query(run) / "values.npy")
    np.testing.assert_allclose(approx.sum(0), exact.sum(0), rtol=0.15)


def test_float16_halves_the_index_and_keeps_the_values(tmp_path):
    run32 = _train(tmp_path / "a", {"dim": 4096, "segments": 2})
    run16 = _train(tmp_path / "b", {"dim": 4096, "segments": 2, "dtype": "float16"})
    assert (run16 / "index/point-0.npy").stat().st_size < 0.51 * (run32 / "index/point-0.npy").stat().st_size
    a, b = np.load(_query(run32) / "values.npy"), np.load(_query(run16) / "values.npy")
    np.testing.assert_allclose(b, a, rtol=0, atol=2e-3 * np.abs(a).max())
    assert not np.array_equal(a, b)


def test_a_killed_run_resumes_to_the_same_index_bytes(tmp_path):
    """Points after 2 and 7 steps; killed after 6 (checkpoint at 4): steps 5 and 6's rows, shared between the
    two points, are undone in both tables."""
    index = {"dim": 700, "segments": 2}
    training = {"max_steps": 10, "batch_size": 8, "lr": 0.003, "optimizer": "adamw", "checkpoint_every": 4}
    whole = _train(tmp_path / "whole", index, training=training)
    cfg = write_config(tmp_path / "killed", attribution={"rule": "taylor", "index": index}, training=training)
    r = subprocess.run([sys.executable, "-m", "attribcli", "train", str(cfg)], capture_output=True, text=True,
                       env={**os.environ, KILL_ENV: "6"}, cwd=ROOT, timeout=600)
    assert r.returncode == 137
    assert _invoke("train", cfg, "--resume").exit_code == 0
    killed = tmp_path / "killed/run"
    names = sorted(p.name for p in (whole / "index").iterdir())
    assert names == sorted(p.name for p in (killed / "index").iterdir())
    assert "point-1.npy" in names and not any(n.startswith("acc-") for n in names)
    for name in names:
        assert (whole / "index" / name).read_bytes() == (killed / "index" / name).read_bytes(), name


def test_a_run_trained_without_generations_is_queried(tmp_path):
    cfg = write_config(tmp_path, attribution={"index": {"dim": 1024, "segments": 2}})
    text = cfg.read_text().replace(f"  generations: {SAMPLE / 'generations.jsonl'}\n", "")
    cfg.write_text(text)
    assert _invoke("train", cfg).exit_code == 0
    out = _query(tmp_path / "run")
    assert np.load(out / "values.npy").shape[1] == 8
    r = _invoke("value", tmp_path / "run", "--by", "holder")
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("index, field", [({"dim": 0}, "attribution.index.dim"),
                                          ({"segments": -1}, "attribution.index.segments"),
                                          ({"dtype": "int8"}, "attribution.index.dtype"),
                                          ({"dims": 8}, "attribution.index")])
def test_a_bad_index_config_is_one_line(tmp_path, index, field):
    cfg = write_config(tmp_path, attribution={"index": index})
    r = _invoke("train", cfg)
    assert r.exit_code == 2 and field in r.output and len(r.output.strip().splitlines()) == 1, r.output
    assert not (tmp_path / "run").exists()


def test_a_query_against_a_run_without_an_index_is_one_line(tmp_path):
    cfg = write_config(tmp_path)
    assert _invoke("train", cfg).exit_code == 0
    r = _invoke("query", tmp_path / "run", "--generations", SAMPLE / "generations.jsonl", "--name", "q")
    assert r.exit_code == 2 and "attribution.index" in r.output and len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "run/valuations").exists()
    r = _invoke("query", tmp_path / "nowhere", "--generations", SAMPLE / "generations.jsonl", "--name", "q")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1


@pytest.mark.parametrize("total, k, expected", [(156, 4, [19, 58, 97, 136]), (4, 4, [0, 1, 2, 3]),
                                                (1, 4, [0]), (2, 1, [1]), (10, 3, [1, 5, 8]), (3, 4, [0, 1, 2])])
def test_reference_points_are_the_segments_middles(total, k, expected):
    pts = points(total, k)
    assert pts == expected
    for t in range(total):
        weights = dict(hat(t, pts))
        assert sum(weights.values()) == pytest.approx(1) and all(0 <= w <= 1 for w in weights.values())
        if t in pts:
            assert weights.get(pts.index(t)) == 1
        elif t < pts[0] or t > pts[-1]:  # before the first middle, after the last: that point alone
            assert weights == {0 if t < pts[0] else len(pts) - 1: 1.0}
        else:  # between its two points, nearer one more
            j = max(i for i, q in enumerate(pts) if q <= t)
            assert weights[j + 1] == pytest.approx((t - pts[j]) / (pts[j + 1] - pts[j]))


def test_a_statement_from_an_index_query_of_a_run_with_reference_texts_says_it_has_no_parts(tmp_path):
    from tests.runs import short_reference

    run = _train(tmp_path, LOSSLESS, data__reference=str(short_reference(tmp_path)))
    assert (run / "values_shared.npy").is_file()
    _query(run)
    report = run / "reports/q.md"
    assert _invoke("payout", run, "--valuation", "q", "--revenue", "100", "--format", "md", "-o", report).exit_code == 0
    text = report.read_text()
    assert "values from its index have no specific and shared parts" in text and "## Specific and shared" not in text
    assert _invoke("verify", run, report).exit_code == 0
    own = run / "reports/own.md"  # the run's own values have their parts
    assert _invoke("payout", run, "--revenue", "100", "--format", "md", "-o", own).exit_code == 0
    assert "## Specific and shared" in own.read_text() and "values from its index" not in own.read_text()
