"""How close is the gradient index to the exact values, how big, and how much cheaper?

    python benchmarks/index_fidelity.py [--dims 512,2048,8192] [--segments 1,4,16] [--epochs N]
                                        [--bergson-python PY] [--scale-samples 1000000 --scale-generations 1000]
                                        [--out FILE.md]

On the sample (``configs/sample.yaml``: model, base weights, training, licence policy, path rule), with
two sets of generations valued together: the sample's 8 and the 32 of ``source_recovery.py`` (copies,
paraphrases, imitations of single holders' documents). Runs, each timed in this process:

1. ``plain``: the sample's training without generations and without an index (the training a platform runs
   anyway), then ``attrib replay`` of it with the 40 generations: the exact values (bit for bit what training
   with them would give) and the replay's time per generation;
2. per (dim, segments): the same training with ``attribution.index`` (no generations), then ``attrib query``
   with the same 40 generations.

Reported per set of generations, index against exact: Spearman over the trained samples (median over
generations), how often the holder with the most value is the same (top-holder agreement), the
total-variation distance between the two payouts' data-stage shares (``attrib payout --revenue 100``: each
payee's share of the money paid for data, summed over generations), and per configuration the index's
size per sample, the build overhead (training with the index over training without it, minus 1) and the
query's time per generation against the replay's.

``--bergson-python``: a Python with Bergson installed (benchmarks/bergson_peer.py says how): Bergson then
builds its index from the same run's final weights over the same tokens and scores the same generations
(it runs in its own process and venv; nothing of it is imported here). Its time and agreement are reported
beside attrib's. Bergson needs a Hugging Face model: the comparison runs on a tiny GPT-2 (built locally,
no download) trained by attrib on the sample with the same settings (``model.kind: hf``).

``--scale-samples N --scale-generations M``: the query's product alone on a synthetic index of N samples
(float32, the default dim and segments) against M generations, summed per payee tile by tile as a payout
needs them: time, rate and the process's peak memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(ROOT / "configs/sample.yaml"))
    ap.add_argument("--dims", default="512,2048,8192")
    ap.add_argument("--segments", default="1,4,16")
    ap.add_argument("--configs", default=None, help="instead of the grid: DIMxSEGMENTS,... e.g. 2048x4,65536x16")
    ap.add_argument("--keep", default=None, metavar="DIR",
                    help="keep the plain run and its exact values in DIR (with their times), or reuse them from there")
    ap.add_argument("--epochs", type=int, default=None, help="override the config's epochs (tiny: smoke tests)")
    ap.add_argument("--max-steps", type=int, default=None, help="override: stop after this many steps (smoke tests)")
    ap.add_argument("--sample-generations", type=int, default=None, help="use only the first N of each set")
    ap.add_argument("--bergson-python", default=None, help="a Python with bergson installed (bergson_peer.py)")
    ap.add_argument("--scale-samples", type=int, default=0)
    ap.add_argument("--scale-generations", type=int, default=1000)
    ap.add_argument("--scale-only", action="store_true", help="only the scale measurement")
    ap.add_argument("--out", default=None, help="also write the Markdown tables here")
    a = ap.parse_args()
    import torch

    lines = [f"`{' '.join(['python benchmarks/index_fidelity.py'] + sys.argv[1:])}`; torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads, {time.strftime('%Y-%m-%d')}", ""]
    with tempfile.TemporaryDirectory(prefix="index_fidelity_") as tmp:
        work = Path(a.keep).resolve() if a.keep else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sets = generation_sets(a, work)
        lines += [] if a.scale_only else sweep(a, work, sets)
        if a.bergson_python and not a.scale_only:
            lines += ["", *bergson_comparison(a, work, sets)]
    if a.scale_samples:
        lines += ["", *scale(a.scale_samples, a.scale_generations)]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        Path(a.out).write_text(text)


def generation_sets(a, work: Path) -> dict[str, list[str]]:
    """Write the 40 generations (sample + source recovery) to work/generations.jsonl; set name → ids."""
    from sample_runs import single_owner_documents
    from source_recovery import build_generations  # benchmarks/source_recovery.py

    _, _, by_holder, _ = single_owner_documents(Path(a.config))
    recovery, _ = build_generations(by_holder, 1, 0)
    sample = [json.loads(x) for x in (ROOT / "sample_data/generations.jsonl").read_text().splitlines() if x.strip()]
    if a.sample_generations:
        sample, recovery = sample[:a.sample_generations], recovery[:a.sample_generations]
    if (work / "generations.jsonl").is_file():  # --keep: the generations the kept values are for
        return {"sample": [str(g["id"]) for g in sample], "source recovery": [str(g["id"]) for g in recovery]}
    (work / "generations.jsonl").write_text("".join(json.dumps(g) + "\n" for g in sample + recovery))
    return {"sample": [str(g["id"]) for g in sample], "source recovery": [str(g["id"]) for g in recovery]}


def _config(a, work: Path, name: str, index: dict | None, *, model: dict | None = None,
            steps: int | None = None) -> Path:
    from sample_runs import sample_overrides

    from tests.runs import write_config

    base = yaml.safe_load(Path(a.config).read_text())
    over = sample_overrides(Path(a.config), base, generations=work / "generations.jsonl", epochs=a.epochs)
    if a.max_steps or steps:
        over["training"] = {**over["training"], "max_steps": steps or a.max_steps}
    if model is not None:
        over["model"] = model
    over.pop("data__generations")
    if index:
        over["attribution"] = {**over.get("attribution", {}), "index": index}
    return write_config(work / name, **over)


def _timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def _train(cfg: Path) -> tuple[Path, float]:
    from attribcli.config import load_config
    from attribcli.training.loop import train

    return _timed(train, load_config(cfg), log=_quiet)


def _quiet(message: str) -> None:
    return None


def sweep(a, work: Path, sets: dict[str, list[str]]) -> list[str]:
    from attribcli.posttrain.query import query
    from attribcli.posttrain.replay import replay

    gens = work / "generations.jsonl"
    M = sum(len(v) for v in sets.values())
    kept = work / "plain-times.json"
    if kept.is_file():  # --keep DIR of an earlier invocation: its plain run and exact values
        plain, (t_plain, t_replay) = work / "plain/run", json.loads(kept.read_text())
    else:
        _train(_config(a, work, "warm-up", None, steps=2))  # fills the token cache and warms the allocator
        plain, t_plain = _train(_config(a, work, "plain", None))
        _, t_replay = _timed(replay, plain, gens, "exact", log=_quiet)
        kept.write_text(json.dumps([t_plain, t_replay]))
    exact = Exact(plain, "exact")
    print(f"plain training {t_plain:.1f}s; replay of {M} generations {t_replay:.1f}s", file=sys.stderr)
    head = ["| dim | segments | bytes / sample | build overhead | query s / generation | x cheaper than replay | "
            + " | ".join(f"{s}: Spearman (median) | {s}: top holder | {s}: payout TV" for s in sets) + " |",
            "|---:|---:|---:|---:|---:|---:|" + "---:|---:|---:|" * len(sets)]
    rows = []
    grid = [tuple(int(v) for v in c.split("x")) for c in a.configs.split(",")] if a.configs else \
        [(int(d), int(k)) for k in a.segments.split(",") for d in a.dims.split(",")]
    for D, K in grid:
        run, t_build = _train(_config(a, work, f"index-{D}-{K}", {"dim": D, "segments": K}))
        _, t_query = _timed(query, run, gens, "index", log=_quiet)
        info = json.loads((run / "manifest.json").read_text())["index"]
        got = Exact(run, "index")
        cells = []
        for ids in sets.values():
            m = exact.compare(got, ids)
            cells += [f"{m['spearman']:.3f}", f"{m['top']}/{len(ids)}", f"{m['tv']:.1%}"]
        per_q, per_r = t_query / M, t_replay / M
        rows.append(f"| {D} | {K} | {info['bytes_per_sample']:,} | {t_build / t_plain - 1:+.1%} | {per_q:.3f} | "
                    f"{per_r / per_q:.0f} | " + " | ".join(cells) + " |")
        print(rows[-1], file=sys.stderr)
        shutil.rmtree(run.parent)
    return [f"Sample training without an index: {t_plain:.1f} s; replay of the {M} generations (exact values): "
            f"{t_replay:.1f} s ({t_replay / M:.2f} s per generation).", "", *head, *rows]


class Exact:
    """One valuation's sample values, holder values and payout, for comparison with another's."""

    def __init__(self, run: Path, valuation: str, values: np.ndarray | None = None):
        import dataclasses

        from attribcli.config import load_config
        from attribcli.money.payout import compute_payout
        from attribcli.posttrain.rundir import open_run
        from attribcli.valuation.valuation import Valuation

        opened = open_run(run, valuation)
        val = Valuation(opened if values is None else dataclasses.replace(opened, values=values))
        self.ids = val.generation_ids
        self.values = np.asarray(val.sample_values)
        self.trained = val.samples["steps_trained"].to_numpy() > 0
        self.holders = val.holder_values
        policy = load_config(run / "config.yaml").payout
        payout = compute_payout(val, revenue="100.00", currency=policy.currency, policy=policy)
        stage = set(payout.stage_payees.values())
        self.paid = {g.generation_id: {p: v for p, v in g.amounts.items() if p not in stage}
                     for g in payout.generations}

    def compare(self, other: "Exact", ids: list[str]) -> dict:
        cols = [self.ids.index(i) for i in ids]
        rho = [spearman(self.values[self.trained, j], other.values[self.trained, j]) for j in cols]
        top = sum(self.holders[i].idxmax() == other.holders[i].idxmax() for i in ids)
        a, b = (_shares(x, ids) for x in (self.paid, other.paid))
        tv = 0.5 * sum(abs(a.get(p, 0.0) - b.get(p, 0.0)) for p in set(a) | set(b))
        return {"spearman": float(np.median(rho)), "top": int(top), "tv": tv}


def _shares(paid: dict[str, dict[str, int]], ids: list[str]) -> dict[str, float]:
    """Each payee's share of the money paid for data over these generations."""
    summed: dict[str, int] = {}
    for i in ids:
        for p, v in paid[i].items():
            summed[p] = summed.get(p, 0) + v
    total = sum(summed.values())
    return {p: v / total for p, v in summed.items()} if total else {}


