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

The same on each document's *own* tokens: those where the ``--ngram`` tokens ending there appear in no
other trained document, i.e. what only the document itself could have taught. How much of a held-out
document is not its own (its n-grams are in trained documents) bounds the whole-document ratio: a model
that memorised every trained document predicts those tokens of unseen text as well as a copy's.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
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
    ap.add_argument("--ngram", type=int, default=5, help="tokens in the n-grams that decide a document's own tokens")
    a = ap.parse_args()

    from sample_runs import attrib, sample_overrides, single_owner_documents  # benchmarks/sample_runs.py

    from tests.runs import write_config

    config_path = Path(a.config).resolve()
    base, docs, by_holder, trained_ids = single_owner_documents(config_path)
    rng = np.random.default_rng(a.seed)
    held: dict[str, list[dict]] = {}
    for h in sorted(by_holder):
        if len(by_holder[h]) >= a.holdout + 2:
            pick = rng.choice(len(by_holder[h]), size=a.holdout, replace=False)
            held[h] = [by_holder[h][i] for i in sorted(pick)]
    held_ids = {d["id"] for ds in held.values() for d in ds}
    copies = {h: [d for d in by_holder[h] if d["id"] not in held_ids] for h in held}
    probes = [d for ds in (*copies.values(), *held.values()) for d in ds]
    probe_ids = {d["id"] for d in probes}
    others = [d for d in docs if d["id"] in trained_ids and d["id"] not in probe_ids]  # their n-grams count too

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
        tokens, before, after = _token_losses(cfg, run, [d["text"] for d in probes + others])

    ids = {d["id"]: i for i, d in enumerate(probes + others)}
    # n-grams of every trained document: a probe's token is "its own" when no other trained document has
    # the n-gram ending at it (what only that document, not the holder's domain, could teach)
    trained = [d for d in probes + others if d["id"] not in held_ids]
    counts = Counter(g for d in trained for g in set(_grams(tokens[ids[d["id"]]], a.ngram)))

    def own(d) -> np.ndarray:
        t = tokens[ids[d["id"]]]
        mine = set(_grams(t, a.ngram)) if d["id"] not in held_ids else set()
        mask = np.zeros(len(t), bool)
        for j, g in enumerate(_grams(t, a.ngram), start=a.ngram - 1):
            mask[j] = counts[g] - (g in mine) == 0
        return mask

    masks = {d["id"]: own(d) for d in probes}
    drop = {d["id"]: before[ids[d["id"]]] - after[ids[d["id"]]] for d in probes}
    shared = np.mean([1 - masks[d["id"]][a.ngram - 1:].mean() for ds in held.values() for d in ds])
    print(f"memorisation on {config_path.name}: {len(held)} holders, {a.holdout} held out each, seed {a.seed}, "
          f"epochs {a.epochs or base['training'].get('epochs')}, train {train_s:.0f} s; {shared:.0%} of the "
          f"held-out documents' {a.ngram}-grams are in trained documents")
    print(f"{'holder':8s} | {'copies':>6s} | {'base loss':>9s} | {'copy drop':>9s} | {'unseen drop':>11s} | ratio | "
          f"own tokens: copy drop | unseen drop | ratio")
    rows = []
    for h in [*held, "all"]:
        cs = copies[h] if h != "all" else [d for ds in copies.values() for d in ds]
        us = held[h] if h != "all" else [d for ds in held.values() for d in ds]
        c, u = (np.mean([drop[d["id"]].mean() for d in group]) for group in (cs, us))
        co, uo = (np.concatenate([drop[d["id"]][masks[d["id"]]] for d in group]).mean() for group in (cs, us))
        b = np.mean([before[ids[d["id"]]].mean() for d in cs])
        if h != "all":
            rows.append((c / u, co / uo))
        print(f"{h:8s} | {len(cs):6d} | {b:9.3f} | {c:9.3f} | {u:11.3f} | {c / u:5.2f} | {co:21.3f} | {uo:11.3f} | "
              f"{co / uo:5.2f}")
    r = np.array(rows)
    print(f"per holder: whole documents min {r[:, 0].min():.2f}, median {np.median(r[:, 0]):.2f}; own tokens min "
          f"{r[:, 1].min():.2f}, median {np.median(r[:, 1]):.2f} (goal: whole documents >= 2)")


def _grams(t: np.ndarray, n: int) -> list[tuple]:
    return [tuple(t[j - n + 1:j + 1]) for j in range(n - 1, len(t))]


def _token_losses(cfg: Path, run: Path, texts: list[str]) -> tuple[list[np.ndarray], ...]:
    """Each text's tokens and per-token losses (nats) under the config's base weights and the run's model."""
    import torch.nn.functional as F

    from attribcli.config import load_config
    from attribcli.model.gpt import GPT, GPTConfig, load_base_weights
    from attribcli.model.tokenizer import load_tokenizer
    from attribcli.training.steps import pad_batch

    config = load_config(cfg)
    mc = config.model
    tok = load_tokenizer(mc.tokenizer)
    tokens = [np.array(tok.encode(t)[:mc.context_length]) for t in texts]
    x, y, _ = pad_batch([([tok.bos_id] + t.tolist(), 1) for t in tokens], "cpu")
    out = []
    for weights in (mc.base_weights, run / "model.pt"):
        torch.manual_seed(config.seed)  # without base weights, the run's own initialisation (as prepare does)
        model = GPT(GPTConfig(tok.vocab_size, mc.context_length, mc.n_layer, mc.n_head, mc.n_embd)).eval()
        if weights is not None:
            load_base_weights(model, weights, tokenizer=tok.id)
        with torch.no_grad():
            nll = torch.cat([F.cross_entropy(model(x[i:i + 32]).transpose(1, 2), y[i:i + 32], reduction="none")
                             for i in range(0, len(texts), 32)]).double().numpy()
        out.append([nll[i, :len(t)] for i, t in enumerate(tokens)])
    return tokens, out[0], out[1]


if __name__ == "__main__":
    main()
