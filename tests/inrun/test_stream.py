"""The layer-by-layer stream (stream.py): the products a per-element scale needs, one layer and one block of
targets at a time, equal the whole-model directions they replace, for every block size and a tied weight."""

import pytest
import torch

from attribcli.inrun.stream import Job, streamed_dots
from attribcli.inrun.tracker import GhostTracker
from attribcli.model.gpt import GPT, GPTConfig
from tests.helpers import batch, capture_step

CFG = GPTConfig(vocab_size=13, context_length=12, n_layer=2, n_head=2, n_embd=8)


SHAPES = {"more-samples": ((9, 12, 7, 12), (6, 10, 8)), "more-targets": ((9, 12), (6, 10, 8, 5, 11))}


def _captured(model, shared=True, shape="more-samples"):
    """Fewer samples than targets puts the scale on the samples' side (stream._scaled_side)."""
    tracker = GhostTracker(model)
    gen = torch.Generator().manual_seed(1)
    xs, ys = SHAPES[shape]
    train = batch([torch.randint(0, 13, (n,), generator=gen).tolist() for n in xs])
    target = batch([torch.randint(0, 13, (n,), generator=gen).tolist() for n in ys], loss_from=[2] * len(ys))
    capture_step(model, tracker, train, target, shared=shared)
    return tracker


def _whole(tracker, K, vec):
    """The whole-model way: every target's gradient of every layer at once, scaled, then dotted."""
    names = tracker.param_names()
    G = tracker.target_grads()
    D = {layer: {attr: K[names[(layer, attr)]] * g for attr, g in per.items()} for layer, per in G.items()}
    carry, seen = 0, set()
    for (layer, attr), name in names.items():
        if name in seen or layer not in G:
            continue
        seen.add(name)
        g = G[layer][attr]
        carry = carry + g.reshape(g.shape[0], -1).double() @ vec[name].reshape(-1).double()
    return tracker.direction_dots(D), carry


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("shared", [True, False], ids=["kept-per-sample", "formed-per-sample"])
@pytest.mark.parametrize("tied", [False, True], ids=["untied", "tied"])
@pytest.mark.parametrize("budget", [1, 40, 1 << 25], ids=["one-row-slices", "some", "all-at-once"])
def test_stream_equals_the_whole_model_directions(tied, budget, shared, shape):
    torch.manual_seed(0)
    model = GPT(CFG).double()
    if tied:
        model.lm_head.weight = model.wte.weight
    tracker = _captured(model, shared, shape)
    params = dict(model.named_parameters())
    K = {n: torch.rand_like(p) + 0.5 for n, p in params.items()}
    vec = {n: torch.randn_like(p) for n, p in params.items()}
    (dots,), (carry,) = streamed_dots(tracker, [Job(tracker.captured("train"), K)], [vec],
                                      tracker.param_names(), budget=budget)
    want_dots, want_carry = _whole(tracker, K, vec)
    torch.testing.assert_close(dots, want_dots, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(carry, want_carry, rtol=1e-10, atol=1e-13)


def test_two_jobs_share_the_target_gradients_and_a_scalar_scale_is_a_plain_product():
    torch.manual_seed(0)
    tracker = _captured(GPT(CFG).double())
    names = tracker.param_names()
    K1 = {n: 0.25 for n in set(names.values())}
    K2 = {n: torch.full_like(p, 0.5) for n, p in tracker.model.named_parameters()}
    (a, b), _ = streamed_dots(tracker, [Job(tracker.captured("train"), K1), Job(tracker.captured("train"), K2)], [],
                              names, budget=7)
    torch.testing.assert_close(a, tracker.dots() * 0.25, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(b, tracker.dots() * 0.5, rtol=1e-10, atol=1e-13)
