"""Optimizer rules, accumulation and target chunks against brute force (tiny GPT, float64)."""

import copy

import numpy as np
import pytest
import torch

from attribcli.config import TrainingConfig
from attribcli.inrun.optim import attach_names, update_rule
from attribcli.inrun.step import tracked_step
from attribcli.inrun.tracker import GhostTracker
from attribcli.model.gpt import GPT, GPTConfig, sequence_losses
from tests.helpers import batch, flat_grad, tiny_tracked_gpt

CFG = GPTConfig(vocab_size=9, context_length=10, n_layer=1, n_head=2, n_embd=8)


def _data(seed):
    gen = torch.Generator().manual_seed(seed)
    train = [batch([torch.randint(0, 9, (n,), generator=gen).tolist() for n in (8, 10, 6, 9)]) for _ in range(3)]
    target = batch([torch.randint(0, 9, (n,), generator=gen).tolist() for n in (7, 10, 5)], loss_from=[2, 4, 1])
    return train, target


def _setup(t: TrainingConfig, seed=0):
    return tiny_tracked_gpt(CFG, t, seed)


def _brute_first(model, opt, t, rule, train, target):
    """Per-sample gradients and target gradients by loop; K from torch's own optimizer state after a
    real step on a copy; returns (phi1 [N, M], K-weighted sum of sample gradients, actual update)."""
    x, y, m = train
    N = x.shape[0]
    g = torch.stack([flat_grad(model, sequence_losses(model(x[i:i + 1]), y[i:i + 1], m[i:i + 1]).sum() / N)
                     for i in range(N)])
    vx, vy, vm = target
    G = torch.stack([flat_grad(model, sequence_losses(model(vx[j:j + 1]), vy[j:j + 1], vm[j:j + 1]).sum())
                     for j in range(vx.shape[0])])
    ref, ref_opt = copy.deepcopy((model, opt))  # one deepcopy: the copied optimizer steps the copied model
    ref_opt.zero_grad()
    sequence_losses(ref(x), y, m).mean().backward()
    w0 = torch.cat([p.detach().flatten() for p in ref.parameters()])
    ref_opt.step()
    update = w0 - torch.cat([p.detach().flatten() for p in ref.parameters()])
    if rule.name == "adamw":  # K from the state torch itself wrote in the real step, and torch's step checked
        group = ref_opt.param_groups[0]
        b1, b2 = group["betas"]
        parts = []
        for p_before, p in zip(model.parameters(), ref.parameters()):
            st = ref_opt.state[p]
            step = float(st["step"])
            denom = st["exp_avg_sq"].sqrt() / (1 - b2 ** step) ** 0.5 + group["eps"]
            k = group["lr"] * (1 - b1) / (1 - b1 ** step) / denom
            m_prev = opt.state[p_before]["exp_avg"] if p_before in opt.state else torch.zeros_like(p)
            carry = (group["lr"] * b1 * m_prev / (1 - b1 ** step) / denom
                     + group["lr"] * group["weight_decay"] * p_before)
            torch.testing.assert_close(p_before.detach() - p.detach(), (k * p.grad + carry).detach(), rtol=1e-9,
                                       atol=1e-14)  # the update is the batch's share plus the carry
            parts.append(k.flatten())
        K = torch.cat(parts)
    else:
        K = torch.full_like(w0, ref_opt.param_groups[0]["lr"])
    return (g * K) @ G.T, (g * K).sum(0), update, G


@pytest.mark.parametrize("t", [
    TrainingConfig(optimizer="adamw", lr=0.01, weight_decay=0.1),
    TrainingConfig(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=0.01),
    TrainingConfig(optimizer="sgd", lr=0.1),
], ids=["adamw", "sgd-momentum-wd", "sgd"])
def test_first_order_values_and_carry_match_brute_force_over_steps(t):
    model, rule, opt, tracker = _setup(t)
    train, target = _data(1)
    for b in train:  # three steps: momentum and Adam state become non-trivial
        want, summed, update, G = _brute_first(model, opt, t, rule, b, target)
        r = tracked_step(model, tracker, opt, rule, [b], target, losses=sequence_losses)
        np.testing.assert_allclose(r.first, want.numpy(), rtol=1e-6, atol=1e-12)
        carry = update - summed  # what the step applied beyond the batch's own shares
        if not rule.has_carry:
            assert np.all(r.carry == 0)
            torch.testing.assert_close(update, summed, rtol=1e-9, atol=1e-14)
        else:
            np.testing.assert_allclose(r.carry, (G @ carry).numpy(), rtol=1e-6, atol=1e-12)


