"""The copyright case in its real form: the model is prompted with a trained document's opening and its own
greedy continuation is valued after training, by replay. Is the source's holder paid most?

    python benchmarks/copyright_replay.py [--per-holder 1] [--prompt-chars 48] [--max-new-tokens 48]
                                          [--epochs N] [--keep-run DIR]

attrib trains on the sample exactly as ``configs/sample.yaml`` does, but with no generations (nothing is
known before deployment). For each holder that owns, alone, documents the licence policy trains on,
``--per-holder`` of them (the first by id) give a prompt: the document's first ``--prompt-chars``
characters, cut back to a space. ``attrib generate`` completes every prompt greedily with the fine-tuned
model; ``attrib replay`` values the completions; ``attrib value --by sample`` values are summed per
document and per single-owner holder (as source_recovery.py does).

Reported: how often the source document's holder is paid most (top-1 among the candidate holders, ties
against it) and how often the source document ranks first among the trained single-owner documents,
for attrib and for TF-IDF (character 4-grams) and BM25 (words) on the same completions, by a holder's
best document; and how much of each continuation reproduces its source: the characters that continue
the source exactly, and the longest span shared with the source's text after the prompt, as fractions
of the continuation.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def opening(text: str, chars: int) -> str:
    """The document's first ``chars`` characters, cut back to the last space (the prompt)."""
    head = text[:chars]
    return head[:head.rfind(" ")] if " " in head[1:] else head


def reproduced(completion: str, source_rest: str) -> tuple[float, float]:
    """(exact continuation, longest shared span) as fractions of the completion's characters."""
    if not completion:
        return 0.0, 0.0
    exact = next((i for i, (a, b) in enumerate(zip(completion, source_rest)) if a != b),
                 min(len(completion), len(source_rest)))
    m = difflib.SequenceMatcher(None, completion, source_rest, autojunk=False)
    span = m.find_longest_match(0, len(completion), 0, len(source_rest)).size
    return exact / len(completion), span / len(completion)


def rank_of(scores: dict, true) -> int:
    """1 + the candidates scoring at least as much as the true one (ties count against it)."""
    return 1 + sum(1 for k, v in scores.items() if k != true and v >= scores[true])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--per-holder", type=int, default=1, help="source documents per holder")
    ap.add_argument("--prompt-chars", type=int, default=48, help="characters of the document's opening")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=None, help="override the config's training epochs")
    ap.add_argument("--keep-run", metavar="DIR", default=None, help="keep the run (and its config) in DIR")
    a = ap.parse_args()

    from sample_runs import attrib, sample_overrides, single_owner_documents
    from source_recovery import bm25, tfidf_char_cosine

    from tests.runs import write_config

    config_path = Path(a.config).resolve()
    base, _, by_holder, _ = single_owner_documents(config_path)
    holders = sorted(by_holder)
    docs = sorted((d for ds in by_holder.values() for d in ds), key=lambda d: d["id"])
    owner = {d["id"]: d["holders"][0]["id"] for d in docs}
    sources = [d for h in holders for d in sorted(by_holder[h], key=lambda d: d["id"])[:a.per_holder]]
    prompts = [{"id": f"c-{d['id']}", "prompt": opening(d["text"], a.prompt_chars)} for d in sources]
    times = {}
    with tempfile.TemporaryDirectory(prefix="copyright_") as tmp:
        work = Path(a.keep_run).resolve() if a.keep_run else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        (work / "prompts.jsonl").write_text("".join(json.dumps(p) + "\n" for p in prompts))
        overrides = sample_overrides(config_path, base, generations=work / "unused.jsonl", epochs=a.epochs)
        overrides.pop("data__generations")
        cfg = write_config(work, **overrides, data__generations=None)
        run = work / "run"
        t0 = time.time()
        attrib("train", cfg, "--run-dir", run, "--overwrite")
        times["train (no generations)"] = time.time() - t0
        t0 = time.time()
        attrib("generate", run, "--prompts", work / "prompts.jsonl", "--max-new-tokens", a.max_new_tokens,
               "-o", work / "continuations.jsonl")
        times["generate"] = time.time() - t0
        t0 = time.time()
        attrib("replay", run, "--generations", work / "continuations.jsonl", "--name", "copyright")
        times["replay"] = time.time() - t0
        gens = [json.loads(line) for line in (work / "continuations.jsonl").read_text().splitlines()]
        rows = list(csv.DictReader(io.StringIO(attrib("value", run, "--by", "sample", "--valuation",
                                                      "copyright").stdout)))

    per_doc = {g["id"]: defaultdict(float) for g in gens}
    for r in rows:
        if r["doc_id"] in owner:
            for g in gens:
                per_doc[g["id"]][r["doc_id"]] += float(r[g["id"]])
    texts = [d["text"] for d in docs]
    queries = [g["completion"] for g in gens]
    lexical = {"TF-IDF char4": tfidf_char_cosine(texts, queries, n=4), "BM25 words": bm25(texts, queries)}
    results = {m: {"holder": [], "document": []} for m in ["attrib (replay)", *lexical]}
    exact, span = [], []
    for i, (g, src) in enumerate(zip(gens, sources)):
        doc_scores = {"attrib (replay)": dict(per_doc[g["id"]])}
        doc_scores |= {m: {d["id"]: float(mat[i, j]) for j, d in enumerate(docs)} for m, mat in lexical.items()}
        for m, ds in doc_scores.items():
            ds = {d["id"]: ds.get(d["id"], 0.0) for d in docs}
            if m == "attrib (replay)":  # holder values are plain sums of their documents' values
                hs = {h: sum(v for d, v in ds.items() if owner[d] == h) for h in holders}
            else:  # a lexical score by the holder's best document
                hs = {h: max(v for d, v in ds.items() if owner[d] == h) for h in holders}
            results[m]["holder"].append(rank_of(hs, owner[src["id"]]) == 1)
            results[m]["document"].append(rank_of(ds, src["id"]) == 1)
        e, s = reproduced(g["completion"], src["text"][len(g["prompt"]):])
        exact.append(e)
        span.append(s)

    n = len(gens)
    print(f"copyright case on the sample: {n} prompts (the openings of {a.per_holder} trained document(s) for "
          f"each of {len(holders)} holders, {a.prompt_chars} characters), greedy continuations of up to "
          f"{a.max_new_tokens} tokens, valued by replay; {len(docs)} candidate documents; epochs "
          f"{a.epochs or base['training'].get('epochs')}")
    print(f"{'method':18s} | source's holder paid most | source document first")
    print("-" * 66)
    for m, r in results.items():
        print(f"{m:18s} | {sum(r['holder']):3d}/{n} ({np.mean(r['holder']):5.1%})          "
              f"| {sum(r['document']):3d}/{n} ({np.mean(r['document']):5.1%})")
    print(f"continuations reproduce their source: exactly from the prompt on {np.mean(exact):.1%} of their "
          f"characters on average (median {np.median(exact):.1%}); longest shared span {np.mean(span):.1%} "
          f"(median {np.median(span):.1%})")
    print("time: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))


if __name__ == "__main__":
    main()
