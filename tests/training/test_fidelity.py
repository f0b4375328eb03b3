"""Per-step fidelity: every run measures, step by step, whether its values add up to what the step did."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.training import fidelity
from tests.runs import write_config


def test_realised_changes_telescope_to_the_runs_reduction():
    rng = np.random.default_rng(0)
    before, final = rng.random((7, 3)), rng.random(3)
    r = fidelity.realised_per_step(before, final)
    np.testing.assert_allclose(r[:-1], before[:-1] - before[1:])
    np.testing.assert_allclose(r.sum(0), before[0] - final)


def test_values_that_describe_the_steps_raise_no_problem():
    realised = np.linspace(1.0, 0.1, 20)[:, None] * np.ones((1, 2))
    s = fidelity.summary(realised * 1.01, realised, np.linspace(1.0, 0.1, 20))
    assert s["per_step_pearson"] == pytest.approx(1.0) and s["problems"] == []
    assert s["sum_gap"] == pytest.approx(0.01)


def test_overshoot_misvalued_steps_and_early_crowding_are_each_named():
    T = 20
    realised = np.full((T, 1), 0.1)
    realised[5:9] = -0.05                         # four steps raised the loss ...
    predicted = np.full((T, 1), 0.3)              # ... and the values say every step lowered it, 3x over
    value_abs = np.r_[np.full(2, 50.0), np.ones(T - 2)]  # the first 10 % of steps hold most of |value|
    s = fidelity.summary(predicted, realised, value_abs)
    assert s["misvalued_steps"] == 4
    text = "; ".join(s["problems"])
    assert "Σ values + carry" in text and "4 of 20 steps raised the loss" in text and "first 2 steps hold" in text
    assert s["worst_steps"][0]["step"] in range(6, 10)


def test_a_step_within_the_tolerance_is_not_misvalued():
    realised = np.array([1.0, -0.01, 1.0])
    assert not fidelity.misvalued(np.array([1.0, 0.01, 1.0]), realised).any()   # below 5 % of the mean |change|
    assert fidelity.misvalued(np.array([1.0, 0.2, 1.0]), realised).tolist() == [False, True, False]


RUNS = ((0.001, "path"), (1.0, "taylor"), (1.0, "path"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """The same small config at a small and at a large learning rate, valued by either rule."""
    out = {}
    for lr, rule in RUNS:
        base = tmp_path_factory.mktemp(f"lr{lr}-{rule}")
        cfg = write_config(base, training={"max_steps": 6, "batch_size": 8, "lr": lr, "checkpoint_every": 100},
                           attribution={"rule": rule})
        r = CliRunner().invoke(main, ["train", str(cfg)])
        assert r.exit_code == 0, r.output
        out[lr, rule] = (base / "run", r.output)
    return out


def test_every_run_records_the_realised_change_beside_the_prediction(runs):
    run, _ = runs[0.001, "path"]
    steps = pd.read_csv(run / "target_steps.csv")
    losses = pd.read_csv(run / "losses.csv")
    last = steps[steps["step"] == steps["step"].max()].set_index("generation")
    final = losses.set_index("generation_id")["loss_final"]
    np.testing.assert_allclose(last["realised_reduction"], last["loss_before"] - final[last.index], atol=1e-12)
    by_gen = steps.groupby("generation", sort=False)["realised_reduction"].sum()
    first = steps[steps["step"] == 1].set_index("generation")["loss_before"]
    np.testing.assert_allclose(by_gen, first[by_gen.index] - final[by_gen.index], atol=1e-9)
    assert {"step_pearson", "steps_misvalued"} <= set(losses.columns)
    assert (pd.read_csv(run / "steps.csv")["value_abs"] > 0).all()


def test_a_small_step_is_faithful_and_a_large_one_is_flagged_in_log_manifest_and_statement(runs, tmp_path):
    """At lr 1 the Taylor values no longer describe the steps and every output says so; the path rule's do."""
    for (lr, rule), flagged in zip(RUNS, (False, True, False)):
        run, output = runs[lr, rule]
        faithful = json.loads((run / "manifest.json").read_text())["fidelity"]
        assert bool(faithful["problems"]) == flagged == ("warning: the values do not describe" in output)
        assert "fidelity: per-step Pearson" in output
        md = tmp_path / f"statement-{lr}-{rule}.md"
        assert CliRunner().invoke(main, ["payout", str(run), "--revenue", "100", "--format", "md",
                                         "-o", str(md)]).exit_code == 0
        text = md.read_text()
        assert "Per-step fidelity" in text and ("**Warning: the values do not describe" in text) == flagged
        assert CliRunner().invoke(main, ["verify", str(run), str(md)]).exit_code == 0
    for key in RUNS[0], RUNS[2]:
        assert json.loads((runs[key][0] / "manifest.json").read_text())["fidelity"]["per_step_pearson"] > 0.99
