"""What step t trains on: the epoch's sample order, the padded batches, the learning rate.

Each a pure function of (config, seed, step), which is what lets a killed run resume to the same bytes.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from attribcli.config import Config
from attribcli.data.generations import Generation
from attribcli.model.gpt import GPT, sequence_losses


def lr_at(step: int, total: int, config: Config) -> float:
    t = config.training
    if t.warmup_steps and step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    progress = (step - t.warmup_steps) / max(1, total - t.warmup_steps)
    if t.schedule == "linear":
        return t.lr * (1.0 - progress)
    if t.schedule == "cosine":
        return t.lr * 0.5 * (1.0 + math.cos(math.pi * progress))
    return t.lr


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The sample order of one epoch: a pure function of (seed, epoch), so resume needs no RNG state."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def pad_batch(seqs: list[tuple[list[int], int]], device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-pad ``(tokens, first scored index)`` pairs into inputs, next-token targets and a loss mask.

    Right padding is harmless under causal attention: padded positions come after every real one, and
    their loss mask is 0, so their output gradient is exactly 0 and they add nothing to any value."""
    width = max(len(t) for t, _ in seqs) - 1
    x = torch.zeros(len(seqs), width, dtype=torch.long)
    y = torch.zeros(len(seqs), width, dtype=torch.long)
    m = torch.zeros(len(seqs), width, dtype=torch.bool)
    for i, (tokens, first) in enumerate(seqs):
        n = len(tokens) - 1
        x[i, :n] = torch.tensor(tokens[:-1])
        y[i, :n] = torch.tensor(tokens[1:])
        m[i, max(first, 1) - 1:n] = True
    return x.to(device), y.to(device), m.to(device)


def target_batch(generations: list[Generation], device, *, tok, with_prompt: bool = True):
    return pad_batch([g.tokens(tok, with_prompt=with_prompt) for g in generations], device)


@torch.no_grad()
def target_losses(model: GPT, batch) -> np.ndarray:
    x, y, m = batch
    return sequence_losses(model(x), y, m).double().cpu().numpy()


def segment_starts(total: int, segments: int) -> tuple[int, ...]:
    """The first step of each of ``segments`` evenly spaced segments (replay's, the index's): 0 and K - 1
    more (fewer on a short run)."""
    return tuple(sorted({round(k * total / segments) for k in range(min(segments, total))}))
