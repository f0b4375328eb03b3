"""The path rule against brute force: a float64 quadrature of per-sample gradients along each step
(the trapezoid on two nodes, composite Simpson on more)."""

import copy

import numpy as np
import pytest
import torch
from torch.func import functional_call

from attribcli.config import TrainingConfig
from attribcli.inrun.optim import attach_names
from attribcli.inrun.path import PathSettings, path_step
from attribcli.model.gpt import GPTConfig, sequence_losses
from tests.helpers import batch, flat_grad, tiny_tracked_gpt

CFG = GPTConfig(vocab_size=9, context_length=10, n_layer=1, n_head=2, n_embd=8)
NO_REFINING = PathSettings(tolerance=1e9, max_nodes=9)
ALWAYS_REFINING = PathSettings(tolerance=1e-12, max_nodes=9)
REGIMES = [
    TrainingConfig(optimizer="sgd", lr=1.0),
    TrainingConfig(optimizer="sgd", lr=0.5, momentum=0.9, weight_decay=0.05),
    TrainingConfig(optimizer="adamw", lr=0.05, weight_decay=0.1),
]
IDS = ["sgd", "sgd-momentum-wd", "adamw"]


def _data(seed):
    gen = torch.Generator().manual_seed(seed)
    train = [batch([torch.randint(0, 9, (n,), generator=gen).tolist() for n in (8, 10, 6, 9)]) for _ in range(3)]
    target = batch([torch.randint(0, 9, (n,), generator=gen).tolist() for n in (7, 10, 5)], loss_from=[2, 4, 1])
    return train, target


def _flat(model) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _target_grads(model, w: torch.Tensor, target) -> torch.Tensor:
    """``[M, P]`` each target's gradient at the flat weights ``w``."""
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for p in model.parameters()]
    parts = torch.split(w, [s.numel() for s in shapes])
    params = {n: p.view(s).clone().requires_grad_(True) for n, p, s in zip(names, parts, shapes)}
    vx, vy, vm = target
    rows = []
    for j in range(vx.shape[0]):
        loss = sequence_losses(functional_call(model, params, (vx[j:j + 1],)), vy[j:j + 1], vm[j:j + 1]).sum()
        rows.append(torch.cat([g.flatten() for g in torch.autograd.grad(loss, list(params.values()))]))
    return torch.stack(rows)


def _brute_step(model, opt, rule, train, target):
    """Before the step: (w_t, [N, P] each sample's share u_z = K ⊙ ∇(l_z / N)), K from the rule's own scale of
    the batch gradient (test_optim.py checks that scale against torch's real step)."""
    x, y, m = train
    N = x.shape[0]
    g = torch.stack([flat_grad(model, sequence_losses(model(x[i:i + 1]), y[i:i + 1], m[i:i + 1]).sum() / N)
                     for i in range(N)])
    ref, ref_opt = copy.deepcopy((model, opt))
    attach_names(ref_opt, ref)
    ref_opt.zero_grad()
    sequence_losses(ref(x), y, m).mean().backward()
    K = rule.scale(ref_opt)
    k = torch.cat([(K[n] * torch.ones_like(p)).flatten() for n, p in ref.named_parameters()])
    return _flat(model), g * k


def _quadrature(model, w0, w1, shares, target, nodes: int):
    """Composite trapezoid over ``w(α) = w0 − α (w0 − w1)``: ([N, M] shares' values, [M] carry's, [M] realised)."""
    delta = w0 - w1
    carry = delta - shares.sum(0)
    if nodes == 1:  # the start point alone: first order
        alphas, weights = [0.0], np.array([1.0])
    elif nodes == 2:  # the trapezoid
        alphas, weights = [0.0, 1.0], np.array([0.5, 0.5])
    else:  # composite Simpson: h/3 (1, 4, 2, 4, ..., 2, 4, 1)
        alphas = np.linspace(0, 1, nodes)
        weights = np.array([1.0] + [4.0 if k % 2 else 2.0 for k in range(1, nodes - 1)] + [1.0]) / (3 * (nodes - 1))
    values, carry_value = 0, 0
    for a, wt in zip(alphas, weights):
        G = _target_grads(model, w0 - a * delta, target)
        values = values + wt * (shares @ G.T)
        carry_value = carry_value + wt * (G @ carry)
    return values.detach().numpy(), carry_value.detach().numpy()


def _run(t, settings, *, close_every=False, micro=None, chunk=None, targets=None, seed=0):
    """Three path steps; returns [(result, w_t, shares, w_{t+1})] and the model."""
    model, rule, opt, tracker = tiny_tracked_gpt(CFG, t, seed)
    train, target = _data(1)
    if targets is not None:
        target = tuple(x[targets] for x in target)
    brute, results, opened = [], {}, None
    for s, b in enumerate(train):
        w0, shares = _brute_step(model, opt, rule, b, target)
        parts = [b] if micro is None else [tuple(x[k:k + micro] for x in b) for k in range(0, b[0].shape[0], micro)]
        closed, opened = path_step(model, tracker, opt, rule, parts, target, losses=sequence_losses, opened=opened,
                                   close=close_every or s == len(train) - 1, tag=s, settings=settings,
                                   target_chunk=chunk)
        brute.append((w0, shares, _flat(model)))
        results.update({r.tag: r for r in closed})
        assert set(results) == set(range(s + 1 if close_every else s + (opened is None)))
    assert opened is None
    return [(results[s], *brute[s]) for s in range(len(train))], model, target


