"""The engine on CUDA: same values as on the CPU (float64 brute force), bf16 autocast sane.

Skipped where no CUDA device is present (CI never has one); run on a GPU machine with
``pytest -m cuda``. Results are recorded in benchmarks/RESULTS.md with the device named."""

import copy

import numpy as np
import pytest
import torch

from attribcli.config import TrainingConfig
from attribcli.inrun.optim import attach_names, update_rule
from attribcli.inrun.step import tracked_step
from attribcli.inrun.tracker import GhostTracker
from attribcli.model.gpt import GPT, GPTConfig, sequence_losses
from tests.helpers import batch, brute_dots

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

CFG = GPTConfig(vocab_size=11, context_length=12, n_layer=2, n_head=2, n_embd=16)


def _data(device):
    gen = torch.Generator().manual_seed(0)
    train = batch([torch.randint(0, 11, (n,), generator=gen).tolist() for n in (9, 12, 7, 12)])
    target = batch([torch.randint(0, 11, (n,), generator=gen).tolist() for n in (6, 10, 8)], loss_from=[2, 5, 3])
    return tuple(t.to(device) for t in train), tuple(t.to(device) for t in target)


@pytest.mark.parametrize("optimizer, order", [("sgd", 1), ("sgd", 2), ("adamw", 2)])
def test_cuda_step_equals_cpu_step(optimizer, order):
    t = TrainingConfig(optimizer=optimizer, lr=0.01)
    results = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        model = GPT(CFG).double().to(device)
        rule = update_rule(t)
        opt = rule.make(model.parameters(), t)
        attach_names(opt, model)
        train, target = _data(device)
        results[device] = tracked_step(model, GhostTracker(model), opt, rule, [train], target, order=order,
                                       losses=sequence_losses)
    np.testing.assert_allclose(results["cuda"].first, results["cpu"].first, rtol=1e-8, atol=1e-14)
    if order == 2:
        np.testing.assert_allclose(results["cuda"].second, results["cpu"].second, rtol=1e-8, atol=1e-14)


def test_cuda_ghost_dots_equal_brute_force():
    model = GPT(CFG).double().cuda()
    train, target = _data("cuda")
    want = brute_dots(model, train, target)
    tracker = GhostTracker(model)
    from attribcli.model.gpt import sequence_losses
    with tracker.capture("train"):
        tl = sequence_losses(model(train[0]), train[1], train[2]).mean()
    with tracker.capture("target"):
        vl = sequence_losses(model(target[0]), target[1], target[2])
    (tl + vl.sum()).backward()
    torch.testing.assert_close(tracker.dots(), want, rtol=1e-6, atol=1e-12)


def test_bf16_autocast_values_track_fp32_values():
    t = TrainingConfig(optimizer="sgd", lr=0.05)
    out = {}
    torch.manual_seed(0)
    base = GPT(CFG).cuda()
    for name, amp in (("fp32", None), ("bf16", torch.bfloat16)):
        model = copy.deepcopy(base)
        rule = update_rule(t)
        opt = rule.make(model.parameters(), t)
        attach_names(opt, model)
        train, target = _data("cuda")
        out[name] = tracked_step(model, GhostTracker(model), opt, rule, [train], target, autocast=amp,
                                 losses=sequence_losses).first
    assert np.isfinite(out["bf16"]).all()
    assert np.corrcoef(out["bf16"].ravel(), out["fp32"].ravel())[0, 1] > 0.95


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_two_gpus_with_nccl_equal_one_gpu(tmp_path):
    import os
    import subprocess
    import sys

    from tests.runs import ROOT, write_config

    runs = {}
    for name, extra in (("one", []), ("two", ["--nproc", "2"])):
        cfg = write_config(tmp_path / name, training__max_steps=3, training__device="cuda")
        r = subprocess.run([sys.executable, "-m", "attribcli", "train", str(cfg), *extra], capture_output=True,
                           text=True, cwd=ROOT, env=dict(os.environ), timeout=600)
        assert r.returncode == 0, r.stderr[-3000:]
        runs[name] = np.load(tmp_path / name / "run/values.npy")
    np.testing.assert_allclose(runs["two"], runs["one"], rtol=1e-3, atol=1e-6 * np.abs(runs["one"]).max())
