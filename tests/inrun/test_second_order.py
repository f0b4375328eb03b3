"""Second order against brute force: explicit Hessians of each target's loss on a tiny GPT, float64."""

import torch
from torch.func import functional_call

from attribcli.inrun.tracker import GhostTracker
from attribcli.model.gpt import GPT, GPTConfig, sequence_losses
from tests.helpers import batch, capture_step, flat_grad

CFG = GPTConfig(vocab_size=5, context_length=6, n_layer=1, n_head=1, n_embd=4)


def _setup(seed=0):
    gen = torch.Generator().manual_seed(seed)
    model = GPT(CFG).double()
    with torch.no_grad():
        for p in model.parameters():  # non-trivial LayerNorm affine and biases
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    train = batch([torch.randint(0, 5, (n,), generator=gen).tolist() for n in (6, 5, 7)])
    target = batch([torch.randint(0, 5, (n,), generator=gen).tolist() for n in (5, 7)], loss_from=[1, 3])
    return model, train, target


def _target_losses(forward, x, y, m):
    return sequence_losses(forward(x), y, m)


def _hessian(model, target, j):
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    flat0 = torch.cat([p.detach().flatten() for p in model.parameters()])
    vx, vy, vm = target

    def loss(flat):
        params, i = {}, 0
        for n, s in zip(names, shapes):
            params[n] = flat[i:i + s.numel()].view(s)
            i += s.numel()
        return sequence_losses(functional_call(model, params, (vx[j:j + 1],)), vy[j:j + 1], vm[j:j + 1]).sum()

    return torch.autograd.functional.hessian(loss, flat0)


def test_hessian_directions_equal_explicit_hessian_times_direction():
    model, train, target = _setup()
    tracker = GhostTracker(model)
    gen = torch.Generator().manual_seed(5)
    d = {n: torch.randn(p.shape, generator=gen, dtype=torch.float64) for n, p in model.named_parameters()}
    flat_d = torch.cat([d[n].flatten() for n, _ in model.named_parameters()])
    h = tracker.hessian_directions(_target_losses, target, d)
    # assemble [M, P] in parameter order from the per-layer blocks
    owner = {id(p): (ln, pn) for ln, mod in tracker.layers for pn, p in mod.named_parameters(recurse=False)}
    got = torch.stack([torch.cat([h[owner[id(p)][0]][owner[id(p)][1]][j].flatten() for p in model.parameters()])
                       for j in range(2)])
    want = torch.stack([_hessian(model, target, j) @ flat_d for j in range(2)])
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-10)


def test_second_order_values_equal_brute_force():
    """phi2[z, v] = -1/2 <u_z, H_v sum_z' u_z'> with u_z = lr * grad(l_z / N): the Shapley split of the
    quadratic term, each sample keeping its own term and half of every pairwise term."""
    model, train, target = _setup(1)
    lr = 0.3
    x, y, m = train
    N = x.shape[0]
    per_sample = torch.stack([flat_grad(model, sequence_losses(model(x[i:i + 1]), y[i:i + 1], m[i:i + 1]).sum() / N)
                              for i in range(N)])
    u = lr * per_sample
    H = [_hessian(model, target, j) for j in range(2)]
    want = torch.stack([-0.5 * u @ (H[j] @ u.sum(0)) for j in range(2)], dim=1)
    # engine: capture, backward, then H_v·(sum of updates) and the per-sample direction dots
    tracker = GhostTracker(model)
    capture_step(model, tracker, train, target)
    U = {n: lr * p.grad for n, p in model.named_parameters()}
    h = tracker.hessian_directions(_target_losses, target, U)
    got = -0.5 * lr * tracker.direction_dots(h)
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-12)
    # and the pairwise split: summing over samples gives -1/2 U^T H U
    total = lr * per_sample.sum(0)
    for j in range(2):
        torch.testing.assert_close(got[:, j].sum(), -0.5 * total @ H[j] @ total, rtol=1e-9, atol=1e-14)
