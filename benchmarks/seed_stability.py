"""How much of what each generation pays moves with the data-order seed: total, specific and shared parts.

    python benchmarks/seed_stability.py [--config configs/sample.yaml] [--seeds 1234 777 4242]
                                        [--reference sample_data/reference.jsonl] [--work DIR] [--out FILE]

Trains the config once per seed (``attrib train``; the same config but ``seed``, with ``data.reference`` set so
every value is split into its shared and specific parts, inrun/shared.py), then compares, for every pair of
seeds, each generation's split of its data-stage money among payees (holders, escrow, commons):

- paid by ``attrib payout --revenue-from-generations --shared RULE`` for each rule: ``total`` (no parts: by
  positive total values, what a run without reference texts pays), ``pool`` (the default), ``tokens``,
  ``generation`` (money/payout.py);
- and, to see where the noise is, splits by one part alone: positive specific values; positive shared values
  per generation; and the three keys a pool of the shared part could use (the holders' reference values, their
  shares of each step's general learning, tokens trained).

Reported: total variation (half the L1 distance of the two splits) per generation, median and largest over
generations and seed pairs; of the period (revenue-weighted over generations); and how often each generation's
top payee is the same under every seed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POOLS = ("reference values", "step shares", "tokens trained")
PAYOUT_RULES = ("total", "pool", "tokens", "generation")
RULES = (*(f"payout --shared {r}" for r in PAYOUT_RULES), "specific part alone", "shared part per generation",
         *(f"shared pool by {k}" for k in POOLS))
STAGE_PAYEES = ("PLATFORM", "BASE_MODEL", "PROMPT_AUTHORS")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs/sample.yaml")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1234, 777, 4242])
    ap.add_argument("--reference", type=Path, default=None,
                    help="reference texts (default: the config's data.reference, else sample_data/reference.jsonl)")
    ap.add_argument("--work", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown table here")
    a = ap.parse_args()
    if len(a.seeds) < 2:
        sys.exit("--seeds: at least two")
    work = a.work or Path(tempfile.mkdtemp(prefix="attrib-seeds-"))
    work.mkdir(parents=True, exist_ok=True)
    splits = {}
    for seed in a.seeds:
        run = work / f"seed-{seed}"
        if not (run / "manifest.json").is_file():
            cfg = seeded_config(a.config, seed, run, a.reference, a.epochs, work)
            r = subprocess.run([sys.executable, "-m", "attribcli", "train", str(cfg), "--overwrite"], cwd=ROOT,
                               capture_output=True, text=True)
            if r.returncode:
                sys.exit(f"attrib train (seed {seed}) failed:\n{r.stderr}")
        splits[seed] = money_splits(run)
        print(f"seed {seed}: trained ({run})", file=sys.stderr)
    table = compare(splits)
    text = render(table, a, work)
    print(text)
    if a.out:
        a.out.write_text(text)


def seeded_config(config: Path, seed: int, run: Path, reference: Path | None, epochs: int | None,
                  work: Path) -> Path:
    """The config with ``seed``, ``run_dir`` and ``data.reference`` set, every path made absolute."""
    from sample_runs import absolute_config  # benchmarks/sample_runs.py

    raw = absolute_config(config)
    data = raw["data"]
    data["reference"] = str(reference.resolve()) if reference else \
        data.get("reference") or str(ROOT / "sample_data/reference.jsonl")
    data.pop("generation_prompts", None)
    raw["seed"], raw["run_dir"] = seed, str(run)
    if epochs:
        raw["training"]["epochs"], raw["training"]["max_steps"] = epochs, None
    path = work / f"seed-{seed}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _shares(col: np.ndarray) -> np.ndarray:
    pos = np.maximum(col, 0.0)
    s = pos.sum()
    return pos / s if s > 0 else np.zeros_like(pos)


def money_splits(run: Path) -> dict:
    """Per rule, ``[payees × generations]`` shares of each generation's data-stage money; the revenues; payees."""
    from attribcli.posttrain.rundir import open_run
    from attribcli.valuation.valuation import Valuation

    val = Valuation(open_run(run))
    total, shared = val.holder_values, val.holder_shared
    specific = total - shared
    payees = list(total.index)
    gens = list(total.columns)
    S, C = specific.to_numpy(), shared.to_numpy()
    ref = val.holder_reference.reindex(payees)
    pools = {"reference values": _shares(ref["value"].to_numpy()),
             "step shares": _shares(ref["step_share"].to_numpy()),
             "tokens trained": _shares(val.holder_tokens.reindex(payees).to_numpy())}
    out = {"specific part alone": np.column_stack([_shares(S[:, g]) for g in range(len(gens))]),
           "shared part per generation": np.column_stack([_shares(C[:, g]) for g in range(len(gens))]),
           **{f"shared pool by {k}": np.repeat(pool[:, None], len(gens), axis=1) for k, pool in pools.items()}}
    for rule in PAYOUT_RULES:
        r = subprocess.run([sys.executable, "-m", "attribcli", "payout", str(run), "--revenue-from-generations",
                            "--format", "json", "--shared", rule], cwd=ROOT, capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"attrib payout --shared {rule} failed:\n{r.stderr}")
        table = np.zeros((len(payees), len(gens)))
        for g in json.loads(r.stdout)["generations"]:
            data = g["stages"]["fine_tuning"]["amount_minor"]
            for line in g["lines"]:
                if line["payee_id"] in payees and data:
                    table[payees.index(line["payee_id"]), gens.index(g["generation_id"])] = line["amount_minor"] / data
        out[f"payout --shared {rule}"] = table
    revenue = np.array([float(r or 0) for r in val.generations.get("revenue", [0] * len(gens))])
    return {"splits": out, "revenue": revenue, "payees": payees, "generations": gens}


