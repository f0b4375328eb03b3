"""The built-in GPT: a small decoder-only transformer, written to be read.

Deliberate choices, all in service of exact per-sample attribution:
- every parameter lives in an ``nn.Linear``, ``nn.Embedding`` or ``nn.LayerNorm``, the layer types
  the in-run tracker has exact per-sample rules for;
- no dropout (values must be reproducible and the gradient the tracker sees is the one applied);
- the LM head is not tied to the token embedding (a tied weight mixes two layer types' gradients);
- position ids are expanded per sample so the position embedding sees one row per sample;
- attention is written out with plain ops, which have forward-mode and second derivatives.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from attribcli.errors import AttribError
from attribcli.model.tokenizer import ByteTokenizer


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 257
    context_length: int = 256
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.n_head = cfg.n_head
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        # Attention spelled out rather than F.scaled_dot_product_attention: the fused CPU kernel has no
        # second derivative, and second-order valuation differentiates through the backward pass.
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
        causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
        att = att.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


def parameter_count(cfg: GPTConfig) -> int:
    """Parameters of the GPT of shape ``cfg``, in exact integers (so an absurd shape is measured, not built)."""
    V, C, L, d = cfg.vocab_size, cfg.context_length, cfg.n_layer, cfg.n_embd
    return V * d + C * d + L * (12 * d * d + 13 * d) + 2 * d + d * V


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def gib(n: int) -> str:
    return f"{n / 2**30:,.1f} GiB"


def refuse_if_too_large(cfg: GPTConfig, *, config_file: str | None = None, copies: int = 1) -> None:
    """Refuse, before a byte is allocated, a shape whose ``copies`` of float32 weights (the weights, their
    gradient, ...) cannot fit in this machine's memory: ``context_length: 1000000000`` is a typo, and the
    position table alone would be hundreds of GB (an OOM kill or a traceback, not an answer). The bound is the
    machine's physical memory, not a fixed number: what fits here trains here."""
    memory = physical_memory()
    need = parameter_count(cfg) * 4 * copies
    if memory is None or need <= memory:
        return
    d, L = cfg.n_embd, cfg.n_layer
    terms = {"context_length": cfg.context_length * d, "n_embd": 2 * cfg.vocab_size * d + 13 * L * d,
             "n_layer" if L > d else "n_embd": 12 * L * d * d}
    key = max(terms, key=terms.get)
    what = {"context_length": f"the position table alone ({cfg.context_length:,} positions x {d:,}) needs "
                              f"{gib(terms['context_length'] * 4 * copies)}",
            "n_embd": f"n_embd {d:,} is too wide", "n_layer": f"{L:,} layers are too many"}[key]
    raise AttribError(f"the built-in GPT would need {gib(need)} for its weights"
                      + (" and their gradients" if copies > 1 else "") + f" ({what}); this machine has {gib(memory)} "
                      "of memory", file=config_file, field=f"model.{key}",
                      fix=f"lower model.{key} (the bound is this machine's physical memory)")


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        if cfg.n_embd % cfg.n_head:
            raise ValueError("n_embd must be divisible by n_head")
        refuse_if_too_large(cfg)  # every path that builds one (train, pretrain, a run's model): never an OOM kill
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.context_length, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2's scaled init of residual projections
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, T, vocab]`` for token ids ``[B, T]``."""
        B, T = idx.shape
        if T > self.cfg.context_length:
            raise ValueError(f"sequence of {T} tokens exceeds context length {self.cfg.context_length}")
        pos = torch.arange(T, device=idx.device).expand(B, T)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def sequence_losses(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy per sequence over the positions where ``mask`` is true.

    ``targets[b, t]`` is the token that should follow position t. Shape ``[B]``. The logits are scored as
    one ``[B·T, V]`` matrix: the class dim last and contiguous (``cross_entropy`` over ``[B, V, T]``
    strides through memory and costs 5-7x as much on the CPU, forward and backward: about a tenth of a
    sample-model step).
    """
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                          reduction="none").view(targets.shape)
    mask = mask.to(nll.dtype)
    return (nll * mask).sum(1) / mask.sum(1).clamp_min(1)


def save_weights(model: GPT, path: Path, *, tokenizer: str | None = None) -> None:
    """Weights plus the shape and, when given, the tokenizer's identity they belong to, written atomically."""
    from attribcli.files import atomic_torch_save

    blob = {"format": "attrib-gpt-v1", "config": asdict(model.cfg), "state_dict": model.state_dict()}
    if tokenizer is not None:
        blob["tokenizer"] = tokenizer
    atomic_torch_save(blob, path)


def load_base_weights(model: GPT, path: Path, *, tokenizer: str = ByteTokenizer.id,
                      config_file: str | None = None) -> None:
    """Load base weights into ``model``, refusing a file made for another shape or another tokenizer (the
    same vocabulary size with other tokens would load and be silently wrong)."""
    field = "model.base_weights"
    if not Path(path).is_file():
        raise AttribError(f"file not found: {path}", file=config_file, field=field,
                          fix="point it at a weights file made by 'attrib pretrain', or remove the key")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        raise AttribError(f"cannot read weights {path}: {type(exc).__name__}", file=config_file,
                          field=field, fix="re-create the file with 'attrib pretrain'") from None
    if not isinstance(blob, dict) or blob.get("format") != "attrib-gpt-v1":
        raise AttribError(f"{path} is not an attrib GPT weights file", file=config_file, field=field,
                          fix="re-create the file with 'attrib pretrain'")
    saved = GPTConfig(**blob["config"])
    if saved != model.cfg:
        diff = ", ".join(f"{k}={v} (config says {getattr(model.cfg, k)})"
                         for k, v in asdict(saved).items() if getattr(model.cfg, k) != v)
        raise AttribError(f"base weights were made for another model shape: {diff}",
                          file=config_file, field="model", fix="set the model keys to the weights' shape")
    made_with = blob.get("tokenizer", ByteTokenizer.id)  # files from before tokenizers were recorded: bytes
    if made_with != tokenizer:
        raise AttribError(f"base weights were made with tokenizer {made_with[:20]}, not {tokenizer[:20]}",
                          file=config_file, field="model.tokenizer",
                          fix="use the tokenizer the base was pre-trained with, or pre-train a base with this one")
    model.load_state_dict(blob["state_dict"])
