"""Where the gradient index's error comes from: an oracle index with no projection, on the sample.

    python benchmarks/index_oracle.py [--every 3] [--keep DIR] [--config C] [--max-steps N]
                                      [--sample-generations 8] [--out FILE.md]

The index (training/index.py) values a generation v by ``Σ_t <u_z,t, ĝ_v(t)>``, with the generation's
gradient ``ĝ_v(t)`` interpolated between K reference points and AdamW's preconditioner split into a rank-one
part on the sample's side and a residual at the point; then everything is projected to ``dim`` numbers.
This benchmark takes the projection away and asks how much of the error is left, and why.

1. The exact values: the sample trained without generations, then ``attrib replay`` of it (with ``--keep``
   the kept plain run and replay of ``index_fidelity.py --keep DIR``, or they are made here).
2. The weights at every ``--every``-th step (candidate points, plus the final weights), and each
   generation's whole gradient there.
3. The same training again; at every step, each sample's whole share of the update, ``u_z,t`` (per-sample
   gradients, materialised: affordable on the sample only), dotted with every generation's gradient at every
   candidate: ``D[t][z, v, q]``, with (a) the step's exact per-element preconditioner on the sample's side and
   (b) the index's split (rank-one on the sample's side, the residual at q on the generation's).

Any choice of points is then a weighted sum of ``D``: the tables report, against the exact values, Spearman
over samples, top holder and payout total-variation distance (as index_fidelity.py measures them), and the
index's value sum over the exact one; the lag profile (a step's value for the generation's gradient taken
3, 6, 9 steps away); and how much of the part only the step's own point sees is one rank (samples x
generations) with one sign across generations.

Memory: every generation's gradient at every candidate, twice (float32): candidates x generations x
parameters x 8 bytes (sample, ``--every 3``: 29 x 16 x 2.6 M: 9.7 GB).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import index_fidelity as fid  # noqa: E402  (benchmarks/index_fidelity.py: configs, runs, comparisons)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--every", type=int, default=3, help="candidate points every this many steps")
    ap.add_argument("--keep", default=None, metavar="DIR", help="index_fidelity.py's --keep DIR (plain run, replay)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--sample-generations", type=int, default=8)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    import torch

    lines = [f"`{' '.join(['python benchmarks/index_oracle.py'] + sys.argv[1:])}`; torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d')}", ""]
    with tempfile.TemporaryDirectory(prefix="index_oracle_") as tmp:
        work = Path(a.keep).resolve() if a.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sets = fid.generation_sets(a, work)
        exact_run = exact_values(a, work)
        tables = oracle_tables(a, work, Path(tmp))
        lines += report(tables, fid.Exact(exact_run, "exact"), exact_run, sets)
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).write_text(text)


def exact_values(a, work: Path) -> Path:
    """The plain run with its exact replay ("exact"), kept in ``work`` as index_fidelity.py keeps it."""
    from attribcli.posttrain.replay import replay

    if not (work / "plain-times.json").is_file():
        plain, t_plain = fid._train(fid._config(a, work, "plain", None))
        _, t_replay = fid._timed(replay, plain, work / "generations.jsonl", "exact", log=fid._quiet)
        (work / "plain-times.json").write_text(json.dumps([t_plain, t_replay]))
    return work / "plain/run"


def oracle_tables(a, work: Path, tmp: Path) -> dict:
    """``D[t]`` for both preconditioner treatments, the batches' sample indices and the candidates."""
    import torch

    import attribcli.training.index as index
    from attribcli.inrun.projection import Projector, by_parameter, rank_one
    from attribcli.inrun.step import target_pass
    from attribcli.inrun.tracker import GhostTracker
    from attribcli.model.gpt import sequence_losses
    from attribcli.posttrain.replay import plan
    from attribcli.training.steps import target_batch

    total = _steps(work / "plain/run")
    cands = sorted(set(range(0, total, a.every)) | {total})
    chosen = index.points
    try:
        # pass 1: a tiny index whose points are the candidates, for their weights and AdamW residuals
        index.points = lambda n, k: [c for c in cands if c < n]
        refs, _ = fid._train(fid._config(a, tmp, "refs", {"dim": 64, "segments": 1}))
        prep = plan(refs, work / "generations.jsonl", "oracle", resume=True)[0]
        model, tracker = prep.model, GhostTracker(prep.model)
        whole = Projector.create(tracker, 1 << 40, 0)  # every parameter kept whole: no projection
        names = list(whole.offsets)

        def flat(d):
            return torch.cat([d[n].reshape(-1).float() for n in names])

        G, scales = [], []
        final = torch.load(refs / "model.pt", weights_only=True)["state_dict"]
        for i, q in enumerate(cands):
            ref = torch.load(refs / index.reference_file(i), weights_only=True) if q < total else None
            model.load_state_dict(ref["model"] if ref else final)
            target_pass(model, tracker, target_batch(prep.generations, prep.device, tok=prep.tokenizer),
                        losses=sequence_losses, amp=nullcontext)
            G.append(whole.dense(by_parameter(tracker, tracker.target_grads())).float())
            tracker.clear()
            scales.append(flat(ref["generation_scale"]) if ref and ref["generation_scale"] else None)
        tracker.close()
        scales = [s if s is not None else next((t for t in scales[::-1] if t is not None), None) for s in scales]
        Gs = torch.cat([g * s[None, :] if s is not None else g for g, s in zip(G, scales)])
        G = torch.cat(G)
        rec = {"idx": {}, "exact": {}, "split": {}, "cands": cands, "M": len(prep.generations)}

        def observer(self, step, rule, model, *, main):
            def observe(train, optimizer):
                factor, pre = rule.split(optimizer)
                mine = Projector(self.projector.tracker, whole.mats)
                g = mine.captured(train).float()
                P = flat(pre) if pre else torch.ones(g.shape[1])
                rec["exact"][step] = ((g * P[None, :] * factor) @ G.T).double().numpy()
                sides = {n: rank_one(p) for n, p in pre.items()} if pre else None
                split = mine.captured(train, sides).float() * factor
                rec["split"][step] = (split @ (Gs if pre else G).T).double().numpy()
                self.rows = np.zeros((g.shape[0], self.projector.dim), np.float32)
            return observe

        add = index.IndexWriter.add

        def record(self, step, idx, rows):
            rec["idx"][step] = np.asarray(idx)
            return add(self, step, idx, rows)

        index.points = chosen
        index.IndexWriter.observer, index.IndexWriter.add = observer, record
        fid._train(fid._config(a, tmp, "tables", {"dim": 64, "segments": 1}))
    finally:
        index.points = chosen
    return rec


