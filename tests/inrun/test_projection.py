"""Projected per-sample gradients from captures equal the projection of brute-force per-sample gradients."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from attribcli.inrun.projection import Projector, factor_sizes, outer, rank_one, shares
from attribcli.inrun.tracker import GhostTracker


class Tiny(nn.Module):
    def __init__(self, tied: bool):
        super().__init__()
        self.emb = nn.Embedding(11, 6, padding_idx=0)
        self.ln = nn.LayerNorm(6)
        self.fc = nn.Linear(6, 6)
        self.head = nn.Linear(6, 11, bias=False)
        if tied:
            self.head.weight = self.emb.weight

    def forward(self, x):
        h = self.ln(self.emb(x))
        return self.head(torch.tanh(self.fc(h)) + h)


def _losses(model, x, y):
    logits = model(x)
    return F.cross_entropy(logits.transpose(1, 2), y, reduction="none").mean(1)


def _brute(model, x, y) -> dict[str, torch.Tensor]:
    """Each sample's gradient of its loss / N, parameter by parameter, by a loop."""
    out = {n: [] for n, _ in model.named_parameters()}
    for i in range(len(x)):
        model.zero_grad()
        (_losses(model, x[i:i + 1], y[i:i + 1]) / len(x)).sum().backward()
        for n, p in model.named_parameters():
            out[n].append(p.grad.clone())
    return {n: torch.stack(g) for n, g in out.items()}


def _captured(model, x, y, dim, sides=None):
    tracker = GhostTracker(model)
    projector = Projector.create(tracker, dim, seed=3)
    with tracker.capture("train"):
        loss = _losses(model, x, y).mean()
    loss.backward()
    got = projector.captured(tracker.captured("train"), sides)
    tracker.close()
    return projector, got


def _model(factory):
    torch.manual_seed(0)
    return factory().double()


@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
@pytest.mark.parametrize("dim", [40, 150, 10_000], ids=["small", "medium", "lossless"])
def test_projection_from_captures_is_the_projection_of_each_samples_gradient(tied, dim):
    model = _model(lambda: Tiny(tied))
    x = torch.randint(0, 11, (4, 5))
    x[0, 3:] = 0  # padding ids get no embedding gradient
    y = torch.randint(0, 11, (4, 5))
    projector, got = _captured(model, x, y, dim)
    grads = _brute(model, x, y)
    want = projector.dense(grads)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
    if dim == 10_000:  # every parameter kept whole: the projection is the gradient itself
        flat = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
        torch.testing.assert_close(got, flat, rtol=1e-9, atol=1e-12)
    else:
        assert projector.dim <= dim


@pytest.mark.parametrize("dim", [150, 10_000], ids=["projected", "lossless"])
def test_a_rank_one_scale_rides_on_the_captures(dim):
    """``(p_r p_cᵀ) ⊙ G`` projected from captures scaled through the projection's columns, for every rule
    (embedding, LayerNorm, linear and its bias), as the projection of each scaled per-sample gradient."""
    model = _model(lambda: Tiny(False))
    x, y = torch.randint(0, 11, (4, 5)), torch.randint(0, 11, (4, 5))
    gen = torch.Generator().manual_seed(1)
    P = {n: torch.rand(p.shape, generator=gen, dtype=p.dtype) + 0.5 for n, p in model.named_parameters()}
    sides = {n: rank_one(v) for n, v in P.items()}
    projector, got = _captured(model, x, y, dim, sides)
    want = projector.dense({n: outer(sides[n], g.shape[1:]) * g for n, g in _brute(model, x, y).items()})
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)


def test_rank_one_is_exact_for_a_rank_one_scale_and_a_vector():
    r, c = torch.rand(5, dtype=torch.float64) + 0.1, torch.rand(3, dtype=torch.float64) + 0.1
    torch.testing.assert_close(outer(rank_one(r[:, None] * c[None, :]), (5, 3)), r[:, None] * c[None, :])
    assert rank_one(r)[0] is r
    P = torch.rand(4, 6, dtype=torch.float64) + 0.1  # otherwise the best fit of log P by rows plus columns
    L, fit = P.log(), outer(rank_one(P), P.shape).log()
    torch.testing.assert_close((L - fit).mean(0), torch.zeros(6, dtype=torch.float64))
    torch.testing.assert_close((L - fit).mean(1), torch.zeros(4, dtype=torch.float64))


def test_gpt2_conv1d_and_tied_head():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(n_layer=1, n_head=2, n_embd=8, vocab_size=13, n_positions=8)
    model = transformers.GPT2LMHeadModel(cfg).double().eval()
    from attribcli.inrun import hf_rules  # noqa: F401  registers Conv1D

    class Wrap(nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, x):  # positions expanded to [B, T], as model/hf.py passes them
            return self.m(input_ids=x, position_ids=torch.arange(x.shape[1]).expand_as(x)).logits

    wrapped = Wrap()
    x, y = torch.randint(0, 13, (3, 6)), torch.randint(0, 13, (3, 6))
    projector, got = _captured(wrapped, x, y, 300)
    torch.testing.assert_close(got, projector.dense(_brute(wrapped, x, y)), rtol=1e-8, atol=1e-12)


def test_the_budget_is_shared_by_water_filling_and_a_side_that_fits_is_kept_whole():
    assert shares({"bias": 6, "w": 1000, "v": 1000}, 106) == {"bias": 6, "w": 50, "v": 50}
    assert shares({"a": 3, "b": 4}, 100) == {"a": 3, "b": 4}
    assert factor_sizes((11, 6), 66) == (11, 6)
    assert factor_sizes((1000, 6), 120) == (20, 6)        # the short side fits: kept, no error from it
    assert factor_sizes((1000, 900), 400) == (20, 20)     # else equal sides
    assert factor_sizes((9,), 4) == (4,)


def test_random_projections_keep_inner_products_on_average():
    torch.manual_seed(0)
    model = _model(lambda: Tiny(False))
    x, y = torch.randint(1, 11, (6, 5)), torch.randint(0, 11, (6, 5))
    grads = _brute(model, x, y)
    flat = torch.cat([g.flatten(1) for g in grads.values()], dim=1)
    exact = flat[:3] @ flat[3:].T
    tracker = GhostTracker(model)
    estimates = []
    for seed in range(300):
        p = Projector.create(tracker, 60, seed=seed).dense(grads)
        estimates.append(p[:3] @ p[3:].T)
    mean = torch.stack(estimates).mean(0)
    assert (mean - exact).abs().max() < 0.15 * exact.abs().max()
