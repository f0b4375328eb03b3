"""LoRA: fine-tune low-rank adapters beside frozen weights; values are over the adapters only.

``y = base(x) + (alpha / rank) · B(A(x))`` with A (d_in → rank) and B (rank → d_out) two bias-free
``nn.Linear`` layers: the tracker values them with its exact Linear rule, and every frozen weight
(the base layers, embeddings, norms) is left out of values, as it is left out of the update. B starts
at zero, so the adapted model starts as the base model.

When training ends the adapters are merged (``W += (alpha / rank) · B A``), so the run's ``model.pt``
is the plain model, loadable as a base for the next run.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


class LoRA(nn.Module):
    def __init__(self, base: nn.Module, d_in: int, d_out: int, rank: int, alpha: float):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.lora_A = nn.Linear(d_in, rank, bias=False)
        self.lora_B = nn.Linear(rank, d_out, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scale

    @torch.no_grad()
    def merged(self) -> nn.Module:
        """The base layer with ``scale · B A`` added to its weight (stored [d_in, d_out] by HF Conv1D)."""
        delta = (self.lora_B.weight @ self.lora_A.weight) * self.scale  # [d_out, d_in]
        w = self.base.weight
        w.add_((delta if isinstance(self.base, nn.Linear) else delta.T).to(w.dtype))
        return self.base


def _in_out(layer: nn.Module) -> tuple[int, int]:
    """(d_in, d_out) of an nn.Linear or a Hugging Face Conv1D (weight stored transposed)."""
    if isinstance(layer, nn.Linear):
        return layer.in_features, layer.out_features
    return layer.weight.shape[0], layer.weight.shape[1]  # Conv1D: nx, nf


def _adaptable(module: nn.Module) -> bool:
    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


def apply_lora(model: nn.Module, rank: int, alpha: float, targets: list[str], head: nn.Module | None) -> list[str]:
    """Freeze every weight of ``model``, then wrap each adaptable layer whose name ends with one of
    ``targets`` (every Linear / Conv1D but the output ``head`` when ``targets`` is empty). Returns the
    adapted layers' names (empty: nothing matched)."""
    model.requires_grad_(False)
    chosen = [(name, m) for name, m in model.named_modules() if _adaptable(m) and m is not head and (
        not targets or name.rsplit(".", 1)[-1] in targets)]
    for name, module in chosen:
        parent, _, attr = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        d_in, d_out = _in_out(module)
        setattr(owner, attr, LoRA(module, d_in, d_out, rank, alpha).to(module.weight.device))
    return [name for name, _ in chosen]


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRA wrapper by its merged base layer (in place); weights trainable again."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRA):
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, module.merged())
    return model.requires_grad_(True)
