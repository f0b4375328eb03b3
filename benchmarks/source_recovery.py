"""When a generation copies, paraphrases or imitates one holder's documents, is that holder ranked first?

    python benchmarks/source_recovery.py [--per-holder 1] [--seed 0] [--epochs N] [--rule path|taylor]
                                         [--keep-run DIR] [--png out.png] [--write-generations FILE]

Generations are built from the sample corpus (fixed seed) for every holder that owns, alone, at least
one document the sample's licence policy trains on (non-commercial documents are left out, so h05 has
none and h08 one). Per holder and per kind, ``--per-holder`` generations:

- copy:       an exact 120-200 character span of one of the holder's trained documents;
- paraphrase: the same span with ~25 % of its words replaced, from a small fixed substitution table or
              else by another word of the same holder's vocabulary;
- imitation:  a new 120-200 character text stitched from sentence fragments of OTHER trained documents
              of the same holder (never the span's source document; holders with one document skipped).

Each generation is a prompt (the first ~20 characters, cut at a space) plus the completion (the rest),
at most 230 bytes. attrib then trains on the sample exactly as ``configs/sample.yaml`` does (model shape,
base weights, training settings, licence policy; ``--epochs`` overrides the epochs) with these
generations as targets (``attrib train``), and ``attrib value RUN --by sample`` values are summed per
owner of single-owner documents, as tests/test_sample.py does.

Baselines, computed here on the completion against the same single-owner trained documents:
TF-IDF over character 4-grams (cosine, smoothed idf, l2-normalised), per holder by max and by sum, and
BM25 (k1 1.5, b 0.75) over lower-cased word tokens, per holder by max and by sum.

Reported per kind: top-1 accuracy and mean reciprocal rank of the true holder among the candidate
holders. Ties count against the true holder (rank = 1 + holders scoring >= it, other than itself).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from plotting import png_figure  # noqa: E402  (benchmarks/plotting.py)

KINDS = ("copy", "paraphrase", "imitation")
MAX_BYTES = 230
PROMPT_CHARS = 20
# a small fixed substitution table (lower-case word -> replacement); other words draw from the holder
SUBSTITUTE = {
    "the": "a", "a": "the", "and": "plus", "of": "from", "to": "toward", "in": "within", "on": "upon",
    "with": "alongside", "at": "by", "for": "as", "is": "was", "was": "is", "from": "out of",
    "into": "inside", "it": "this", "this": "that", "then": "next", "when": "as soon as", "more": "further",
    "small": "little", "large": "big", "big": "large", "good": "fine", "old": "ancient", "new": "fresh",
    "low": "lowered", "high": "tall", "light": "gentle", "strong": "heavy", "add": "stir in",
    "make": "produce", "made": "produced", "wind": "breeze", "rain": "showers", "sea": "ocean",
    "came": "arrived", "rode": "travelled", "home": "back", "minutes": "mins", "minute": "min",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"),
                    help="the config whose model, data, training and licence sections are reused")
    ap.add_argument("--per-holder", type=int, default=1, help="generations per holder and kind")
    ap.add_argument("--seed", type=int, default=0, help="seed of the generation builder")
    ap.add_argument("--epochs", type=int, default=None, help="override the config's training epochs")
    ap.add_argument("--keep-run", metavar="DIR", default=None, help="keep the run (and its config) in DIR")
    ap.add_argument("--rule", choices=["path", "taylor"], default=None, help="override attribution.rule")
    ap.add_argument("--png", default=None, help="top-1 and MRR per method and kind, grouped bars (needs matplotlib)")
    ap.add_argument("--data", default=None, metavar="DIR",
                    help="another corpus: DIR/corpus.jsonl and DIR/holders.csv (and DIR/reference.jsonl, the reference "
                         "texts, unless --reference says otherwise), e.g. benchmarks/debian_corpus.py's; the config's "
                         "model, training and licence policy are kept")
    ap.add_argument("--reference", default=None,
                    help="data.reference for the run (its values split into specific and shared parts; default: "
                         "the config's); 'none' to train without")
    ap.add_argument("--write-generations", metavar="FILE", default=None,
                    help="only write the generations (JSONL) to FILE, e.g. for fidelity_regimes.py --generations")
    a = ap.parse_args()

    from sample_runs import attrib, sample_overrides, single_owner_documents  # benchmarks/sample_runs.py

    from tests.runs import write_config

    config_path = Path(a.config).resolve()
    data = Path(a.data).resolve() if a.data else None
    base, _, by_holder, _ = single_owner_documents(config_path, data / "corpus.jsonl" if data else None)
    payee_of = {h: _payee(h, by_holder, base) for h in by_holder}
    single = {d["id"]: d for docs in by_holder.values() for d in docs}
    holders = sorted(by_holder)

    gens, truth = build_generations(by_holder, a.per_holder, a.seed)
    print(f"{len(gens)} generations for {len(holders)} holders ({', '.join(holders)}), "
          f"{len(single)} single-owner trained documents", file=sys.stderr)
    if a.write_generations:
        Path(a.write_generations).write_text("".join(json.dumps(g) + "\n" for g in gens))
        return

    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="source_recovery_") as tmp:
        work = Path(a.keep_run).resolve() if a.keep_run else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        gen_path = work / "generations.jsonl"
        gen_path.write_text("".join(json.dumps(g) + "\n" for g in gens))
        overrides = sample_overrides(config_path, base, generations=gen_path, epochs=a.epochs, rule=a.rule,
                                     corpus=data / "corpus.jsonl" if data else None)
        if data:
            overrides["data__holders"] = str(data / "holders.csv")
        if a.reference:  # given here: relative to the working folder
            reference = None if a.reference == "none" else Path(a.reference).resolve()
        elif data and (data / "reference.jsonl").is_file():
            reference = data / "reference.jsonl"
        else:  # the config's: relative to its folder
            named = (base.get("data") or {}).get("reference")
            reference = (config_path.parent / named).resolve() if named else None
        parts = reference is not None
        if parts:
            overrides["data__reference"] = str(reference)
        cfg = write_config(work, **overrides)
        run = work / "run"
        reused = bool(a.keep_run and (run / "manifest.json").is_file()
                      and (run / "inputs/generations.jsonl").read_text().count("\n") == len(gens))
        if not reused:  # a kept run of the same generations is reused
            attrib("train", cfg, "--run-dir", run, "--overwrite")
        tables = {part: list(csv.DictReader(io.StringIO(attrib("value", run, "--by", "sample", "--part", part)
                                                        .stdout)))
                  for part in (("total", "specific", "shared") if parts else ("total",))}
        money = {rule: json.loads(attrib("payout", run, "--revenue", "1000.00", "--format", "json",
                                         *(["--shared", rule] if parts else [])).stdout)
                 for rule in (("total", "pool", "tokens", "generation") if parts else ("total",))}
    train_s = time.time() - t0

    scores: dict[str, dict[str, np.ndarray]] = {}  # method -> gen id -> per-holder scores (order: holders)
    for part, rows in tables.items():
        summed = {}
        for g in gens:
            per = dict.fromkeys(holders, 0.0)
            for r in rows:
                if r["holders"] in per:  # a single owner's document (co-owned ones read "h01 0.5 + h04 0.5")
                    per[r["holders"]] += float(r[g["id"]])
            summed[g["id"]] = np.array([per[h] for h in holders])
        scores["attrib (sum)" if part == "total" else f"attrib {part} (sum)"] = summed
    doc_list = sorted(single.values(), key=lambda d: d["id"])
    owner = np.array([holders.index(d["holders"][0]["id"]) for d in doc_list])
    texts = [d["text"] for d in doc_list]
    queries = [g["completion"] for g in gens]
    tfidf = tfidf_char_cosine(texts, queries, n=4)
    bm = bm25(texts, queries)
    for name, mat in (("TF-IDF char4", tfidf), ("BM25 words", bm)):
        for agg in ("max", "sum"):
            scores[f"{name} ({agg})"] = {g["id"]: _aggregate(mat[i], owner, len(holders), agg)
                                         for i, g in enumerate(gens)}

    print(f"source recovery on {a.data or 'the sample'}: {len(holders)} candidate holders, {a.per_holder} "
          f"generation(s) per holder and kind, seed {a.seed}, epochs {a.epochs or base['training'].get('epochs')}, "
          f"attrib train+value {train_s:.0f} s" + (" (the kept run reused)" if reused else ""))
    counts = Counter(kind for kind, _ in truth.values())
    header = f"{'method':20s}" + "".join(f" | {k + f' (n={counts[k]})':>21s}" for k in KINDS)
    print(header)
    print(f"{'':20s}" + " | top-1    MRR       " * len(KINDS))
    print("-" * len(header))
    top1: dict[str, list[float]] = {}  # method -> per kind (order: KINDS)
    mrr: dict[str, list[float]] = {}
    for method, per_gen in scores.items():
        cells = []
        top1[method], mrr[method] = [], []
        for kind in KINDS:
            ranks = [_rank(per_gen[gid], holders.index(h)) for gid, (k, h) in truth.items() if k == kind]
            top1[method].append(np.mean([r == 1 for r in ranks]))
            mrr[method].append(np.mean([1 / r for r in ranks]))
            cells.append(f" | {top1[method][-1]:5.3f}  {mrr[method][-1]:6.3f}     ")
        print(f"{method:20s}" + "".join(cells))

    print()
    print("Money: attrib payout --revenue 1000.00 --shared RULE; per kind, how often the true holder's payee is paid "
          "most (of every payee), and the median share of the generation's data-stage money it receives")
    print(f"{'payout.shared':20s}" + "".join(f" | {k:>21s}" for k in KINDS))
    for rule, doc in money.items():
        cells = []
        for kind in KINDS:
            firsts, shares = [], []
            for g in doc["generations"]:
                if truth.get(g["generation_id"], ("",))[0] != kind:
                    continue
                true = payee_of[truth[g["generation_id"]][1]]
                lines = {ln["payee_id"]: ln["amount_minor"] for ln in g["lines"]
                         if ln["payee_id"] not in STAGE_PAYEES}
                data = g["stages"]["fine_tuning"]["amount_minor"]
                firsts.append(lines.get(true, 0) > 0 and lines.get(true, 0) == max(lines.values())
                              and sum(v == lines[true] for v in lines.values()) == 1)
                shares.append(lines.get(true, 0) / data if data else 0.0)
            cells.append(f" | first {np.mean(firsts):4.2f}, {np.median(shares):5.1%}")
        print(f"{rule:20s}" + "".join(cells))

    with png_figure(a.png, ncols=2, width=6.0, title=f"Source recovery on the sample: {len(holders)} candidate "
                    f"holders, {a.per_holder} generation(s) per holder and kind") as axes:
        if axes is None:
            return
        x = np.arange(len(KINDS))
        w = 0.8 / len(scores)
        for ax, values, name in ((axes[0], top1, "top-1 accuracy"), (axes[1], mrr, "mean reciprocal rank")):
            for i, (method, v) in enumerate(values.items()):
                ax.bar(x + (i - (len(scores) - 1) / 2) * w, v, w, label=method, color=f"C{i}")
            ax.set_xticks(x, [f"{k} (n={counts[k]})" for k in KINDS])
            ax.set_ylim(0, 1.3)  # room for the legend above the bars
            ax.set_yticks(np.linspace(0, 1, 6))
            ax.set_ylabel(name)
        axes[0].axhline(1 / len(holders), color="k", ls=":", lw=0.8, label="chance")
        axes[0].legend(fontsize=7, ncol=3, loc="upper center")


STAGE_PAYEES = ("PLATFORM", "BASE_MODEL", "PROMPT_AUTHORS", "UNALLOCATED")


def _payee(holder: str, by_holder: dict[str, list[dict]], base: dict) -> str:
    """Who is paid for ``holder``'s documents: the holder, or the commons line for public-domain works."""
    from attribcli.rights.licenses import classify

    commons = (base.get("payout") or {}).get("commons_payee", "COMMONS")
    public = [classify(d["license"]).public_domain for d in by_holder[holder]]
    return commons if all(public) and (base.get("licenses") or {}).get("commons_public_domain", True) else holder


