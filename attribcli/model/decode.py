"""Completions from a fine-tuned model: greedy, or sampled with temperature and nucleus (top-p).

One sequence at a time with the full forward each token (no KV cache): the built-in GPT has absolute
positions, so batching prompts of different lengths would need left padding it was never trained with,
and the sequences are short. Sampling draws from a ``torch.Generator`` the caller seeds, on the CPU, in
float64, so the same seed gives the same text on any device.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def complete(model, prompt_ids: list[int], *, max_new_tokens: int, context_length: int, temperature: float = 0.0,
             top_p: float = 1.0, generator: torch.Generator | None = None, stop_ids: frozenset[int] = frozenset(),
             device="cpu") -> list[int]:
    """New token ids after ``prompt_ids`` (which start with BOS): at most ``max_new_tokens``, never past
    ``context_length`` (so prompt + completion can be valued in that context), stopping before any of
    ``stop_ids`` (never before the first token: a completion is never empty). Temperature 0 is greedy (ties:
    the lowest id)."""
    ids = list(prompt_ids)
    out: list[int] = []
    while len(out) < max_new_tokens and len(ids) < context_length + 1:
        logits = model(torch.tensor([ids], device=device))[0, -1].double().cpu()
        if not out and stop_ids:
            logits[list(stop_ids)] = -torch.inf
        token = _pick(logits, temperature, top_p, generator)
        if token in stop_ids:
            break
        ids.append(token)
        out.append(token)
    return out


def _pick(logits: torch.Tensor, temperature: float, top_p: float, generator) -> int:
    if temperature == 0:
        return int(torch.argmax(logits))
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1:
        sorted_p, order = torch.sort(probs, descending=True, stable=True)
        keep = torch.cumsum(sorted_p, 0) - sorted_p < top_p  # the smallest prefix whose mass reaches top_p
        probs = torch.zeros_like(probs).scatter_(0, order[keep], sorted_p[keep])
    return int(torch.multinomial(probs, 1, generator=generator))
