"""attrib plan: the parts of a step's memory, the verdict, and train's refusal of a step that cannot fit."""

import json
import subprocess
import sys

import pytest
import torch

from attribcli.config import load_config
from attribcli.errors import AttribError
from attribcli.training import plan as plan_module
from attribcli.training.plan import make_plan, parse_memory, refuse_if_it_cannot_fit
from attribcli.training.prepare import prepare
from tests.runs import ROOT, write_config


def _attrib(*args):
    return subprocess.run([sys.executable, "-m", "attribcli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_plan_prints_the_parts_and_fits_on_this_machine(tmp_path):
    cfg = write_config(tmp_path, training__optimizer="adamw")
    r = _attrib("plan", cfg)
    assert r.returncode == 0, r.stderr
    for part in ("one sample's forward and backward, measured", "optimizer state", "activations of the other samples",
                 "generations' activations", "weights before the step (path rule)", "peak",
                 "routes of the dot products", "fits"):
        assert part in r.stdout, part
    out = json.loads(_attrib("plan", cfg, "--json").stdout)
    weights = out["trainable"] * 4  # float32
    assert out["fits"] and out["tracked_peak"] > out["plain_peak"] > weights > 0
    assert out["tracked"]["weights before the step (path rule)"] == weights  # one copy of the trained weights
    assert out["plain"]["optimizer state"] == 2 * weights  # AdamW: two moments
    assert set(out["routes"].values()) <= {"streamed", "streamed, rows"}  # a per-element scale: every layer streamed
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()  # nothing trained


def test_plan_for_another_device_counts_the_parts_it_cannot_measure(tmp_path):
    out = json.loads(_attrib("plan", write_config(tmp_path), "--device", "cuda", "--memory", "80GB", "--json").stdout)
    assert out["device"] == "cuda" and out["memory"] == 80 * 2**30 and out["fits"]
    assert out["plain"]["weights"] == (out["trainable"] + out["frozen"]) * 4 and out["plain"]["activations"] > 0


def test_plan_for_a_named_device_that_is_too_small_says_so_and_exits_1(tmp_path):
    cfg = write_config(tmp_path)
    r = _attrib("plan", cfg, "--device", "cpu", "--memory", "64MB")
    assert r.returncode == 1
    assert "does NOT fit" in r.stdout and "0.1 GiB available" in r.stdout


@pytest.mark.parametrize("text", ["lots", "-3GB", "12XB", "nan"])
def test_a_bad_memory_amount_is_one_line(tmp_path, text):
    r = _attrib("plan", write_config(tmp_path), "--memory", text)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--memory" in r.stderr and not r.stdout


def test_memory_amounts_parse_in_binary_units():
    assert parse_memory("80GB") == 80 * 2**30
    assert parse_memory("24 GiB") == 24 * 2**30
    assert parse_memory("512mb") == 512 * 2**20
    with pytest.raises(AttribError):
        parse_memory("0")


def test_sgd_routes_follow_the_shapes_and_the_taylor_rule_keeps_no_weights(tmp_path):
    cfg = write_config(tmp_path, training__optimizer="sgd", attribution={"rule": "taylor", "order": 1})
    plan = make_plan(prepare(load_config(cfg)))
    assert set(plan.routes.values()) <= {"ghost", "materialize", "embedding", "layernorm"}
    assert "weights before the step (path rule)" not in plan.tracked
    assert plan.plain["optimizer state"] == 0  # SGD without momentum keeps none


def test_train_refuses_a_step_that_cannot_fit_and_the_probe_changes_nothing(tmp_path, monkeypatch):
    prep = prepare(load_config(write_config(tmp_path, training__optimizer="adamw")))
    weights = {n: p.detach().clone() for n, p in prep.model.named_parameters()}
    rng = torch.random.get_rng_state()
    assert refuse_if_it_cannot_fit(prep).fits
    assert torch.equal(torch.random.get_rng_state(), rng)  # the run's random state is the one it would have had
    for n, p in prep.model.named_parameters():
        assert torch.equal(p, weights[n]) and p.grad is None
    monkeypatch.setattr(plan_module, "physical_memory", lambda: 64 * 2**20)
    with pytest.raises(AttribError) as err:
        refuse_if_it_cannot_fit(prep)
    assert "a tracked step needs about" in err.value.line() and "attrib plan" in err.value.line()


@pytest.mark.parametrize("heaviest, field", [("activations of the other samples", "training.micro_batch_size"),
                                             ("activations", "training.micro_batch_size"),
                                             ("generations' activations", "attribution.target_chunk"),
                                             ("optimizer state", "model.lora")])
def test_the_refusal_names_the_setting_of_the_heaviest_part(tmp_path, monkeypatch, heaviest, field):
    prep = prepare(load_config(write_config(tmp_path)))
    plan = plan_module.Plan("cpu", 1, 1, 0, plain={heaviest: 10, "other": 1})
    monkeypatch.setattr(plan_module, "make_plan", lambda prep, **options: plan)
    with pytest.raises(AttribError) as err:
        refuse_if_it_cannot_fit(prep)
    assert err.value.field == field


def test_the_plan_names_the_largest_target_chunk_that_fits(tmp_path):
    """The generations' part of the peak grows with the chunk: a machine too small for all of them at once is
    told which ``attribution.target_chunk`` fits (each process measures its own probe, so the memory is set on
    one plan)."""
    cfg = write_config(tmp_path, training__optimizer="adamw")
    full = json.loads(_attrib("plan", cfg, "--json").stdout)
    assert full["bytes_per_generation"] > 0 and full["target_chunk"] == 8
    assert full["fitting_target_chunk"] == 8  # the sample: all 8 in one pass fit here
    plan = make_plan(prepare(load_config(cfg)), timed=False)
    plan.loading = 0  # this process's peak so far: set by whichever tests ran before in it, not by this config
    each = plan.per_generation
    plan.memory = plan.tracked_peak - 8 * each + 3 * each + each // 2  # room for 3 generations at a time, not 4
    assert not plan.fits and plan.fitting_chunk == 3
    text = plan_module.render(plan)
    assert "does NOT fit" in text and "attribution.target_chunk: 3 is predicted to fit" in text and "3 passes" in text


def test_the_refusal_gives_the_chunk_that_fits(tmp_path, monkeypatch):
    prep = prepare(load_config(write_config(tmp_path)))
    plan = plan_module.Plan("cpu", 100, 1, 0, plain={"weights": 20}, tracked={"generations' activations": 80},
                            generations=8, chunk=8, per_generation=10)
    assert plan.fitting_chunk == 8 and plan.fits
    plan.memory = 55
    assert plan.fitting_chunk == 3 and plan.peak_with_chunk(3) == 50 and not plan.fits
    monkeypatch.setattr(plan_module, "make_plan", lambda prep, **options: plan)
    with pytest.raises(AttribError) as err:
        refuse_if_it_cannot_fit(prep)
    assert err.value.field == "attribution.target_chunk" and "target_chunk: 3" in err.value.line()
    plan.memory = 25  # not even one generation at a time
    assert plan.fitting_chunk is None


def test_kept_per_sample_gradients_are_counted_for_the_whole_step_with_micro_batches(tmp_path):
    """share_grads runs once a step, after every micro-batch, and keeps all of their per-sample gradients."""
    from attribcli.inrun.tracker import SHARED_MAX_ELEMENTS, GhostTracker

    cfg = write_config(tmp_path, training__optimizer="adamw", training__micro_batch_size=2)
    prep = prepare(load_config(cfg))
    plan = make_plan(prep, timed=False)
    tracker = GhostTracker(prep.model)
    try:
        shareable = tracker.shareable_size()
    finally:
        tracker.close()
    N = prep.config.training.batch_size
    assert N > 2
    assert plan.tracked["kept per-sample gradients"] == 2 * min(SHARED_MAX_ELEMENTS, N * shareable) * 4  # path: 2 steps


def test_reference_texts_are_sized_as_targets(tmp_path):
    from attribcli.training.plan import render
    from tests.runs import short_reference

    without = make_plan(prepare(load_config(write_config(tmp_path / "a"))))
    cfg = write_config(tmp_path / "b", data__reference=str(short_reference(tmp_path)))
    plan = make_plan(prepare(load_config(cfg)))
    assert (plan.generations, plan.reference) == (20, 12) and without.generations == 8
    assert plan.tracked_peak > without.tracked_peak
    assert "(8 generations and 12 reference texts)" in render(plan)