def build_generations(by_holder: dict[str, list[dict]], per_holder: int, seed: int):
    rng = np.random.default_rng(seed)
    gens, truth = [], {}
    for h in sorted(by_holder):
        hdocs = sorted(by_holder[h], key=lambda d: d["id"])
        vocab = sorted({w for d in hdocs for w in re.findall(r"[A-Za-z]{3,}", d["text"])})
        picks = rng.permutation(len(hdocs))
        for k in range(per_holder):
            src = hdocs[picks[k % len(hdocs)]]
            span = _span(src["text"], rng)
            others = [d for d in hdocs if d["id"] != src["id"]]
            texts = {"copy": span, "paraphrase": _paraphrase(span, vocab, rng),
                     "imitation": _stitch(others, rng) if others else None}
            for kind in KINDS:
                if texts[kind] is None:
                    continue
                gid = f"{kind[:4]}-{h}-{k:02d}"
                prompt, completion = _split(texts[kind])
                gens.append({"id": gid, "prompt": prompt, "completion": completion})
                truth[gid] = (kind, h)
    return gens, truth


def _span(text: str, rng) -> str:
    """A 120-200 character span starting at a word start (or the text's start)."""
    length = int(rng.integers(120, 201))
    starts = [0] + [m.end() for m in re.finditer(r"\s+", text) if m.end() <= len(text) - 120]
    start = int(rng.choice(starts)) if starts else 0
    return text[start:start + length].rstrip()


