"""Survey coverage: do the 95 % intervals of ``attrib payout --survey`` cover the census, and at what cost?

    python benchmarks/survey_coverage.py [--config configs/sample.yaml] [--generations 1000] [--max-steps 24]
                                         [--sizes 25 50 100 200] [--repeats 50] [--work DIR] [--out FILE]

1. The sample's config trained with a gradient index (``attribution.index``) and without generations, cut to
   ``--max-steps`` steps (order-1 values: the census below is a replay of every generation, and its cost
   grows with steps × generations).
2. A period: ``attrib generate`` continues ``--generations`` prompts (the openings of the corpus's documents,
   3 to 8 words, and the sample's prompts), with revenues drawn heavy-tailed (log-normal, 0.01 to 40.00).
3. The census: ``attrib replay`` of every generation, timed; its statement is what a survey estimates.
4. One real survey per ``--sizes`` K (``attrib survey``, timed: its replay and its index pass), and its
   statement (``attrib payout --survey``), checked against this script's own estimate for the same seed.
5. ``--repeats`` surveys per K and estimator (seeds 0, 1, ...), estimated here from the census's own
   per-generation payouts (a generation's values do not depend on which others are valued, to float32
   rounding): how often each payee line's 95 % interval covers the census, the intervals' half-width and
   the largest error in every holder's share (percentage points), with and without the index.

Cost against the census: the survey's replay of its K generations plus its index pass over the period,
over the census's replay (each measured by the commands themselves, on the same machine).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sample_runs import absolute_config, attrib  # noqa: E402  (benchmarks/sample_runs.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=ROOT / "configs/sample.yaml")
    ap.add_argument("--generations", type=int, default=1000)
    ap.add_argument("--max-steps", type=int, default=24)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--sizes", type=int, nargs="+", default=[25, 50, 100, 200])
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--index-dim", type=int, default=2048)
    ap.add_argument("--index-segments", type=int, default=4)
    ap.add_argument("--period", type=Path, default=None, help="a period already generated (JSONL), e.g. another "
                                                              "--work's period.jsonl: the same model makes it again")
    ap.add_argument("--work", type=Path, default=None, help="keep the run here (a finished step is reused)")
    ap.add_argument("--out", type=Path, default=None, help="also write the Markdown tables here")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="attrib-survey-"))
    work.mkdir(parents=True, exist_ok=True)
    run = work / "run"
    if not (run / "manifest.json").is_file():
        raw = absolute_config(a.config)
        raw["run_dir"] = str(run)
        for key in ("generations", "reference", "generation_prompts"):
            raw["data"].pop(key, None)
        raw["training"].update(max_steps=a.max_steps, epochs=None)
        raw.setdefault("attribution", {}).update(
            rule="taylor", order=1, index={"dim": a.index_dim, "segments": a.index_segments}, target_chunk=64)
        for key in ("path_tolerance", "path_max_nodes"):
            raw["attribution"].pop(key, None)
        (work / "config.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
        attrib("train", work / "config.yaml", "--overwrite")
    period = work / "period.jsonl"
    if a.period and not period.is_file():
        period.write_bytes(a.period.read_bytes())
    if not period.is_file():
        prompts = work / "prompts.jsonl"
        prompts.write_text(_prompts(a.config, a.generations))
        attrib("generate", run, "--prompts", prompts, "--max-new-tokens", a.max_new_tokens, "--temperature", "0.9",
               "--seed", "0", "-o", period)
    census_s = _timed_once(work / "census.seconds", lambda: attrib("replay", run, "--generations", period, "--name",
                                                                      "census"))
    surveys = {}
    for k in a.sizes:
        name = f"k{k}"
        seconds = _timed_once(work / f"{name}.seconds", lambda: attrib(
            "survey", run, "--generations", period, "--sample", k, "--seed", "0", "--name", name, "--auxiliary",
            "index"))
        man = json.loads((run / "surveys" / name / "manifest.json").read_text())
        surveys[k] = {"seconds": seconds, "replay": man["valuation"]["seconds"],
                      "index": (man["index"] or {}).get("seconds", 0.0), "drawn": man["design"]["drawn"]}
    text = report(run, a, census_s, surveys)
    print(text)
    if a.out:
        a.out.write_text(text)


def _timed_once(marker: Path, command) -> float:
    """Run ``command`` unless ``marker`` says it ran (with its seconds)."""
    if marker.is_file():
        return float(marker.read_text())
    tic = time.perf_counter()
    command()
    seconds = time.perf_counter() - tic
    marker.write_text(f"{seconds:.3f}\n")
    return seconds


def _prompts(config: Path, n: int) -> str:
    """``n`` prompts: openings of the corpus's documents (3-8 words) and the sample's own, revenues log-normal."""
    raw = absolute_config(config)
    docs = [json.loads(x) for x in Path(raw["data"]["corpus"]).read_text().splitlines() if x.strip()]
    rng = np.random.default_rng(0)
    lines = []
    for i in range(n):
        words = docs[int(rng.integers(len(docs)))]["text"].split()
        prompt = " ".join(words[:int(rng.integers(3, 9))]) or "The"
        cents = int(np.clip(round(math.exp(rng.normal(math.log(40), 1.4))), 1, 4000))
        lines.append(json.dumps({"id": f"q{i:05d}", "prompt": prompt, "revenue": f"{cents // 100}.{cents % 100:02d}"}))
    return "\n".join(lines) + "\n"


def _census(run: Path):
    """(generation ids, revenues, payees, [generations × payees] minor units): the census's own statement."""
    from attribcli.config import payout_policy
    from attribcli.money.payout import compute_payout, payee_kind
    from attribcli.posttrain.rundir import open_run
    from attribcli.valuation.valuation import Valuation

    val = Valuation(open_run(run, "census"))
    policy = payout_policy(val.config_path)
    payout = compute_payout(val, revenue=None, currency=policy.currency, policy=policy)
    payees = payout.payees()
    Y = np.array([[g.amounts.get(p, 0) for p in payees] for g in payout.generations], dtype=np.float64)
    holders = [j for j, p in enumerate(payees) if payee_kind(p, payout) == "holder"]
    return [g.generation_id for g in payout.generations], np.array([g.revenue for g in payout.generations]), \
        payees, holders, Y, payout.salt, policy


