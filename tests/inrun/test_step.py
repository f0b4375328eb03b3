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


def test_carry_from_the_targets_gradients_equals_the_forward_mode_pass(monkeypatch):
    import attribcli.inrun.path as path_module
    import attribcli.inrun.step as step_module
    from attribcli.inrun.path import path_step

    rule = update_rule(type("T", (), {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 0.01})())

    def run(kind):
        torch.manual_seed(0)
        model = GPT(CFG).double()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
        attach_names(opt, model)
        tracker, out, opened = GhostTracker(model), [], None
        for seed in range(3):
            train, target = _data(seed)
            if kind == "taylor":
                out.append(tracked_step(model, tracker, opt, rule, [train], target, losses=sequence_losses).carry)
            else:
                done, opened = path_step(model, tracker, opt, rule, [train], target, losses=sequence_losses,
                                         opened=opened, close=seed == 2)
                out += [r.carry for r in done]
        return np.stack(out)

    for kind in ("taylor", "path"):
        fast = run(kind)
        monkeypatch.setattr(step_module, "grads_fit", lambda model, M: False)
        monkeypatch.setattr(path_module, "grads_fit", lambda model, M: False)
        slow = run(kind)
        monkeypatch.undo()
        assert np.abs(slow[1:]).max() > 0
        np.testing.assert_allclose(fast, slow, rtol=1e-8, atol=1e-15, err_msg=kind)