def _paraphrase(span: str, vocab: list[str], rng) -> str:
    words = re.split(r"(\s+)", span)
    idx = [i for i, w in enumerate(words) if re.search(r"[A-Za-z]", w)]
    chosen = rng.choice(idx, size=max(1, round(0.25 * len(idx))), replace=False) if idx else []
    for i in chosen:
        m = re.match(r"^([^A-Za-z]*)([A-Za-z']+)(.*)$", words[i])
        if not m:
            continue
        lead, core, tail = m.groups()
        new = SUBSTITUTE.get(core.lower()) or str(rng.choice([v for v in vocab if v.lower() != core.lower()]))
        if core[:1].isupper():
            new = new[:1].upper() + new[1:]
        words[i] = lead + new + tail
    return "".join(words)


def _stitch(docs: list[dict], rng) -> str:
    """Sentence fragments of these documents, in random order, until 120-200 characters."""
    frags = [f.strip() for d in docs for f in re.split(r"(?<=[.;:!?])\s+|\n+", d["text"]) if len(f.strip()) >= 8]
    target = int(rng.integers(120, 201))
    out = ""
    for i in rng.permutation(len(frags)):
        piece = frags[i]
        if len(out) + 1 + len(piece) > 200:
            piece = piece[:max(0, 200 - len(out) - 1)].rsplit(" ", 1)[0]
        if piece:
            out = f"{out} {piece}".strip()
        if len(out) >= target:
            break
    return out[:200]