def bergson_comparison(a, work: Path, sets: dict[str, list[str]]) -> list[str]:
    """attrib (exact, index) and Bergson on a tiny Hugging Face GPT-2 trained on the sample."""
    from attribcli.posttrain.query import query
    from attribcli.posttrain.replay import replay
    from attribcli.posttrain.rundir import load_model

    gens = work / "generations.jsonl"
    model_dir = save_tiny_gpt2(work / "gpt2-tiny")
    model = {"kind": "hf", "path": str(model_dir), "context_length": 256}
    from attribcli.config import IndexConfig

    D, K = IndexConfig().dim, IndexConfig().segments
    run, t_build = _train(_config(a, work, "hf-index", {"dim": D, "segments": K}, model=model))
    _, t_replay = _timed(replay, run, gens, "exact", log=_quiet)
    _, t_query = _timed(query, run, gens, "index", log=_quiet)
    exact, ours = Exact(run, "exact"), Exact(run, "index")
    final = work / "hf-final"
    fine, _, _ = load_model(run)
    fine.hf.save_pretrained(final)
    train_rows, query_rows = token_rows(run, gens, work / "bergson")
    out = work / "bergson-out"
    cmd = [a.bergson_python, str(ROOT / "benchmarks/bergson_peer.py"), "--model", str(final), "--train",
           str(train_rows), "--queries", str(query_rows), "--out", str(out), "--projection-dim", "16"]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    t_bergson = time.perf_counter() - t
    if r.returncode:
        return [f"Bergson failed ({r.returncode}): {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else ''}"]
    timing = json.loads((out / "timing.json").read_text())
    scores = np.load(out / "scores.npy")
    theirs = Exact(run, "exact", values=scores)  # the peer's scores in place of the values
    M = len(exact.ids)
    head = ["| method | time (s) | s / generation | " + " | ".join(
        f"{s}: Spearman (median) | {s}: top holder | {s}: payout TV" for s in sets) + " |",
            "|---|---:|---:|" + "---:|---:|---:|" * len(sets)]
    rows = []
    for name, secs, other in (("attrib replay (exact)", t_replay, exact),
                              (f"attrib index dim {D}, {K} segments: query", t_query, ours),
                              (f"Bergson {timing.get('bergson_version', '')} (final weights): build + score",
                               timing["index_seconds"] + timing["query_seconds"], theirs)):
        cells = []
        for ids in sets.values():
            m = exact.compare(other, ids)
            cells += [f"{m['spearman']:.3f}", f"{m['top']}/{len(ids)}", f"{m['tv']:.1%}"]
        rows.append(f"| {name} | {secs:.1f} | {secs / M:.3f} | " + " | ".join(cells) + " |")
    return [f"Tiny GPT-2 (Hugging Face, built locally) trained by attrib on the sample: training with the index "
            f"{t_build:.1f} s. Bergson: index {timing['index_seconds']:.1f} s, scores {timing['query_seconds']:.1f} s, "
            f"its whole process (imports included) {t_bergson:.1f} s "
            f"({timing.get('notes', '')}).", "", *head, *rows]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    import pandas as pd

    return float(pd.Series(a).rank().corr(pd.Series(b).rank()))


