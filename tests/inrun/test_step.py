"""tracked_step and plain_step: the dense layers' batch gradient formed from the per-sample ones.

The step freezes Linear weights during the training forward and sums the per-sample gradients it keeps
for the dot products into ``.grad``: the values must still equal brute force, the update plain
autograd's up to rounding, and a plain step (a run valued later, by replay) the tracked one bit for bit."""

import copy

import numpy as np
import torch

from attribcli.inrun.optim import attach_names, update_rule
from attribcli.inrun.step import plain_step, tracked_step
from attribcli.inrun.tracker import GhostTracker
from attribcli.model.gpt import GPT, GPTConfig, sequence_losses
from tests.helpers import batch, brute_dots

CFG = GPTConfig(vocab_size=11, context_length=12, n_layer=2, n_head=2, n_embd=8)
SGD = update_rule(type("T", (), {"optimizer": "sgd", "momentum": 0.0, "weight_decay": 0.0})())


def _data(seed):
    gen = torch.Generator().manual_seed(seed)
    train = batch([torch.randint(0, 11, (n,), generator=gen).tolist() for n in (9, 12, 7, 12)])
    target = batch([torch.randint(0, 11, (n,), generator=gen).tolist() for n in (6, 10, 8)], loss_from=[2, 5, 3])
    return train, target


def _sgd(model, lr=0.1):
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    attach_names(opt, model)
    return opt


def _micro(train, k):
    return [tuple(t[i:i + k] for t in train) for i in range(0, train[0].shape[0], k)]


def test_values_with_shared_gradients_equal_brute_force():
    model = GPT(CFG).double()
    train, target = _data(1)
    want = brute_dots(model, train, target).numpy() * 0.1
    r = tracked_step(model, GhostTracker(model), _sgd(model), SGD, [train], target, losses=sequence_losses)
    np.testing.assert_allclose(r.first, want, rtol=1e-6, atol=1e-12)


def test_tracked_update_is_autograds_up_to_rounding():
    base = GPT(CFG)
    plain, tracked = copy.deepcopy(base), copy.deepcopy(base)
    opt_p, opt_t = _sgd(plain), _sgd(tracked)
    tracker = GhostTracker(tracked)
    for seed in range(3):
        train, target = _data(seed)
        opt_p.zero_grad()
        sequence_losses(plain(train[0]), train[1], train[2]).mean().backward()
        grads = {n: p.grad.clone() for n, p in plain.named_parameters()}
        opt_p.step()
        tracked_step(tracked, tracker, opt_t, SGD, [train], target, losses=sequence_losses)
        for n, p in tracked.named_parameters():
            torch.testing.assert_close(p, dict(plain.named_parameters())[n], rtol=1e-5, atol=1e-7, msg=n)
        assert all(g.abs().sum() > 0 for g in grads.values())


def test_plain_step_reaches_the_tracked_steps_weights_bit_for_bit():
    # what replay relies on: a run trained without generations and its replay take the same steps
    for micro in (None, 2):
        base = GPT(CFG)
        a, b = copy.deepcopy(base), copy.deepcopy(base)
        opt_a, opt_b = _sgd(a), _sgd(b)
        ta, tb = GhostTracker(a), GhostTracker(b)
        for seed in range(3):
            train, target = _data(seed)
            mbs = _micro(train, micro) if micro else [train]
            tracked_step(a, ta, opt_a, SGD, mbs, target, losses=sequence_losses)
            plain_step(b, tb, opt_b, mbs, losses=sequence_losses)
        for (n, p), (_, q) in zip(a.named_parameters(), b.named_parameters()):
            assert torch.equal(p, q), (micro, n)