def _split(text: str) -> tuple[str, str]:
    text = text.encode("ascii", "ignore").decode()[:MAX_BYTES]
    cut = text.rfind(" ", 0, PROMPT_CHARS + 1)
    cut = PROMPT_CHARS if cut < 8 else cut
    return text[:cut], text[cut:]


def tfidf_char_cosine(docs: list[str], queries: list[str], n: int = 4) -> np.ndarray:
    """Cosine of TF-IDF vectors over character n-grams (lower-cased); idf = ln((1+N)/(1+df)) + 1."""
    def grams(t):
        t = t.lower()
        return Counter(t[i:i + n] for i in range(len(t) - n + 1))

    dg = [grams(t) for t in docs]
    vocab = {g: i for i, g in enumerate(sorted({g for c in dg for g in c}))}
    df = np.zeros(len(vocab))
    for c in dg:
        df[[vocab[g] for g in c]] += 1
    idf = np.log((1 + len(docs)) / (1 + df)) + 1

    def matrix(counters):
        m = np.zeros((len(counters), len(vocab)))
        for r, c in enumerate(counters):
            for g, k in c.items():
                if g in vocab:
                    m[r, vocab[g]] = k
        m *= idf
        return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)

    return matrix([grams(q) for q in queries]) @ matrix(dg).T


def bm25(docs: list[str], queries: list[str], k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """Okapi BM25 over lower-cased word tokens; idf = ln(1 + (N - df + 0.5)/(df + 0.5))."""
    tok = [re.findall(r"[a-z0-9]+", t.lower()) for t in docs]
    tf = [Counter(t) for t in tok]
    lens = np.array([len(t) for t in tok], dtype=float)
    avg = lens.mean()
    df = Counter(w for c in tf for w in c)
    out = np.zeros((len(queries), len(docs)))
    for qi, q in enumerate(queries):
        for w in set(re.findall(r"[a-z0-9]+", q.lower())):
            if w not in df:
                continue
            idf = math.log(1 + (len(docs) - df[w] + 0.5) / (df[w] + 0.5))
            f = np.array([c.get(w, 0) for c in tf], dtype=float)
            out[qi] += idf * f * (k1 + 1) / (f + k1 * (1 - b + b * lens / avg))
    return out


def _aggregate(doc_scores: np.ndarray, owner: np.ndarray, n_holders: int, how: str) -> np.ndarray:
    out = np.full(n_holders, -np.inf) if how == "max" else np.zeros(n_holders)
    for s, o in zip(doc_scores, owner):
        out[o] = max(out[o], s) if how == "max" else out[o] + s
    return out


def _rank(per_holder: np.ndarray, true: int) -> int:
    """1 + the holders scoring at least as much as the true one (ties count against it)."""
    others = np.delete(per_holder, true)
    return 1 + int(np.sum(others >= per_holder[true]))


if __name__ == "__main__":
    main()