def save_tiny_gpt2(folder: Path) -> Path:
    """A 2-layer GPT-2 with the sample's BPE vocabulary (plus a BOS token), random weights, saved locally."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=str(ROOT / "sample_data/tokenizer.json"), bos_token="<|bos|>",
                                  eos_token="<|bos|>")
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=len(tok), n_layer=2, n_head=4, n_embd=128, n_positions=256, resid_pdrop=0.0,
                     embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=tok.bos_token_id, eos_token_id=tok.bos_token_id)
    GPT2LMHeadModel(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def token_rows(run: Path, gens: Path, folder: Path) -> tuple[Path, Path]:
    """The run's training samples and the generations as the peer sees them: input_ids and labels (-100 where
    attrib scores no token), one JSON line each, from the very tokens attrib trained and valued."""
    from attribcli.posttrain.replay import plan

    prep = plan(run, gens, "peer-tokens", resume=True)[0]
    folder.mkdir(parents=True, exist_ok=True)

    def rows(seqs) -> str:
        out = []
        for ids, first in seqs:
            labels = [t if i >= max(first, 1) else -100 for i, t in enumerate(ids)]
            out.append(json.dumps({"input_ids": [int(t) for t in ids], "labels": [int(t) for t in labels]}))
        return "\n".join(out) + "\n"

    train, queries = folder / "train.jsonl", folder / "queries.jsonl"
    train.write_text(rows((list(s.tokens), 1) for s in prep.samples))
    queries.write_text(rows(g.tokens(prep.tokenizer) for g in prep.generations))
    return train, queries


def scale(n: int, M: int) -> list[str]:
    """The query's product on a synthetic float32 index, summed per payee tile by tile."""
    import torch

    from attribcli.config import IndexConfig
    from attribcli.posttrain.query import products

    cfg = IndexConfig()
    D, K, P = cfg.dim, cfg.segments, 1000  # one table per reference point
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="index_scale_") as tmp:
        tables = []
        for k in range(K):
            t = np.lib.format.open_memmap(Path(tmp) / f"s{k}.npy", mode="w+", dtype=np.float32, shape=(n, D))
            for lo in range(0, n, 65536):
                t[lo:lo + 65536] = rng.standard_normal((min(65536, n - lo), D), dtype=np.float32)
            t.flush()
            tables.append((np.load(Path(tmp) / f"s{k}.npy", mmap_mode="r"), None))
        grads = [rng.standard_normal((M, D), dtype=np.float32) for _ in range(K)]
        payee = torch.from_numpy(rng.integers(0, P, n))
        out = torch.zeros(P, M, dtype=torch.float64)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        products(tables, grads, lambda rows, cols, block: out[:, cols].index_add_(0, payee[rows],
                                                                                 torch.from_numpy(block)))
        secs = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # holder values are plain sums of sample values, so a payout needs only the index summed per payee
        t0 = time.perf_counter()
        H = [torch.zeros(P, D, dtype=torch.float64) for _ in range(K)]
        step = max(1, (64 << 20) // (4 * D))
        for (table, _), Hk in zip(tables, H):
            for lo in range(0, n, step):
                Hk.index_add_(0, payee[lo:lo + step], torch.from_numpy(np.array(table[lo:lo + step])).double())
        t_agg = time.perf_counter() - t0
    big, chunk = 100_000, 5000
    t0 = time.perf_counter()
    for lo in range(0, big, chunk):
        total = None
        for Hk in H:
            G = torch.from_numpy(rng.standard_normal((chunk, D), dtype=np.float32))
            part = (Hk.float() @ G.T).double()
            total = part if total is None else total + part
    t_payees = time.perf_counter() - t0
    gb = n * D * K * 4 / 2 ** 30
    per = secs / M
    return [f"Scale: synthetic index of {n:,} samples x dim {D} x {K} reference points ({gb:.1f} GiB float32, "
            "memory-mapped) "
            f"against {M:,} generations, summed into {P} payees tile by tile: {secs:.1f} s, {per * 1e3:.1f} ms per "
            f"generation (so 100,000 generations: {per * 1e5 / 60:.0f} min), "
            f"{2 * n * D * K * M / secs / 1e9:.0f} GFLOP/s; peak resident memory {peak / 2 ** 20:.2f} GiB (before "
            f"the product {before / 2 ** 20:.2f} GiB). The same index summed per payee once ({t_agg:.1f} s, one pass) "
            f"then queried: 100,000 generations x {P} payees in {t_payees:.1f} s (random generation gradients drawn "
            "in the loop included)."]


if __name__ == "__main__":
    main()