def test_micro_batches_and_target_chunks_do_not_change_values():
    t = TrainingConfig(optimizer="adamw", lr=0.01)
    (b, *_), target = _data(2)
    results = []
    for micro, chunk in ((None, None), (2, None), (None, 1), (3, 2)):
        model, rule, opt, tracker = _setup(t, seed=3)
        parts = [b] if micro is None else [tuple(x[k:k + micro] for x in b) for k in range(0, b[0].shape[0], micro)]
        results.append((tracked_step(model, tracker, opt, rule, parts, target, order=2, target_chunk=chunk,
                                     losses=sequence_losses),
                        torch.cat([p.detach().flatten() for p in model.parameters()])))
    (ref, w_ref), *others = results
    for r, w in others:
        np.testing.assert_allclose(r.first, ref.first, rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(r.second, ref.second, rtol=1e-9, atol=1e-14)
        np.testing.assert_allclose(r.target_losses, ref.target_losses, rtol=1e-12)
        torch.testing.assert_close(w, w_ref, rtol=1e-9, atol=1e-14)  # the same optimizer step


def test_second_order_step_sums_to_quadratic_expansion():
    """Σ_z (phi1 + phi2) + carry terms = <Δ, G> - 1/2 Δᵀ H Δ + 1/2 cᵀ H c for the actual update Δ."""
    t = TrainingConfig(optimizer="sgd", lr=0.2, momentum=0.5)
    model, rule, opt, tracker = _setup(t, seed=4)
    train, target = _data(4)
    tracked_step(model, tracker, opt, rule, [train[0]], target, losses=sequence_losses)  # builds momentum
    w = {n: p.detach().clone() for n, p in model.named_parameters()}
    r = tracked_step(model, tracker, opt, rule, [train[1]], target, order=2, losses=sequence_losses)
    delta = {n: w[n] - p.detach() for n, p in model.named_parameters()}
    summed = {n: 0.2 * g for n, g in zip(w, _grads(model, w, train[1]))}
    carry = {n: delta[n] - summed[n] for n in w}
    vx, vy, vm = target
    for j in range(3):
        Gd, Hdd = _quadratic(model, w, (vx[j:j + 1], vy[j:j + 1], vm[j:j + 1]), delta)
        Gc, Hcc = _quadratic(model, w, (vx[j:j + 1], vy[j:j + 1], vm[j:j + 1]), carry)
        want = (Gd - 0.5 * Hdd) - (Gc - 0.5 * Hcc)  # the batch's part of the step's quadratic utility
        got = r.first[:, j].sum() + r.second[:, j].sum()
        assert got == pytest.approx(float(want), rel=1e-6, abs=1e-12)
        assert r.carry[j] == pytest.approx(float(Gc), rel=1e-6, abs=1e-12)


def _grads(model, w, b):
    from torch.func import functional_call
    params = {n: v.clone().requires_grad_(True) for n, v in w.items()}
    x, y, m = b
    loss = sequence_losses(functional_call(model, params, (x,)), y, m).mean()
    return torch.autograd.grad(loss, list(params.values()))


def _quadratic(model, w, tgt, d):
    """(<∇l, d>, dᵀ H d) at w by double backward."""
    from torch.func import functional_call
    params = {n: v.clone().requires_grad_(True) for n, v in w.items()}
    x, y, m = tgt
    loss = sequence_losses(functional_call(model, params, (x,)), y, m).sum()
    g = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    gd = sum((gi * d[n]).sum() for gi, n in zip(g, params))
    hd = torch.autograd.grad(gd, list(params.values()))
    return gd.detach(), sum((hi * d[n]).sum() for hi, n in zip(hd, params)).detach()


def test_bf16_autocast_on_cpu_gives_values_close_to_fp32():
    """training.precision: bf16: forward passes under autocast, captures upcast, values in float64."""
    t = TrainingConfig(optimizer="sgd", lr=0.05)
    (b, *_), target = _data(5)
    out = {}
    for name, amp in (("fp32", None), ("bf16", torch.bfloat16)):
        torch.manual_seed(9)
        model = GPT(CFG)
        rule = update_rule(t)
        opt = rule.make(model.parameters(), t)
        attach_names(opt, model)
        out[name] = tracked_step(model, GhostTracker(model), opt, rule, [b], target, autocast=amp,
                                 losses=sequence_losses).first
    assert out["bf16"].dtype == np.float64 and np.isfinite(out["bf16"]).all()
    assert np.corrcoef(out["bf16"].ravel(), out["fp32"].ravel())[0, 1] > 0.95


@pytest.mark.parametrize("chunk", [None, 1])
def test_routes_are_reported_with_and_without_target_chunks(chunk):
    t = TrainingConfig(optimizer="sgd", lr=0.1)
    model, rule, opt, tracker = _setup(t)
    (b, *_), target = _data(7)
    r = tracked_step(model, tracker, opt, rule, [b], target, target_chunk=chunk, want_routes=True,
                     losses=sequence_losses)
    assert r.routes and set(r.routes) == {name for name, _ in tracker.layers}