def _index_money(run: Path, name: str, ids: list[str], payees: list[str], policy) -> np.ndarray:
    """``[generations × payees]``: every generation paid by the index's values (the survey's auxiliary, as
    money/survey.py computes it); a payee the census does not pay is added to ``payees``."""
    from attribcli.money.payout import stage_nats
    from attribcli.money.survey import generation_money
    from attribcli.posttrain.survey import open_survey
    from attribcli.rights.holders import COMMONS_ID

    s = open_survey(run, name)
    holders = [policy.commons_payee if p == COMMONS_ID else p for p in s.index_payees]
    stages = [policy.platform_payee, policy.base_model_payee, policy.prompt_payee, "UNALLOCATED"]
    payees += [p for p in dict.fromkeys([*holders, *stages]) if p not in payees]
    row = {g: i for i, g in enumerate(s.design.ids)}
    at = np.array([row[g] for g in ids])
    nats = stage_nats(s.index_losses.set_index("generation_id").loc[ids])
    return generation_money(s.design.revenue[at].astype(np.float64), np.asarray(s.index_values)[at], nats, policy,
                            holders, {p: j for j, p in enumerate(payees)})


def estimate(Y, X, revenue, ids, k, seed):
    """(estimate, half-width) per payee of one survey of size ``k`` drawn with ``seed``."""
    from attribcli.money.survey import Z95, estimate_total
    from attribcli.sampling import draw

    d = draw(ids, revenue, k, seed)
    pi = d.inclusion()
    rest = np.flatnonzero(d.selected & ~d.certain)
    certain = Y[d.certain].sum(0)
    if X is None:
        est, var = estimate_total(Y[rest], pi[rest])
    else:
        pool = ~d.certain & (revenue > 0)
        est, var = estimate_total(Y[rest], pi[rest], X[pool].sum(0), X[rest])
    return certain + est, Z95 * np.sqrt(var)


def report(run: Path, a, census_s: float, surveys: dict) -> str:
    ids, revenue, payees, holders, Y, _, policy = _census(run)
    total = revenue.sum()
    X = _index_money(run, f"k{a.sizes[0]}", ids, payees, policy)
    Y = np.pad(Y, ((0, 0), (0, len(payees) - Y.shape[1])))  # the lines only the index pays
    truth = Y.sum(0)
    check = json.loads(attrib("payout", run, "--survey", f"k{a.sizes[0]}", "--format", "json").stdout)
    mine, _ = estimate(Y, X, revenue, ids, a.sizes[0], 0)
    stated = {x["payee_id"]: x["estimate_minor"] for x in check["lines"]}
    agree = all(abs(stated.get(p, 0) - mine[j]) <= 0.5 for j, p in enumerate(payees))
    share, share_x = Y / revenue[:, None], X / revenue[:, None]
    rho = [np.corrcoef(share[:, j], share_x[:, j])[0, 1] for j in holders if share[:, j].std() and share_x[:, j].std()]
    lines = [f"Survey coverage: {len(ids)} generations (revenue {total / 100:.2f}; the largest "
             f"{revenue.max() / 100:.2f}), {len(payees)} payee lines, run {run}; census replay {census_s:.0f} s",
             f"The real `attrib payout --survey k{a.sizes[0]}` statement equals this script's estimate for seed 0: "
             f"{agree}",
             f"Each holder's share of a generation, by the index against exact: correlation (over the generations) "
             f"median {np.median(rho):.2f}, from {min(rho):.2f} to {max(rho):.2f} ({len(rho)} holders paid)", "",
             "| K | estimator | coverage of the census (all lines) | holders' share: half-width median | largest "
             "| largest error | surveys with every holder within 1 pp | cost / census |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for k in a.sizes:
        s = surveys[k]
        for name, aux in (("Horvitz-Thompson", None), ("difference (index)", X)):
            covered, widths, errors, within = [], [], [], 0
            for seed in range(a.repeats):
                est, hw = estimate(Y, aux, revenue, ids, k, seed)
                covered += list(np.abs(est - truth) <= hw + 1e-9)
                widths += list(100 * hw[holders] / total)
                err = 100 * np.abs(est - truth)[holders] / total
                errors.append(err.max())
                within += bool(err.max() <= 1.0)
            cost = (s["replay"] + (s["index"] if aux is not None else 0.0)) / census_s
            lines.append(f"| {k} | {name} | {np.mean(covered):.1%} | {np.nanmedian(widths):.2f} pp | "
                         f"{np.nanmax(widths):.2f} pp | {np.max(errors):.2f} pp | {within} of {a.repeats} | "
                         f"{cost:.3f} |")
    lines += ["", "Each survey's own cost (attrib survey, seed 0): " + "; ".join(
        f"K={k}: {surveys[k]['drawn']} replayed in {surveys[k]['replay']:.0f} s, the index over the period "
        f"{surveys[k]['index']:.0f} s" for k in a.sizes) + f"; the census's replay {census_s:.0f} s.",
              "Coverage: the share of (survey, payee line) pairs whose 95 % interval holds the census amount, over "
              f"{a.repeats} surveys (seeds 0 to {a.repeats - 1}) and every line; half-widths and errors over the "
              "holders' lines, in percentage points of the period's revenue."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
