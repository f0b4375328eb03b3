"""Local Hugging Face causal LMs behind the built-in model's interface.

``load_hf`` reads a checkpoint directory (``config.json`` + weights + tokenizer files) from disk only:
``local_files_only=True``, so nothing is ever downloaded and a missing file is an error, not a fetch.
The model is wrapped so the training loop can call it exactly like the built-in GPT
(``model(idx) -> logits``) and the tokenizer so it looks like ``ByteTokenizer``.

Choices, all in service of exact, reproducible per-sample attribution:
- ``attn_implementation="eager"``: attention as plain matmul + softmax ops. They are deterministic on
  CPU and support double backward and forward-mode AD (the second-order valuation needs both), which
  fused SDPA / flash kernels do not all do;
- float32 weights, whatever dtype the checkpoint was saved in;
- every dropout probability in the config is set to 0 and the wrapped model stays in eval mode, so
  the gradient the tracker sees is the one the optimizer applies;
- position ids are passed expanded to ``[B, T]``: left to itself a Hugging Face model builds them as
  ``[1, T]`` and broadcasts, so a learned position embedding (GPT-2's ``wpe``) would see one row for
  the whole batch and its per-sample gradients would be summed over samples.

``transformers`` is imported only inside ``load_hf``: the rest of attrib runs without it. Tested with
transformers 4.38 to 5.23; 4.36/4.37 load and run in float32 but their Llama builds its causal mask
in float32 whatever the model dtype, which overflows for float64 models.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn as nn

from attribcli.errors import AttribError

FIELD = "model.path"
INSTALL_FIX = 'pip install "attribcli[hf]"'
# Files that hold an actual vocabulary. Without one of them AutoTokenizer may still "succeed" and
# return an empty tokenizer built from the model type alone, so their presence is checked first.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model",
                   "sentencepiece.bpe.model", "tokenizer.tiktoken")


class CompositeSiLU(nn.Module):
    """``x · sigmoid(x)``: SiLU as two plain ops. torch has no forward-mode rule for SiLU's backward, and
    second-order valuation runs the backward pass in forward mode; the function is the same."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


def _composite_silu(model: nn.Module) -> None:
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.SiLU) or type(child).__name__ == "SiLUActivation":
                setattr(parent, name, CompositeSiLU())


