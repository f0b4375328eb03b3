"""Does fine-tuning teach the model its documents, or only their domain?

    python benchmarks/memorisation.py [--config configs/sample.yaml] [--holdout 2] [--seed 0] [--epochs N]
                                      [--keep-run DIR]

Per holder with at least ``holdout + 2`` single-owner documents the config's licence policy trains on,
``--holdout`` of them (chosen with ``--seed``) are removed from the corpus; attrib then trains exactly as
the config does (model, tokenizer, base weights, training settings, licence policy) on what remains.
Each document's loss (mean next-token cross-entropy over all its tokens, nats per token) is taken under
the base weights and under the fine-tuned ``model.pt``:

- copies: the holder's documents that were trained on (a verbatim copy of a trained document);
- unseen: the holder's held-out documents (new text of the same holder, subject and style).

Reported per holder and over all: the mean loss reduction of each group and their ratio. Attribution can
single out a copied document's holder only if the ratio is well above 1: when the model learned the
domain and not the documents, unseen text of the holder gains as much as a copy. The goal (issue 11) is
a ratio of at least 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"), help="the config trained as given")
    ap.add_argument("--holdout", type=int, default=2, help="documents held out per holder")
    ap.add_argument("--seed", type=int, default=0, help="seed of the held-out choice")
    ap.add_argument("--epochs", type=int, default=None, help="override the config's training epochs")
    ap.add_argument("--keep-run", metavar="DIR", default=None, help="keep the run (and its config) in DIR")
    a = ap.parse_args()

    from sample_runs import attrib, sample_overrides, single_owner_documents  # benchmarks/sample_runs.py

    from tests.runs import write_config

    config_path = Path(a.config).resolve()
    base, docs, by_holder = single_owner_documents(config_path)
    rng = np.random.default_rng(a.seed)
    held: dict[str, list[dict]] = {}
    for h in sorted(by_holder):
        if len(by_holder[h]) >= a.holdout + 2:
            pick = rng.choice(len(by_holder[h]), size=a.holdout, replace=False)
            held[h] = [by_holder[h][i] for i in sorted(pick)]
    held_ids = {d["id"] for ds in held.values() for d in ds}
    copies = {h: [d for d in by_holder[h] if d["id"] not in held_ids] for h in held}
    probes = [d for ds in (*copies.values(), *held.values()) for d in ds]

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="memorisation_") as tmp:
        work = Path(a.keep_run).resolve() if a.keep_run else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        corpus = work / "corpus.jsonl"
        corpus.write_text("".join(json.dumps(d) + "\n" for d in docs if d["id"] not in held_ids))
        gens = (config_path.parent / base["data"]["generations"]).resolve()
        cfg = write_config(work, **sample_overrides(config_path, base, corpus=corpus, generations=gens,
                                                    epochs=a.epochs))
        run = work / "run"
        attrib("train", cfg, "--run-dir", run, "--overwrite")
        train_s = time.time() - t0
        before, after = _losses(cfg, run, [d["text"] for d in probes])

    drop = dict(zip([d["id"] for d in probes], before - after))
    loss0 = dict(zip([d["id"] for d in probes], before))
    print(f"memorisation on {config_path.name}: {len(held)} holders, {a.holdout} held out each, seed {a.seed}, "
          f"epochs {a.epochs or base['training'].get('epochs')}, train {train_s:.0f} s")
    print(f"{'holder':8s} | {'copies':>6s} | {'base loss':>9s} | {'copy drop':>9s} | {'unseen drop':>11s} | ratio")
    rows = []
    for h in held:
        c = np.mean([drop[d["id"]] for d in copies[h]])
        u = np.mean([drop[d["id"]] for d in held[h]])
        rows.append((c, u))
        print(f"{h:8s} | {len(copies[h]):6d} | {np.mean([loss0[d['id']] for d in copies[h]]):9.3f} | "
              f"{c:9.3f} | {u:11.3f} | {c / u:5.2f}")
    c_all = np.mean([drop[d["id"]] for ds in copies.values() for d in ds])
    u_all = np.mean([drop[d["id"]] for ds in held.values() for d in ds])
    ratios = [c / u for c, u in rows]
    print(f"{'all':8s} | {sum(map(len, copies.values())):6d} | {'':9s} | {c_all:9.3f} | {u_all:11.3f} | "
          f"{c_all / u_all:5.2f}   (per holder: min {min(ratios):.2f}, median {np.median(ratios):.2f}; goal >= 2)")


def _losses(cfg: Path, run: Path, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each text's mean per-token loss under the config's base weights and the run's fine-tuned weights."""
    from attribcli.config import load_config
    from attribcli.model.gpt import GPT, GPTConfig, load_base_weights
    from attribcli.model.tokenizer import load_tokenizer
    from attribcli.training.steps import pad_batch, target_losses

    config = load_config(cfg)
    mc = config.model
    tok = load_tokenizer(mc.tokenizer)
    batch = pad_batch([([tok.bos_id] + tok.encode(t)[:mc.context_length], 1) for t in texts], "cpu")
    out = []
    for weights in (mc.base_weights, run / "model.pt"):
        torch.manual_seed(config.seed)  # without base weights, the run's own initialisation (as prepare does)
        model = GPT(GPTConfig(tok.vocab_size, mc.context_length, mc.n_layer, mc.n_head, mc.n_embd))
        if weights is not None:
            load_base_weights(model, weights, tokenizer=tok.id)
        out.append(np.concatenate([target_losses(model.eval(), tuple(t[i:i + 32] for t in batch))
                                   for i in range(0, len(texts), 32)]))
    return out[0], out[1]


if __name__ == "__main__":
    main()
