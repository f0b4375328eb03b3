"""Holder leave-one-out by retraining: does each generation's value rank holders as removing them does?

    python benchmarks/holder_loo.py [--config configs/sample.yaml] [--seeds 1234 777]
                                    [--reference sample_data/reference.jsonl] [--work DIR] [--out FILE]

The config is trained once with every document and its generations (``attrib train``, with ``data.reference``
so each value has its shared and specific parts), then once per holder with every document that holder
owns (alone or co-owned) removed, same seed, without generations (plain steps: a run's trajectory does not
depend on the generations it values). Each generation's loss under every run's final weights gives
``Δ_h(g) = loss without h − loss with everyone``: what holder h did for generation g.

Scored against Δ per generation, over the holders with a trained document (rank agreement: Spearman, and
top-1: the holder whose removal hurts g most is the one scored highest):

- attrib's holder values (Σ share × document value, per original holder: public-domain documents count for
  their authors here, not the COMMONS line): total, specific part, shared part;
- TF-IDF (character 4-grams, cosine) and BM25 (words) between the completion and each document, per holder
  by max and by sum (benchmarks/source_recovery.py);
- gradient similarity at the final weights: Σ over the holder's documents of share × <∇l_doc, ∇l_g>.

Also reported: the same agreement against Δ of the period's total (Σ over generations), and the Pearson
correlation of the values with Δ in nats.

Removing a holder changes the number of samples, so the retrained run sees every other sample in another
order: Δ carries the data-order noise that the seed benchmark measures (seed_stability.py). With several
``--seeds`` every run is repeated per seed, Δ and the scores are their means, and the table's last row is the
ceiling that noise sets: the agreement of Δ under one seed with Δ under another.

``--lds K`` adds the linear datamodeling score (LDS, the field's standard for attribution): K random halves of
the holders (seeded by ``--lds-seed``), each trained alone (every document a left-out holder owns removed), per
seed; for each generation, the Spearman correlation over the K subsets between the loss reduction the subset
achieves (−loss under its final weights) and the sum of its holders' scores. Retraining a half removes
several holders' worth of signal at once, so the data-order noise weighs less than in leave-one-out; the
ceiling row is again the same subsets' losses under another seed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from seed_stability import seeded_config  # noqa: E402  (benchmarks/seed_stability.py)
from source_recovery import bm25, tfidf_char_cosine  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs/sample.yaml")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1234])
    ap.add_argument("--reference", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=None, help="keep the runs here (a finished run is reused)")
    ap.add_argument("--holders", nargs="+", default=None, help="leave out only these holders (default: every "
                                                                 "holder with a trained document)")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown tables here")
    ap.add_argument("--lds", type=int, default=0, metavar="K", help="also score K random half-subsets of the "
                                                                    "holders, each retrained (LDS)")
    ap.add_argument("--lds-seed", type=int, default=0, help="draws the LDS subsets")
    ap.add_argument("--skip-loo", action="store_true", help="only the LDS subsets (no leave-one-out runs)")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="attrib-loo-"))
    work.mkdir(parents=True, exist_ok=True)
    deltas, scores, subset_losses = [], [], []
    for seed in a.seeds:
        full = work / f"seed-{seed}"
        cfg = seeded_config(a.config, seed, full, a.reference, None, work)
        _train(cfg, full)
        raw = yaml.safe_load(cfg.read_text())
        docs = [json.loads(line) for line in Path(raw["data"]["corpus"]).read_text().splitlines() if line.strip()]
        documents = _trained_documents(full)
        holders = sorted({h["id"] for d in docs if d["id"] in documents for h in d["holders"]}
                         & set(a.holders or [h["id"] for d in docs for h in d["holders"]]))
        losses = {None: _final_losses(full, raw)}
        for h in [] if a.skip_loo else holders:
            losses[h] = _retrained(work, f"seed-{seed}-without-{h}", f"corpus-without-{h}", raw, docs, {h})
            print(f"seed {seed}, without {h}: trained", file=sys.stderr)
        if not a.skip_loo:
            deltas.append(np.array([losses[h] - losses[None] for h in holders]))  # [holders × generations]
        scores.append(attribution_scores(full, raw, docs, holders))
        if a.lds:
            subsets = lds_subsets(holders, a.lds, a.lds_seed)
            subset_losses.append(np.array([
                _retrained(work, f"seed-{seed}-lds{a.lds_seed}-{k}", f"corpus-lds{a.lds_seed}-{k}", raw, docs,
                           set(holders) - set(s)) for k, s in enumerate(subsets)]))  # [K × generations]
            print(f"seed {seed}: {a.lds} LDS subsets trained", file=sys.stderr)
    mean_scores = {k: np.mean([s[k] for s in scores], axis=0) for k in scores[0]}
    text = ""
    if a.lds:
        text = render_lds(subset_losses, subsets, mean_scores, holders, a) + "\n"
    if a.skip_loo:
        print(text)
        if a.out:
            a.out.write_text(text)
        return
    delta = np.mean(deltas, axis=0)
    if len(deltas) > 1:  # the ceiling: Δ under the first seed scored against Δ under the second
        mean_scores["(ceiling) Δ under another seed"] = deltas[1]
        delta_first = deltas[0]
    else:
        delta_first = None
    text = render(delta, mean_scores, holders, a, work, delta_first) + text
    print(text)
    if a.out:
        a.out.write_text(text)


def _retrained(work: Path, name: str, corpus_name: str, raw: dict, docs: list[dict], removed: set[str]):
    """Final losses of the config retrained without every document a holder in ``removed`` owns."""
    out, corpus = work / name, work / f"{corpus_name}.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in docs
                              if not removed & {x["id"] for x in d["holders"]}))
    cfg = dict(raw, run_dir=str(out), data={**raw["data"], "corpus": str(corpus)})
    for key in ("generations", "reference"):
        cfg["data"].pop(key, None)
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    _train(path, out)
    return _final_losses(out, raw)


def lds_subsets(holders: list[str], k: int, seed: int) -> list[list[str]]:
    """K distinct random halves of the holders (seeded)."""
    import math

    if k > math.comb(len(holders), len(holders) // 2):
        sys.exit(f"--lds {k}: only {math.comb(len(holders), len(holders) // 2)} halves of {len(holders)} holders")
    rng = np.random.default_rng(seed)
    out: list[list[str]] = []
    while len(out) < k:
        s = sorted(rng.choice(holders, size=len(holders) // 2, replace=False).tolist())
        if s not in out:
            out.append(s)
    return out


def render_lds(subset_losses: list[np.ndarray], subsets: list[list[str]], scores: dict, holders: list[str],
               a) -> str:
    """LDS per method: Spearman over subsets of Σ_{h∈S} score against −loss_S, per generation."""
    gain = -np.mean(subset_losses, axis=0)  # [K × generations]
    member = np.array([[h in s for h in holders] for s in subsets], dtype=float)  # [K × holders]
    M = gain.shape[1]
    lines = [f"LDS over {len(subsets)} random halves of the {len(holders)} holders (subsets drawn with seed "
             f"{a.lds_seed}; each retrained under seeds {', '.join(map(str, a.seeds))}, losses their mean)", "",
             "| method | LDS: mean over generations | median | min |", "|---|---:|---:|---:|"]
    rows = dict(scores)
    if len(subset_losses) > 1:
        rows = {k: v for k, v in rows.items() if not k.startswith("(ceiling)")}
    for name, s in rows.items():
        pred = member @ s  # [K × generations]
        rho = [spearman(pred[:, g], gain[:, g]) for g in range(M)]
        lines.append(f"| {name} | {np.nanmean(rho):.2f} | {np.nanmedian(rho):.2f} | {np.nanmin(rho):.2f} |")
    if len(subset_losses) > 1:
        rho = [spearman(-subset_losses[1][:, g], -subset_losses[0][:, g]) for g in range(M)]
        lines.append(f"| (ceiling) the subsets' losses under another seed | {np.nanmean(rho):.2f} | "
                     f"{np.nanmedian(rho):.2f} | {np.nanmin(rho):.2f} |")
    return "\n".join(lines) + "\n"


def _train(cfg: Path, run: Path) -> None:
    if (run / "manifest.json").is_file():
        return
    r = subprocess.run([sys.executable, "-m", "attribcli", "train", str(cfg), "--overwrite"], cwd=ROOT,
                       capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"attrib train {cfg} failed:\n{r.stderr}")


def _trained_documents(run: Path) -> set[str]:
    import pandas as pd

    return set(pd.read_csv(run / "samples.csv", dtype={"doc_id": str})["doc_id"])


def _generations(raw: dict):
    from attribcli.data.generations import Generation

    lines = Path(raw["data"]["generations"]).read_text().splitlines()
    return [Generation(r["id"], r["prompt"], r["completion"], r.get("revenue"))
            for r in (json.loads(x) for x in lines if x.strip())]


def _final_losses(run: Path, raw: dict) -> np.ndarray:
    """Each generation's completion loss under the run's final weights (model.pt)."""
    import torch

    from attribcli.posttrain.rundir import load_model
    from attribcli.training.steps import target_batch, target_losses

    torch.set_num_threads(1)  # the same sums in every run
    model, tok, _ = load_model(run)
    return target_losses(model, target_batch(_generations(raw), torch.device("cpu"), tok=tok))


def attribution_scores(run: Path, raw: dict, docs: list[dict], holders: list[str]) -> dict[str, np.ndarray]:
    """Method → ``[holders × generations]`` score."""
    import dataclasses

    import torch

    from attribcli.model.gpt import sequence_losses
    from attribcli.posttrain.rundir import load_model, open_run
    from attribcli.training.steps import pad_batch
    from attribcli.valuation import values as V

    r = open_run(run)
    trained = [d for d in docs if d["id"] in _trained_documents(run)]
    share = np.zeros((len(holders), len(trained)))  # holder × document ownership share
    for j, d in enumerate(trained):
        for h in d["holders"]:
            if h["id"] in holders:
                share[holders.index(h["id"]), j] = h["share"]
    out = {}
    for part, table in (("attrib: total", r.values), ("attrib: specific", np.asarray(r.values) - r.shared),
                        ("attrib: shared", r.shared)):
        dv = V.document_values(dataclasses.replace(r, values=np.asarray(table)))
        out[part] = share @ dv.reindex([d["id"] for d in trained]).fillna(0.0).to_numpy()
    gens = _generations(raw)
    texts, queries = [d["text"] for d in trained], [g.completion for g in gens]
    for name, mat in (("TF-IDF char 4-grams", tfidf_char_cosine(texts, queries, n=4)),
                      ("BM25 words", bm25(texts, queries))):
        owned = share > 0
        out[f"{name} (max)"] = np.array([[mat[g][owned[i]].max() if owned[i].any() else 0.0
                                          for g in range(len(gens))] for i in range(len(holders))])
        out[f"{name} (sum)"] = share @ mat.T
    model, tok, context = load_model(run)
    params = [p for p in model.parameters() if p.requires_grad]

    def grad(tokens, first):
        x, y, m = pad_batch([(tokens[:context + 1], first)], torch.device("cpu"))
        model.zero_grad()
        sequence_losses(model(x), y, m).sum().backward()
        return torch.cat([p.grad.flatten() for p in params]).clone()

    G = torch.stack([grad(*g.tokens(tok)) for g in gens])
    dots = np.array([(G @ grad([tok.bos_id] + tok.encode(t), 1)).numpy() for t in texts])  # [documents × M]
    out["gradient similarity (final weights)"] = share @ dots
    return out


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for v in np.unique(x):  # ties: their average rank
        tie = x == v
        ranks[tie] = ranks[tie].mean()
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra, rb = _ranks(a), _ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _others(score: np.ndarray, delta: np.ndarray) -> float:
    keep = np.arange(len(delta)) != np.argmax(delta)
    return spearman(score[keep], delta[keep])


def render(delta: np.ndarray, scores: dict, holders: list[str], a, work: Path,
           delta_first: np.ndarray | None = None) -> str:
    M = delta.shape[1]
    lines = [f"Holder leave-one-out, seeds {', '.join(map(str, a.seeds))} (Δ and scores: their mean), "
             f"{len(holders)} holders ({', '.join(holders)}), {M} generations; runs in {work}", "",
             "| method | Spearman per generation: median | min | top-1 (of "
             f"{M}) | Spearman of the period's total | Pearson with Δ (nats, all cells) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, s in scores.items():
        target = delta_first if name.startswith("(ceiling)") else delta
        rho = [spearman(s[:, g], target[:, g]) for g in range(M)]
        top = sum(int(np.argmax(s[:, g]) == np.argmax(target[:, g])) for g in range(M))
        pearson = float(np.corrcoef(s.ravel(), target.ravel())[0, 1]) if name[0] in "a(" else float("nan")
        lines.append(f"| {name} | {np.nanmedian(rho):.2f} | {np.nanmin(rho):.2f} | {top} | "
                     f"{spearman(s.sum(1), target.sum(1)):.2f} | "
                     + ("" if np.isnan(pearson) else f"{pearson:.2f}") + " |")
    lines += ["", "Without the generation's own top holder (the one whose removal hurts it most), Spearman over the "
              "others (median over generations): "
              + ", ".join(f"{name} {np.nanmedian([_others(s[:, g], delta[:, g]) for g in range(M)]):.2f}"
                          for name, s in scores.items() if not name.startswith("(ceiling)")), ""]
    lines += ["", "Δ = loss without the holder − loss with everyone (nats), holders × generations:", ""]
    lines += [f"    {h:8s} " + " ".join(f"{v:+.4f}" for v in row) for h, row in zip(holders, delta)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