def test_micro_batches_accumulate_the_shared_gradient():
    base = GPT(CFG).double()
    one, split = copy.deepcopy(base), copy.deepcopy(base)
    train, target = _data(4)
    r1 = tracked_step(one, GhostTracker(one), _sgd(one), SGD, [train], target, losses=sequence_losses)
    r2 = tracked_step(split, GhostTracker(split), _sgd(split), SGD, _micro(train, 2), target, losses=sequence_losses)
    np.testing.assert_allclose(r2.first, r1.first, rtol=1e-9, atol=1e-14)
    for (n, p), (_, q) in zip(one.named_parameters(), split.named_parameters()):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-14, msg=n)


def test_per_sample_gradients_are_formed_once_per_dense_layer(monkeypatch):
    from attribcli.inrun.rules import LinearRule

    calls = []
    original = LinearRule.per_sample_weight_grads
    monkeypatch.setattr(LinearRule, "per_sample_weight_grads",
                        staticmethod(lambda a, b: calls.append(1) or original(a, b)))
    model = GPT(CFG)
    train, target = _data(5)
    tracked_step(model, GhostTracker(model), _sgd(model), SGD, [train], target, losses=sequence_losses)
    dense = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert len(calls) == dense  # for the batch gradient, then reused by the dot products


def test_layers_beyond_the_kept_budget_still_value_and_step_right(monkeypatch):
    import attribcli.inrun.tracker as tracker_module

    monkeypatch.setattr(tracker_module, "SHARED_MAX_ELEMENTS", 4 * 8 * 8 * 3)  # the first qkv only
    test_values_with_shared_gradients_equal_brute_force()
    test_tracked_update_is_autograds_up_to_rounding()
    test_plain_step_reaches_the_tracked_steps_weights_bit_for_bit()


def test_carry_from_the_stream_equals_the_forward_mode_pass_along_the_realised_carry():
    """The carry is dotted with the targets' gradients layer by layer, from the optimizer's state before the step
    (optim.Carry); a forward-mode pass along the carry the step realised (its update less K ⊙ g) agrees."""
    from attribcli.inrun.tracker import loss_jvp

    for kind in ("sgd", "adamw"):
        t = type("T", (), {"optimizer": kind, "momentum": 0.9, "weight_decay": 0.01, "lr": 0.05, "beta1": 0.9,
                           "beta2": 0.99, "eps": 1e-8})()
        rule = update_rule(t)
        torch.manual_seed(0)
        model = GPT(CFG).double()
        opt = rule.make(model.parameters(), t)
        attach_names(opt, model)
        tracker = GhostTracker(model)
        for seed in range(3):
            train, target = _data(seed)
            before = {n: p.detach().clone() for n, p in model.named_parameters()}
            r = tracked_step(model, tracker, opt, rule, [train], target, losses=sequence_losses)
            ref = copy.deepcopy(model)  # the batch gradient at the weights before the step
            for p, w in zip(ref.parameters(), before.values()):
                p.data.copy_(w)
            ref.zero_grad()
            sequence_losses(ref(train[0]), train[1], train[2]).mean().backward()
            grads = {n: p.grad for n, p in ref.named_parameters()}
            after = {n: p.detach() for n, p in model.named_parameters()}
            carry = {n: before[n] - after[n] - _k(opt, model, kind, t, n, seed) * grads[n] for n in before}
            want = loss_jvp(model, lambda fwd, x, y, m: sequence_losses(fwd(x), y, m), target, carry, before)
            if seed:
                assert np.abs(r.carry).max() > 0
            np.testing.assert_allclose(r.carry, want.numpy(), rtol=1e-7, atol=1e-13, err_msg=kind)


def _k(opt, model, kind, t, name, seed):
    """K of step ``seed + 1`` for parameter ``name`` (optim.py's formula, from the state after that step)."""
    if kind == "sgd":
        return t.lr
    p = dict(model.named_parameters())[name]
    step = seed + 1
    v_hat = opt.state[p]["exp_avg_sq"] / (1 - t.beta2 ** step)
    return t.lr * (1 - t.beta1) / (1 - t.beta1 ** step) / (v_hat.sqrt() + t.eps)