def compare(splits: dict) -> dict:
    seeds = list(splits)
    first = splits[seeds[0]]
    w = first["revenue"] / first["revenue"].sum() if first["revenue"].sum() > 0 else \
        np.full(len(first["generations"]), 1 / len(first["generations"]))
    rows = {}
    for rule in RULES:
        per_gen, period = [], []
        for a, b in itertools.combinations(seeds, 2):
            A, B = splits[a]["splits"][rule], splits[b]["splits"][rule]
            tv = 0.5 * np.abs(A - B).sum(axis=0)
            per_gen.extend(tv.tolist())
            period.append(0.5 * np.abs(A @ w - B @ w).sum())
        tops = np.array([[s["splits"][rule][:, g].argmax() for g in range(len(first["generations"]))]
                         for s in splits.values()])
        stable = int((tops == tops[0]).all(axis=0).sum())
        rows[rule] = {"median": float(np.median(per_gen)), "max": float(np.max(per_gen)),
                      "period": float(np.max(period)), "top_stable": stable,
                      "generations": len(first["generations"])}
    means = {k: np.mean([s["splits"][f"shared pool by {k}"][:, 0] for s in splits.values()], axis=0) for k in POOLS}
    return {"rules": rows, "seeds": seeds, "pools": {"payees": first["payees"], **means}}


def render(table: dict, a, work: Path) -> str:
    lines = [f"Seeds {', '.join(map(str, table['seeds']))}; config {a.config}; runs in {work}", "",
             "| money split by | TV per generation: median | largest | TV of the period (revenue-weighted) "
             "| top payee the same under every seed |", "|---|---:|---:|---:|---:|"]
    for rule, r in table["rules"].items():
        lines.append(f"| {rule} | {r['median']:.1%} | {r['max']:.1%} | {r['period']:.1%} | "
                     f"{r['top_stable']} of {r['generations']} |")
    pools = table["pools"]
    lines += ["", "The shared pool's keys (mean over the seeds):", "",
              "| key | " + " | ".join(pools["payees"]) + " |", "|---|" + "---:|" * len(pools["payees"])]
    for key in POOLS:
        lines.append(f"| {key} | " + " | ".join(f"{v:.1%}" for v in pools[key]) + " |")
    lines += ["", "(TV: largest over seed pairs for the period; median and largest over generations and pairs.)"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
