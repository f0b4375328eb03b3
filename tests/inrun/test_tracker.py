"""The tracker on the whole GPT: ghost dots equal brute force; the optimizer step is plain SGD."""

import copy

import pytest
import torch
import torch.nn as nn

from attribcli.inrun.tracker import GhostTracker, UnsupportedModel
from attribcli.model.gpt import GPT, GPTConfig, sequence_losses
from tests.helpers import batch, brute_dots, capture_step

CFG = GPTConfig(vocab_size=11, context_length=12, n_layer=2, n_head=2, n_embd=8)


def _data(gen):
    train = batch([torch.randint(0, 11, (n,), generator=gen).tolist() for n in (9, 12, 7, 12)])
    target = batch([torch.randint(0, 11, (n,), generator=gen).tolist() for n in (6, 10, 8)],
                   loss_from=[2, 5, 3])
    return train, target


def _tracked_step(model, tracker, train, target):
    capture_step(model, tracker, train, target)
    dots = tracker.dots()
    tracker.clear()
    return dots


def test_whole_model_ghost_dots_equal_brute_force_several_targets():
    gen = torch.Generator().manual_seed(1)
    model = GPT(CFG).double()
    train, target = _data(gen)
    want = brute_dots(model, train, target)
    tracker = GhostTracker(model)
    got = _tracked_step(model, tracker, train, target)
    assert got.shape == (4, 3)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-12)
    # Each target alone gives the same column: no cross terms between generations.
    vx, vy, vm = target
    for j in range(3):
        model.zero_grad()
        alone = _tracked_step(model, tracker, train, (vx[j:j + 1], vy[j:j + 1], vm[j:j + 1]))
        torch.testing.assert_close(alone[:, 0], got[:, j], rtol=1e-9, atol=1e-14)


def test_per_layer_type_sums_to_brute_force_per_parameter_group():
    gen = torch.Generator().manual_seed(2)
    model = GPT(CFG).double()
    train, target = _data(gen)
    tracker = GhostTracker(model)
    capture_step(model, tracker, train, target)
    for kind in (nn.Linear, nn.Embedding, nn.LayerNorm):
        got = sum(tracker.layer_dots(n) for n, mod in tracker.layers if isinstance(mod, kind))
        names = [n for n, mod in tracker.layers if isinstance(mod, kind)]
        keep = {id(p) for n, mod in tracker.layers if n in names for p in mod.parameters(recurse=False)}
        frozen = [p for p in model.parameters() if id(p) not in keep]
        for p in frozen:
            p.requires_grad_(False)
        want = brute_dots(model, train, target)
        for p in frozen:
            p.requires_grad_(True)
        torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-12)


def test_optimizer_step_is_plain_sgd_on_the_training_batch():
    gen = torch.Generator().manual_seed(3)
    base = GPT(CFG)
    plain, tracked = copy.deepcopy(base), copy.deepcopy(base)
    train, target = _data(gen)
    opt_p = torch.optim.SGD(plain.parameters(), lr=0.1)
    opt_t = torch.optim.SGD(tracked.parameters(), lr=0.1)
    tracker = GhostTracker(tracked)
    for _ in range(3):
        x, y, m = train
        opt_p.zero_grad()
        sequence_losses(plain(x), y, m).mean().backward()
        opt_p.step()
        opt_t.zero_grad()
        _tracked_step(tracked, tracker, train, target)
        opt_t.step()
    for (n, a), (_, b) in zip(plain.named_parameters(), tracked.named_parameters()):
        assert torch.equal(a, b), n


def test_unsupported_layer_is_refused():
    model = nn.Sequential(nn.Linear(3, 3), nn.Conv1d(3, 3, 1))
    with pytest.raises(UnsupportedModel, match="Conv1d"):
        GhostTracker(model)


class _TiedLM(nn.Module):
    """Embedding → LayerNorm → output head sharing the embedding matrix (GPT-2's tying)."""

    def __init__(self, V=7, d=5):
        super().__init__()
        self.wte = nn.Embedding(V, d)
        self.ln = nn.LayerNorm(d)
        self.head = nn.Linear(d, V, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, idx):
        return self.head(self.ln(self.wte(idx)))


def test_tied_embedding_and_head_equal_brute_force():
    gen = torch.Generator().manual_seed(6)
    model = _TiedLM().double()
    train = batch([torch.randint(0, 7, (n,), generator=gen).tolist() for n in (5, 6, 4)])
    target = batch([torch.randint(0, 7, (n,), generator=gen).tolist() for n in (6, 5)], loss_from=[2, 1])
    want = brute_dots(model, train, target)
    tracker = GhostTracker(model)
    assert tracker.ties == [("wte", "head", "linear")]
    assert tracker.param_names()[("head", "weight")] == tracker.param_names()[("wte", "weight")] == "wte.weight"
    capture_step(model, tracker, train, target)
    torch.testing.assert_close(tracker.dots(), want, rtol=1e-6, atol=1e-12)
    torch.testing.assert_close(tracker.direction_dots(tracker.target_grads()), want, rtol=1e-6, atol=1e-12)


def test_other_shared_weights_are_refused():
    model = nn.Sequential(nn.Linear(4, 4, bias=False), nn.Linear(4, 4, bias=False))
    model[1].weight = model[0].weight
    with pytest.raises(UnsupportedModel, match="tied"):
        GhostTracker(model)


def test_micro_batches_are_rows_not_sums():
    """Gradient accumulation: two capture("train") blocks give the rows of both micro-batches, each
    exactly as if the whole batch had been one (the loss is scaled by the full batch size)."""
    gen = torch.Generator().manual_seed(4)
    model = GPT(CFG).double()
    train, target = _data(gen)
    want = brute_dots(model, train, target)
    x, y, m = train
    vx, vy, vm = target
    tracker = GhostTracker(model)
    with tracker.capture("target"):
        vl = sequence_losses(model(vx), vy, vm)
    vl.sum().backward()
    for part in (slice(0, 3), slice(3, 4)):
        with tracker.capture("train"):
            loss = sequence_losses(model(x[part]), y[part], m[part]).sum() / x.shape[0]
        loss.backward()
    torch.testing.assert_close(tracker.dots(), want, rtol=1e-6, atol=1e-12)
    D = tracker.target_grads()
    torch.testing.assert_close(tracker.direction_dots(D), want, rtol=1e-6, atol=1e-12)
