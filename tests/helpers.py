"""Brute force for the tests: per-sample gradients by a plain loop, in float64."""

from __future__ import annotations

import torch

from attribcli.errors import AttribError
from attribcli.model.gpt import sequence_losses


def batch(tokens: list[list[int]], loss_from: list[int] | None = None):
    """Right-padded ``(inputs, targets, mask)`` from token lists; the loss counts positions >= loss_from."""
    n = max(len(t) for t in tokens) - 1
    x = torch.zeros(len(tokens), n, dtype=torch.long)
    y = torch.zeros(len(tokens), n, dtype=torch.long)
    m = torch.zeros(len(tokens), n, dtype=torch.bool)
    for i, t in enumerate(tokens):
        L = len(t) - 1
        x[i, :L] = torch.tensor(t[:-1])
        y[i, :L] = torch.tensor(t[1:])
        start = 0 if loss_from is None else loss_from[i]
        m[i, start:L] = True
    return x, y, m


def tiny_tracked_gpt(cfg, t, seed=0):
    """(float64 GPT of ``cfg``, its optimizer rule for hyperparameters ``t``, the optimizer, a tracker)."""
    from attribcli.inrun.optim import attach_names, update_rule
    from attribcli.inrun.tracker import GhostTracker
    from attribcli.model.gpt import GPT

    torch.manual_seed(seed)
    model = GPT(cfg).double()
    rule = update_rule(t)
    opt = rule.make(model.parameters(), t)
    attach_names(opt, model)
    return model, rule, opt, GhostTracker(model)


def flat_grad(model, loss) -> torch.Tensor:
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads)])


def brute_dots(model, train, target, *, mean_over_train=True) -> torch.Tensor:
    """``[N, M]``: <∇ (l_i / N), ∇ l_j> with each gradient computed on its own."""
    x, y, m = train
    N = x.shape[0]
    gx = [flat_grad(model, sequence_losses(model(x[i:i + 1]), y[i:i + 1], m[i:i + 1]).sum()
                    / (N if mean_over_train else 1)) for i in range(N)]
    vx, vy, vm = target
    gy = [flat_grad(model, sequence_losses(model(vx[j:j + 1]), vy[j:j + 1], vm[j:j + 1]).sum())
          for j in range(vx.shape[0])]
    return torch.stack(gx) @ torch.stack(gy).T


def one_line(exc: AttribError, *needles: str) -> str:
    """Assert the project's error contract: one line, exit code 2, naming each of ``needles``."""
    msg = str(exc)
    assert "\n" not in msg and "\r" not in msg, msg
    assert msg == exc.line() and exc.exit_code == 2
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    return msg


def capture_step(model, tracker, train, target, shared: bool = False) -> None:
    """Both forwards under the tracker's capture, then the one backward pass (no optimizer step); ``shared``:
    the dense layers' batch gradient formed by the tracker from the per-sample gradients it keeps."""
    x, y, m = train
    vx, vy, vm = target
    with tracker.capture("train", shared=shared):
        train_loss = sequence_losses(model(x), y, m).mean()
    with tracker.capture("target"):
        target_losses = sequence_losses(model(vx), vy, vm)
    (train_loss + target_losses.sum()).backward()
    tracker.share_grads()
