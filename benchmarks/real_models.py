"""Real-size causal LMs with random weights, saved as local Hugging Face folders, and an attrib config for each.

    python benchmarks/real_models.py OUT_DIR [--model gpt2-124m llama-125m llama-1b] [--context 256]
                                     [--lora RANK] [--generations 8]

No download is possible here, so each model is built from its transformers config (the shapes are the
published ones; the weights are random) and saved with ``save_pretrained`` beside the sample's BPE tokenizer
(learned from the sample corpus). The shapes are what cost memory and time; random weights are enough for
that, and the values' fidelity is measured on trained models elsewhere in RESULTS.md.

- ``gpt2-124m``: ``GPT2Config()`` as transformers ships it: 12 x 768, vocabulary 50257, tied head;
- ``llama-125m``: Llama-shaped, 12 x 768, grouped-query attention (12 heads, 4 key-value heads), RMSNorm,
  SwiGLU (2048), vocabulary 32000, untied head;
- ``llama-1b``: TinyLlama-1.1B's shape: 22 x 2048, 32 heads, 4 key-value heads, SwiGLU 5632, vocabulary 32000;
- ``gpt2-tiny``: GPT-2's code at 2 x 64, for the benchmarks' smoke tests.

Each folder gets ``config-<context>[-lora<r>]-<g>gen.yaml``: the sample's holders, its documents joined into
documents of at least ``context`` tokens (each training sample a full window), ``g`` generations of about
``context / 2`` tokens built from the sample's, batch 4, AdamW, the path rule.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("gpt2-124m", "llama-125m", "llama-1b", "gpt2-tiny")


def hf_config(name: str, vocab: int | None = None, context: int = 1024):
    from transformers import GPT2Config, LlamaConfig

    if name == "gpt2-124m":
        return GPT2Config(n_positions=max(1024, context), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    if name == "gpt2-tiny":  # the smoke test's: GPT-2's code at 2 x 64
        return GPT2Config(n_positions=max(1024, context), n_layer=2, n_head=2, n_embd=64, resid_pdrop=0.0,
                          embd_pdrop=0.0, attn_pdrop=0.0)
    common = dict(vocab_size=vocab or 32000, max_position_embeddings=max(2048, context), tie_word_embeddings=False,
                  hidden_act="silu", rms_norm_eps=1e-5, attention_dropout=0.0)
    if name == "llama-125m":
        return LlamaConfig(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
                           num_key_value_heads=4, **common)
    if name == "llama-1b":
        return LlamaConfig(hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
                           num_key_value_heads=4, **common)
    raise SystemExit(f"error: unknown model {name!r} (fix: one of {', '.join(MODELS)})")


def save_model(name: str, folder: Path, seed: int = 0) -> Path:
    """The model's folder (config.json, weights, tokenizer); reused when it is there already."""
    import torch
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    if (folder / "config.json").exists():
        return folder
    tok = PreTrainedTokenizerFast(tokenizer_file=str(ROOT / "sample_data/tokenizer.json"), bos_token="<|bos|>",
                                  eos_token="<|bos|>")
    cfg = hf_config(name)
    cfg.bos_token_id = cfg.eos_token_id = tok.bos_token_id
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(cfg)
    tmp = folder.with_name(folder.name + ".partial")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(folder)
    return folder


def parameters(name: str) -> int:
    """Parameters of the model, from the config alone (a meta-device build: no memory)."""
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(hf_config(name))
    return sum(p.numel() for p in model.parameters())


def _token_count():
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(ROOT / "sample_data/tokenizer.json"))
    return lambda text: len(tok.encode(text).ids)


def corpus_file(out: Path, context: int) -> Path:
    """The sample's documents joined, within one holder, licence and opt-out, into documents of at least
    ``context`` tokens: every training sample is a full window, so a step holds ``batch x context`` tokens."""
    count = _token_count()
    docs = [json.loads(line) for line in (ROOT / "sample_data/corpus.jsonl").read_text().splitlines() if line]
    groups: dict[str, list[dict]] = {}
    for d in docs:
        groups.setdefault(json.dumps([d["holders"], d.get("license"), d.get("opt_out")]), []).append(d)
    rows = []
    for members in groups.values():
        text, first = "", None
        for d in members:
            text, first = (text + "\n\n" + d["text"]) if text else d["text"], first or d
            if count(text) > context:
                rows.append(dict(first, id=f"long-{len(rows) + 1:04d}", text=text))
                text, first = "", None
    path = out / f"corpus-{context}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def generations_file(out: Path, count: int, context: int) -> Path:
    """``count`` generations of about ``context / 2`` tokens: the sample's prompts, each completion followed by
    the next generations' texts (the sample's 8, cycled, with new ids past them)."""
    tokens = _token_count()
    src = [json.loads(line) for line in (ROOT / "sample_data/generations.jsonl").read_text().splitlines() if line]
    rows = []
    for i in range(count):
        g = dict(src[i % len(src)], id=f"{src[i % len(src)]['id']}-{i // len(src)}" if i >= len(src) else
                 src[i]["id"])
        k = i + 1
        while tokens(g["prompt"] + g["completion"]) < context // 2:
            nxt = src[k % len(src)]
            g["completion"] += " " + nxt["prompt"] + nxt["completion"]
            k += 1
        while tokens(g["prompt"] + g["completion"]) > context - 2 and " " in g["completion"].strip():
            g["completion"] = g["completion"].rstrip().rsplit(" ", 1)[0]  # within the context, BOS included
        rows.append(g)
    path = out / f"generations-{context}-{count}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_config(folder: Path, *, context: int, lora: int | None, generations: int, batch: int = 4,
                 device: str = "cpu", target_chunk: int | None = None) -> Path:
    gens = generations_file(folder, generations, context)
    corpus = corpus_file(folder, context)
    lora_line = f"{{rank: {lora}, alpha: {2 * lora}}}" if lora else "null"
    chunk = f"-chunk{target_chunk}" if target_chunk else ""
    name = f"config-{context}{f'-lora{lora}' if lora else ''}-{generations}gen{chunk}.yaml"
    text = f"""run_dir: {folder}/run-{name[7:-5]}
seed: 1234
model: {{kind: hf, path: {folder}, context_length: {context}, lora: {lora_line}}}
data: {{corpus: {corpus}, holders: {ROOT}/sample_data/holders.csv, generations: {gens}}}
training: {{max_steps: 2, batch_size: {batch}, lr: 0.0001, optimizer: adamw, warmup_steps: 0, device: {device},
            checkpoint_every: 100}}
licenses: {{run_use: commercial, trainable: [commercial, unspecified]}}
"""
    if target_chunk:
        text += f"attribution: {{target_chunk: {target_chunk}}}\n"
    path = folder / name
    path.write_text(text)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--model", nargs="+", default=["gpt2-124m", "llama-125m"], choices=MODELS)
    ap.add_argument("--context", type=int, nargs="+", default=[256])
    ap.add_argument("--lora", type=int, nargs="*", default=[], help="also configs with LoRA adapters of these ranks")
    ap.add_argument("--generations", type=int, nargs="+", default=[8])
    ap.add_argument("--batch-size", type=int, default=4)
    a = ap.parse_args()
    for name in a.model:
        folder = save_model(name, a.out / name)
        print(f"{name}: {parameters(name) / 1e6:.1f}M parameters, {folder}", file=sys.stderr)
        for ctx in a.context:
            for g in a.generations:
                for r in [None, *a.lora]:
                    print(write_config(folder, context=ctx, lora=r, generations=g, batch=a.batch_size))


if __name__ == "__main__":
    main()