@pytest.mark.parametrize("t", REGIMES, ids=IDS)
def test_trapezoid_values_equal_brute_force_quadrature(t):
    out, model, target = _run(t, NO_REFINING)
    for r, w0, shares, w1 in out:
        values, carry = _quadrature(model, w0, w1, shares, target, nodes=2)
        np.testing.assert_allclose(r.first, values, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(r.carry, carry, rtol=1e-7, atol=1e-12)
        assert r.second is None and list(r.nodes) == [2, 2, 2]


@pytest.mark.parametrize("t", REGIMES, ids=IDS)
def test_refined_steps_equal_composite_simpson_and_add_up_to_the_realised_change(t):
    out, model, target = _run(t, ALWAYS_REFINING)
    coarse, _, _ = _run(t, NO_REFINING)
    for (r, w0, shares, w1), (c, *_) in zip(out, coarse):
        values, carry = _quadrature(model, w0, w1, shares, target, nodes=9)
        np.testing.assert_allclose(r.first, values, rtol=1e-7, atol=1e-12)
        np.testing.assert_allclose(r.carry, carry, rtol=1e-7, atol=1e-12)
        assert list(r.nodes) == [9, 9, 9]
        realised = r.target_losses - r.loss_after
        fine = np.abs(r.first.sum(0) + r.carry - realised)
        rough = np.abs(c.first.sum(0) + c.carry - realised)
        assert np.all(fine <= rough + 1e-12) and fine.max() < 0.05 * np.abs(realised).max()


def test_two_nodes_add_up_far_closer_to_the_realised_change_than_first_order():
    """At lr 1 the steps overshoot: the start point alone (first order) misses what the step did."""
    out, model, target = _run(REGIMES[0], NO_REFINING)
    for r, w0, shares, w1 in out:
        realised = r.target_losses - r.loss_after
        first_order, _ = _quadrature(model, w0, w1, shares, target, nodes=1)
        gap_path = np.abs(r.first.sum(0) + r.carry - realised)
        gap_first = np.abs(first_order.sum(0) - realised)
        assert gap_path.sum() < 0.5 * gap_first.sum()


def _same_values(got, ref, rtol):
    for (a, *_), (b, *_) in zip(ref, got):
        np.testing.assert_allclose(b.first, a.first, rtol=rtol, atol=rtol * 1e-5)
        np.testing.assert_allclose(b.carry, a.carry, rtol=rtol, atol=rtol * 1e-5)
        assert list(a.nodes) == list(b.nodes)


def test_closing_at_each_step_equals_closing_with_the_next_steps_pass():
    """Checkpoints close a step with a pass of its own; the values must be those of the shared pass."""
    settings = PathSettings(tolerance=0.01, max_nodes=5)
    shared, *_ = _run(REGIMES[2], settings)
    _same_values(_run(REGIMES[2], settings, close_every=True)[0], shared, rtol=1e-10)


def test_micro_batches_and_target_chunks_do_not_change_values():
    settings = PathSettings(tolerance=0.01, max_nodes=5)
    ref, *_ = _run(REGIMES[1], settings)
    for micro, chunk in ((2, None), (None, 1), (3, 2)):
        _same_values(_run(REGIMES[1], settings, micro=micro, chunk=chunk)[0], ref, rtol=1e-9)


def test_a_generations_values_do_not_depend_on_the_others_valued_with_it():
    """Refinement is decided per generation: valuing one alone (a later replay) gives its values."""
    t = REGIMES[0]
    full, *_ = _run(t, PathSettings(tolerance=0.01, max_nodes=9))
    for j in range(3):
        alone, *_ = _run(t, PathSettings(tolerance=0.01, max_nodes=9), targets=[j])
        for (a, *_), (b, *_) in zip(full, alone):
            np.testing.assert_allclose(b.first[:, 0], a.first[:, j], rtol=1e-9, atol=1e-14)
            assert b.nodes[0] == a.nodes[j]


@pytest.mark.parametrize("chunk", [None, 2], ids=["one-pass", "chunks-of-2"])
def test_a_node_passes_only_the_generations_still_refined(monkeypatch, chunk):
    """Each generation takes part in nodes − 2 node passes (the others' values are final): the rows of every
    target pass add up to M per step's own pass and the last close, plus Σ (nodes − 2)."""
    import attribcli.inrun.path as path_module
    rows = []
    real = path_module.target_pass

    def counted(model, tracker, targets, **kw):
        rows.append(targets[0].shape[0])
        return real(model, tracker, targets, **kw)

    monkeypatch.setattr(path_module, "target_pass", counted)
    out, _, target = _run(REGIMES[2], PathSettings(tolerance=0.01, max_nodes=9), chunk=chunk)
    nodes = np.array([r.nodes for r, *_ in out])
    assert (nodes.min(1) < nodes.max(1)).any()  # some step refines some generations further than others
    M = target[0].shape[0]
    assert sum(rows) == (len(out) + 1) * M + int((nodes - 2).sum())