def _steps(run: Path) -> int:
    import pandas as pd

    return len(pd.read_csv(run / "steps.csv"))


def hat(t: float, pts: list[int]) -> list[tuple[int, float]]:
    if t <= pts[0]:
        return [(0, 1.0)]
    if t >= pts[-1]:
        return [(len(pts) - 1, 1.0)]
    s = max(i for i, q in enumerate(pts) if q <= t)
    lam = (t - pts[s]) / (pts[s + 1] - pts[s])
    return [(s, 1 - lam), (s + 1, lam)]


def values(rec: dict, n: int, pts: list[int], table: str) -> np.ndarray:
    """The oracle index's values for these points (each step's share to its neighbours, linearly)."""
    M, cands = rec["M"], rec["cands"]
    col = [cands.index(q) for q in pts]
    out = np.zeros((n, M))
    for t, D in rec[table].items():
        for j, w in hat(t, pts):
            out[rec["idx"][t]] += w * D[:, col[j] * M:(col[j] + 1) * M]
    return out


def report(rec: dict, exact, run: Path, sets: dict[str, list[str]]) -> list[str]:
    n, M, cands = exact.values.shape[0], rec["M"], rec["cands"]
    total = cands[-1]
    nearest = sorted({min(cands, key=lambda c: abs(c - q)) for q in fid_points(total, 4)})
    early = sorted({min(cands, key=lambda c: abs(c - q)) for q in (0, total // 8, total // 3, total * 2 // 3,
                                                                        total)})
    head = ["| points | preconditioner | value sum / exact | " + " | ".join(
        f"{s}: Spearman (median) | {s}: top holder | {s}: payout TV" for s in sets) + " |",
            "|---|---|---:|" + "---:|---:|---:|" * len(sets)]
    rows = []
    for label, pts in ((f"every {cands[1] - cands[0]} steps ({len(cands)})", cands),
                       (f"the default's 4 middles (nearest candidates {nearest})", nearest),
                       (f"{len(early)}, front-loaded {early}", early)):
        for table, what in (("exact", "exact, on the sample's side"), ("split", "the index's split")):
            v = values(rec, n, pts, table)
            cells = []
            for ids in sets.values():
                m = exact.compare(fid.Exact(run, "exact", values=v), ids)
                cells += [f"{m['spearman']:.3f}", f"{m['top']}/{len(ids)}", f"{m['tv']:.1%}"]
            rows.append(f"| {label} | {what} | {v.sum(0).mean() / exact.values.sum(0).mean():.2f} | "
                        + " | ".join(cells) + " |")
    lag = ["", "A step's value (summed over its batch, mean over generations) with the generation's gradient "
           "taken at the step's own weights and some steps away (exact preconditioner):", "",
           "| step | -9 | -6 | -3 | own | +3 | +6 | +9 | own-only part: one rank's share | one sign over generations |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    every = cands[1] - cands[0]
    for i, t in enumerate(cands[1:-1], 1):
        if t not in rec["exact"] or i % max(1, len(cands) // 10):
            continue
        D = rec["exact"][t]
        cells = []
        for lag_steps in (-9, -6, -3, 0, 3, 6, 9):
            j = i + lag_steps // every if lag_steps % every == 0 else -1
            cells.append(f"{D[:, j * M:(j + 1) * M].sum(0).mean():+.4f}" if 0 <= j < len(cands) else "")
        fast = D[:, i * M:(i + 1) * M] - 0.5 * (D[:, (i - 1) * M:i * M] + D[:, (i + 1) * M:(i + 2) * M])
        _, S, vt = np.linalg.svd(fast)
        share = S[0] ** 2 / max((S ** 2).sum(), 1e-300)
        same = abs(int(np.sign(vt[0]).sum())) == M
        lag.append(f"| {t} | " + " | ".join(cells) + f" | {share:.2f} | {'yes' if same else 'no'} |")
    return ["Oracle index (no projection), against the exact values (the replay, path rule):", "", *head, *rows, *lag]


def fid_points(total: int, k: int) -> list[int]:
    from attribcli.training.index import points

    return points(total, k)


if __name__ == "__main__":
    main()
