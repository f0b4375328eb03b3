"""Value and payout aggregation as the corpus grows: time and peak memory, 1k to 10M samples.

    python benchmarks/aggregation.py [--sizes 1000 10000 100000 1000000 10000000] [--generations 100]
                                     [--holders 1000] [--samples-per-doc 10] [--png aggregation.png]

For each size a synthetic run directory is written (in a temporary folder, removed afterwards):
``values.npy`` [samples x generations] float64 of random values (written chunk by chunk), one
document per ``--samples-per-doc`` samples, owned by random holders (one in ten co-owned by two at
0.5/0.5, one in fifty with no known owner), with the run's other files as ``attrib train`` writes
them (``inputs/ownership.csv`` included). A fresh process then does what ``attrib value`` and
``attrib payout`` do on it and reports the seconds of each phase and its peak resident memory:

- check: the files value and payout read, hashed against the run's manifest (``rundir.check_reads``),
  which every command does before it reads a run;
- load: ``open_run`` (samples and holders parsed; documents' metadata only when a report needs it;
  the value table memory-mapped, not read);
- holders: ``valuation.values.holder_values`` (one chunked pass over the value table, aggregate.py);
- licences: ``value.license_values`` (another pass);
- payout: the CSV payout statement (exact allocation to the cent over every payee and generation);
- payout cmd, +check: load and payout together as 'attrib payout --format csv' runs them, without the check
  and with it (the value table hashed on a thread while the statement is computed), the faster of two each.

The value table itself is never held in memory: peak memory should stay flat in it while the
metadata (one row per sample and per document) grows linearly.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from peak import peak_rss_bytes  # noqa: E402  (benchmarks/peak.py)
from plotting import png_figure  # noqa: E402  (benchmarks/plotting.py)

LICENSES = ["CC-BY-4.0", "CC0-1.0", "MIT", "LicenseRef-Publisher-Terms"]


def write_run(path: Path, n: int, M: int, holders: int, per_doc: int, seed: int = 0) -> None:
    """A run directory with synthetic values and ownership (no model: aggregation does not need one)."""
    import pandas as pd
    from numpy.lib.format import open_memmap

    from attribcli.rights.ownership import rights_rows
    from tests.runs import write_config

    rng = np.random.default_rng(seed)
    (path / "inputs").mkdir(parents=True)
    values = open_memmap(path / "values.npy", mode="w+", dtype=np.float64, shape=(n, M))
    step = max(1, (64 << 20) // (8 * M))
    for start in range(0, n, step):
        rows = min(step, n - start)
        values[start:start + rows] = rng.standard_normal((rows, M)) * 1e-3 + 1e-4
    values.flush()
    del values
    docs = -(-n // per_doc)
    doc_of = np.minimum(np.arange(n) // per_doc, docs - 1)
    pd.DataFrame({"sample": np.arange(n), "doc_id": [f"d{i}" for i in doc_of],
                  "chunk": np.arange(n) - doc_of * per_doc, "tokens": 256, "steps_trained": 1}) \
        .to_csv(path / "samples.csv", index=False)
    owner, other = rng.integers(0, holders, docs), rng.integers(0, holders, docs)
    kind = rng.random(docs)
    lic = rng.integers(0, len(LICENSES), docs)
    rows = []
    with open(path / "inputs/documents.jsonl", "w", encoding="utf-8") as fh:
        for i in range(docs):
            if kind[i] < 0.02:
                hs = []
            elif kind[i] < 0.12 and other[i] != owner[i]:
                hs = [{"id": f"h{owner[i]}", "share": 0.5}, {"id": f"h{other[i]}", "share": 0.5}]
            else:
                hs = [{"id": f"h{owner[i]}", "share": 1.0}]
            rows.append((f"d{i}", [(h["id"], h["share"]) for h in hs], True, "holders", None))
            fh.write(json.dumps({"id": f"d{i}", "holders": hs, "license": LICENSES[lic[i]], "source": "",
                                 "opt_out": False, "trained": True, "pay_to": "holders",
                                 "n_samples": int(min(per_doc, n - i * per_doc))}) + "\n")
    pd.DataFrame(rights_rows(rows), columns=["doc_id", "holder_id", "share"]).to_csv(path / "inputs/ownership.csv",
                                                                                  index=False)
    pd.DataFrame({"holder_id": [f"h{i}" for i in range(holders)], "name": [f"Holder {i}" for i in range(holders)],
                  "contact": ""}).to_csv(path / "inputs/holders.csv", index=False)
    gens = [f"g{j:03d}" for j in range(M)]
    with open(path / "inputs/generations.jsonl", "w", encoding="utf-8") as fh:
        for g in gens:
            fh.write(json.dumps({"id": g, "prompt": "p", "completion": "c", "revenue": "1.00"}) + "\n")
    base = rng.uniform(2.0, 3.0, M)
    pd.DataFrame({"generation_id": gens, "completion_tokens": 100, "loss_reference": np.log(257.0),
                  "loss_base": base, "loss_final": base - 0.2, "loss_final_no_prompt": base - 0.1,
                  "value_sum": 0.2, "value_sum_order1": 0.2, "value_sum_order2": 0.0, "carry_sum": 0.0,
                  "realised_reduction": 0.2, "efficiency_gap": 0.0, "relative_gap": 0.0}) \
        .to_csv(path / "losses.csv", index=False)
    shutil.copy(write_config(path / "cfg"), path / "config.yaml")
    shutil.rmtree(path / "cfg")
    from attribcli.audit.manifest import output_hashes

    manifest = {"format": "attrib-run-v1", "synthetic": True, "outputs": output_hashes(path)}
    (path / "manifest.json").write_text(json.dumps(manifest))


def measure(run: str) -> dict:
    """In a fresh process: the phases of ``attrib value`` and ``attrib payout`` on ``run``."""
    from attribcli.posttrain.rundir import VALUE_READS, check_reads, open_run
    from attribcli.reports.spec import ReportSpec
    from attribcli.reports.statement import render_statement
    from attribcli.valuation.valuation import Valuation
    from attribcli.valuation.values import holder_values, license_values

    out, t = {}, time.perf_counter()
    check_reads(Path(run), VALUE_READS)  # what every value/payout does first: the files read against the manifest
    out["check"], t = time.perf_counter() - t, time.perf_counter()
    r = open_run(run, check=False)
    out["load"], t = time.perf_counter() - t, time.perf_counter()
    holder_values(r)
    out["holders"], t = time.perf_counter() - t, time.perf_counter()
    license_values(r)
    out["licences"], t = time.perf_counter() - t, time.perf_counter()
    spec = ReportSpec(kind="payout", format="csv", revenue="1000000.00", currency="USD")
    text = render_statement(Valuation(r), spec)
    out["payout"] = time.perf_counter() - t
    out["payout_lines"] = text.count("\n") - 1
    # what 'attrib payout --format csv' costs with its check (the table hashed on a thread while the statement is
    # computed, confirmed before output) and without any check, each measured twice, alternating
    from attribcli.posttrain.rundir import confirm_reads

    for k in range(2):
        for mode in ("unchecked", "checked"):
            t = time.perf_counter()
            opened = open_run(run, check=mode == "checked", behind=True)
            render_statement(Valuation(opened), spec)
            confirm_reads()
            took = time.perf_counter() - t
            out[f"payout_{mode}"] = min(out.get(f"payout_{mode}", took), took)
    out["peak_bytes"] = peak_rss_bytes()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[1000, 10_000, 100_000, 1_000_000, 10_000_000])
    ap.add_argument("--generations", type=int, default=100)
    ap.add_argument("--holders", type=int, default=1000)
    ap.add_argument("--samples-per-doc", type=int, default=10)
    ap.add_argument("--png", help="write a plot of seconds and peak memory against corpus size")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(measure(a.child)))
        return
    print(f"{a.generations} generations, {a.holders} holders, {a.samples_per_doc} samples per document; "
          "seconds per phase in a fresh process, its peak resident memory")
    print(f"{'samples':>10s} {'table GiB':>9s} {'write s':>8s} {'check s':>7s} {'load s':>7s} {'holders s':>9s} "
          f"{'licences s':>10s} {'payout s':>8s} {'total s':>8s} {'check/rest':>10s} {'peak MiB':>9s} "
          f"{'payout cmd s':>12s} {'+check s':>8s} {'ratio':>6s}")
    rows = {}
    for n in a.sizes:
        with tempfile.TemporaryDirectory(prefix="attrib-agg-") as tmp:
            run = Path(tmp) / "run"
            t0 = time.perf_counter()
            write_run(run, n, a.generations, a.holders, a.samples_per_doc)
            written = time.perf_counter() - t0
            res = subprocess.run([sys.executable, __file__, "--child", str(run)], capture_output=True, text=True,
                                 check=True)
            r = rows[n] = json.loads(res.stdout.strip().splitlines()[-1])
        rest = r["load"] + r["holders"] + r["licences"] + r["payout"]
        print(f"{n:10d} {n * a.generations * 8 / 2**30:9.3f} {written:8.1f} {r['check']:7.2f} {r['load']:7.2f} "
              f"{r['holders']:9.2f} {r['licences']:10.2f} {r['payout']:8.2f} {rest + r['check']:8.2f} "
              f"{r['check'] / rest:10.2f} {r['peak_bytes'] / 2**20:9.0f} {r['payout_unchecked']:12.2f} "
              f"{r['payout_checked']:8.2f} {r['payout_checked'] / r['payout_unchecked']:6.2f}", flush=True)
    with png_figure(a.png, ncols=2, title=f"Aggregation vs corpus size ({a.generations} generations)") as axes:
        if axes is not None:
            ns = list(rows)
            for phase in ("check", "load", "holders", "licences", "payout"):
                axes[0].loglog(ns, [max(rows[n][phase], 1e-4) for n in ns], "o-", label=phase)
            axes[0].set(xlabel="samples", ylabel="seconds")
            axes[0].legend()
            axes[1].loglog(ns, [rows[n]["peak_bytes"] / 2**20 for n in ns], "o-", label="peak resident")
            axes[1].loglog(ns, [n * a.generations * 8 / 2**20 for n in ns], "k--", label="value table size")
            axes[1].set(xlabel="samples", ylabel="MiB")
            axes[1].legend()


if __name__ == "__main__":
    main()
