"""Pre-train the built-in GPT on generic text: the *base model* whose knowledge is not the holders'.

Fine-tuning values then describe what each holder's documents taught the model beyond generic
English, instead of a random model learning which bytes exist. Plain AdamW on random windows of the
text; no valuation here (base-model contributions are the base-model stage, not the holders').
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from attribcli.config import Config
from attribcli.errors import AttribError
from attribcli.model.gpt import GPT, GPTConfig, save_weights, sequence_losses
from attribcli.model.tokenizer import load_tokenizer
from attribcli.progress import Progress


def pretrain(config: Config, text_path: Path, out: Path, *, steps: int, batch_size: int, lr: float,
             log=print) -> float:
    text_path = Path(text_path)
    if not text_path.is_file():
        raise AttribError(f"text file not found: {text_path}", field="--text", fix="pass a UTF-8 text file")
    tok = load_tokenizer(config.model.tokenizer, config_file=str(config.source))
    data = np.array(tok.encode(text_path.read_text(encoding="utf-8")), dtype=np.int64)
    mc = config.model
    C = mc.context_length
    if len(data) < 2 * C:
        raise AttribError(f"text has {len(data)} tokens, fewer than two context windows ({2 * C})",
                          file=str(text_path), fix="use a longer text")
    torch.manual_seed(config.seed)
    model = GPT(GPTConfig(tok.vocab_size, C, mc.n_layer, mc.n_head, mc.n_embd))
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.95))
    rng = np.random.default_rng(config.seed)
    loss = float("nan")
    with Progress(steps, log=log, every=100) as bar:
        for step in range(steps):
            for g in opt.param_groups:  # cosine decay to 10%
                g["lr"] = lr * (0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * step / steps)))
            starts = rng.integers(0, len(data) - C - 1, size=batch_size)
            chunk = torch.from_numpy(np.stack([data[s:s + C + 1] for s in starts]))
            x, y = chunk[:, :-1], chunk[:, 1:]
            batch_loss = sequence_losses(model(x), y, torch.ones_like(y, dtype=torch.bool)).mean()
            opt.zero_grad(set_to_none=True)
            batch_loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            loss = batch_loss.item()
            bar.update(step + 1, loss=loss, samples=batch_size)
    save_weights(model, out, tokenizer=tok.id)
    return loss