class HFCausalLM(nn.Module):
    """A Hugging Face ``*ForCausalLM`` called like the built-in GPT: ``forward(idx) -> logits``."""

    def __init__(self, hf_model: nn.Module):
        super().__init__()
        self.hf = hf_model
        cfg = hf_model.config
        ctx = next((getattr(cfg, k) for k in ("n_positions", "max_position_embeddings")
                    if isinstance(getattr(cfg, k, None), int)), None)
        if ctx is None:
            raise ValueError("model config has neither n_positions nor max_position_embeddings")
        self.context_length: int = ctx
        self.vocab_size: int = hf_model.get_input_embeddings().num_embeddings
        _composite_silu(self.hf)
        self.hf.eval()

    def train(self, mode: bool = True) -> "HFCausalLM":
        """Track the flag but keep the wrapped model in eval mode: no dropout, no training-only paths."""
        super().train(mode)
        self.hf.eval()
        return self

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, T, vocab]`` for token ids ``[B, T]`` (right-padded; attention is causal)."""
        B, T = idx.shape
        if T > self.context_length:
            raise ValueError(f"sequence of {T} tokens exceeds context length {self.context_length}")
        pos = torch.arange(T, device=idx.device).expand(B, T)
        return self.hf(input_ids=idx, position_ids=pos, use_cache=False).logits


class HFTokenizer:
    """A Hugging Face tokenizer with ``ByteTokenizer``'s interface.

    ``encode`` adds no special tokens (the caller puts ``bos_id`` in front of every sequence);
    ``decode`` drops special tokens, as ``ByteTokenizer.decode`` drops its BOS. ``bos_id`` is the
    tokenizer's BOS token, else its EOS token (GPT-2 and GPT-NeoX have one token for both)."""

    def __init__(self, tok, bos_id: int):
        self.tok = tok
        self.bos_id = int(bos_id)
        self.vocab_size = len(tok)  # every id it can produce, added tokens included

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False))

    def decode(self, ids: list[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True, clean_up_tokenization_spaces=False)


def load_hf(path: Path, *, config_file: str | None = None) -> tuple[HFCausalLM, HFTokenizer]:
    """Model and tokenizer from a local checkpoint directory; any failure is one ``AttribError``."""
    path = Path(path)

    def fail(problem: str, fix: str) -> AttribError:
        return AttribError(problem, file=config_file, field=FIELD, fix=fix)

    try:
        import transformers
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise fail("Hugging Face models need the 'transformers' package, which is not installed",
                   INSTALL_FIX) from None
    if not path.is_dir():
        raise fail(f"directory not found: {path}",
                   "point it at a local directory holding a Hugging Face checkpoint (config.json, weights, "
                   "tokenizer files)")
    if not (path / "config.json").is_file():
        raise fail(f"{path} has no config.json, so it is not a Hugging Face checkpoint",
                   "point it at the directory save_pretrained wrote (it holds config.json)")

    with _quiet(transformers):
        try:
            config = AutoConfig.from_pretrained(str(path), local_files_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable config is the same user error
            raise fail(f"cannot read {path / 'config.json'}: {_short(exc)}",
                       "re-save the checkpoint with save_pretrained") from None
        # No dropout anywhere (see the module notes). Passed as keyword arguments, which update the
        # config: a config object passed in would make transformers < 4.37 ignore attn_implementation.
        no_dropout = {k: 0.0 for k, v in config.to_dict().items()
                      if ("dropout" in k or "pdrop" in k) and isinstance(v, float) and v != 0.0}
        try:
            model = AutoModelForCausalLM.from_pretrained(
                str(path), local_files_only=True, attn_implementation="eager", **no_dropout)
        except ValueError as exc:
            if "Unrecognized configuration class" in str(exc):
                raise fail(f"{path} is a '{getattr(config, 'model_type', '?')}' checkpoint, not a causal "
                           f"language model", "use a decoder-only (causal LM) checkpoint") from None
            raise fail(f"cannot load the model in {path}: {_short(exc)}",
                       "check the checkpoint's weights files") from None
        except Exception as exc:  # noqa: BLE001 - missing/corrupt weights, remote code, ...
            raise fail(f"cannot load the model in {path}: {_short(exc)}",
                       "check the checkpoint's weights files") from None
        model = model.to(torch.float32)
        if getattr(model.config, "_attn_implementation", "eager") != "eager":
            raise fail(f"{path}: this transformers version ignored attn_implementation='eager'",
                       'pip install -U "attribcli[hf]" (needs transformers>=4.38)')
        from attribcli.inrun.hf_rules import register_model_norms
        register_model_norms(model)  # this model's own copies of the Llama RMSNorm, if any

        if not any((path / f).is_file() for f in TOKENIZER_FILES):
            raise fail(f"no tokenizer in {path} (none of {', '.join(TOKENIZER_FILES)})",
                       "save the tokenizer next to the model with tokenizer.save_pretrained(DIR)")
        try:
            tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        except Exception as exc:  # noqa: BLE001
            raise fail(f"cannot load the tokenizer in {path}: {_short(exc)}",
                       "save the tokenizer next to the model with tokenizer.save_pretrained(DIR)") from None

    bos = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if bos is None:
        raise fail(f"the tokenizer in {path} has neither a BOS nor an EOS token",
                   "set bos_token (or eos_token) in tokenizer_config.json")
    try:
        wrapped = HFCausalLM(model)
    except ValueError as exc:
        raise fail(f"{path}: {exc}", "use a checkpoint whose config gives its context length") from None
    if len(tok) > wrapped.vocab_size:
        raise fail(f"the tokenizer has {len(tok)} tokens but the model's embedding only {wrapped.vocab_size}",
                   "use the tokenizer the checkpoint was trained with")
    return wrapped, HFTokenizer(tok, bos)


def _short(exc: Exception) -> str:
    """Exception type and the first line of its message, at most 200 characters."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__


@contextmanager
def _quiet(transformers):
    """transformers' warnings and progress bars off while loading, restored afterwards."""
    log = transformers.utils.logging
    level = log.get_verbosity()
    bars = log.is_progress_bar_enabled() if hasattr(log, "is_progress_bar_enabled") else None
    log.set_verbosity_error()
    if bars:
        log.disable_progress_bar()
    try:
        yield
    finally:
        log.set_verbosity(level)
        if bars:
            log.enable_progress_bar()
