"""Every benchmark script still runs (tiny sizes): the figures in RESULTS.md stay reproducible.

These check that the scripts work against the current API and print their tables; they assert no
timing (figures are measured by running the scripts as RESULTS.md says, not here)."""

import os
import subprocess
import sys

import pytest

from tests.runs import ROOT, short_reference, write_config


def _bench(*args, timeout=300):
    r = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def _assert_png(path):
    assert path.read_bytes()[:4] == b"\x89PNG", path


@pytest.fixture(scope="module")
def tiny_config(tmp_path_factory):
    return write_config(tmp_path_factory.mktemp("bench"), training__max_steps=2, training__batch_size=4)


def test_throughput_benchmark_runs(tiny_config, tmp_path):
    out = _bench("benchmarks/throughput.py", "--config", tiny_config, "--steps", "1", "--repeat", "2",
                 "--png", tmp_path / "t.png")
    assert "order 1" in out and "order 2" in out and "\npath " in out
    _assert_png(tmp_path / "t.png")
    out = _bench("benchmarks/throughput.py", "--synthetic", "16x32", "--steps", "1", "--batch-size", "2",
                 "--generations", "2")
    assert "16x32" in out
    out = _bench("benchmarks/throughput.py", "--corpus", "6", "12", "--synthetic", "16x32", "--batch-size", "4",
                 "--generations", "2", "--png", tmp_path / "corpus.png")
    lines = out.splitlines()
    assert lines[-2].split()[0] == "6" and lines[-1].split()[0] == "12"
    _assert_png(tmp_path / "corpus.png")


def test_fidelity_benchmarks_run(tiny_config, tmp_path):
    out = _bench("benchmarks/utility_approximation.py", "--config", tiny_config, "--steps", "2", "--lrs", "1e-3",
                 "--png", tmp_path / "utility.png")
    assert "Spearman" in out
    _assert_png(tmp_path / "utility.png")
    out = _bench("benchmarks/adam_fidelity.py", "--config", tiny_config, "--warmup", "1", "--steps", "1",
                 "--batch", "3", "--png", tmp_path / "adam.png")
    assert "Pearson" in out
    _assert_png(tmp_path / "adam.png")
    out = _bench("benchmarks/shapley_ground_truth.py", "--permutations", "2", "--steps", "2",
                 "--png", tmp_path / "shapley.png")
    assert "Spearman" in out and "pooled" in out and "path~MC" in out
    _assert_png(tmp_path / "shapley.png")
    out = _bench("benchmarks/peers.py", "--steps", "2", "--repeat", "1", "--png", tmp_path / "peers.png")
    assert "torch.func" in out
    _assert_png(tmp_path / "peers.png")


def test_source_recovery_benchmark_runs(tiny_config, tmp_path):
    out = _bench("benchmarks/source_recovery.py", "--config", tiny_config, "--per-holder", "1",
                 "--png", tmp_path / "recovery.png")
    assert "attrib" in out and "BM25" in out and "TF-IDF" in out
    _assert_png(tmp_path / "recovery.png")
    out = _bench("benchmarks/source_recovery.py", "--config", tiny_config, "--per-holder", "1",
                 "--reference", short_reference(tmp_path))
    assert "attrib specific (sum)" in out and "\npool " in out and "\ntokens " in out


def test_seed_stability_and_holder_loo_benchmarks_run(tiny_config, tmp_path):
    ref = short_reference(tmp_path)
    out = _bench("benchmarks/seed_stability.py", "--config", tiny_config, "--seeds", "1", "2", "--reference", ref,
                 "--work", tmp_path / "seeds")
    assert "payout --shared pool" in out and "shared pool by step shares" in out and "of 8 |" in out
    out = _bench("benchmarks/holder_loo.py", "--config", tiny_config, "--seeds", "1", "2", "--reference", ref,
                 "--holders", "h01", "h02", "h04", "--lds", "3", "--work", tmp_path / "seeds")  # full runs reused
    assert "attrib: specific" in out and "(ceiling)" in out and "gradient similarity" in out
    lds = out[out.index("LDS over 3 random halves"):].splitlines()
    assert any(ln.startswith("| attrib: total |") for ln in lds)
    assert any(ln.startswith("| (ceiling) the subsets' losses under another seed |") for ln in lds)


def test_memorisation_benchmark_runs(tiny_config):
    out = _bench("benchmarks/memorisation.py", "--config", tiny_config, "--holdout", "1")
    rows = [ln.split(" | ") for ln in out.splitlines() if ln.startswith(("h", "all"))]
    assert len(rows) >= 6 and all(len(r) == 9 for r in rows) and rows[-1][0].strip() == "all"
    assert "5-grams are in trained documents" in out and "goal: whole documents >= 2" in out


def test_fidelity_regimes_benchmark_runs(tiny_config, tmp_path):
    out = _bench("benchmarks/fidelity_regimes.py", "--config", tiny_config, "--regimes", "sgd", "adamw",
                 "--rules", "o1", "path", "dense", "--max-steps", "2", "--png", tmp_path / "regimes.png")
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["regime", "rule"]
    assert [ln.split()[:2] for ln in lines[1:]] == [[r, k] for r in ("sgd", "adamw") for k in ("o1", "path", "dense")]
    dense = [ln.split() for ln in lines[1:] if ln.split()[1] == "dense"]
    assert all(float(row[-2]) == 0 and float(row[-1]) == 1 for row in dense)  # the reference against itself
    _assert_png(tmp_path / "regimes.png")


def test_replay_benchmarks_run(tiny_config):
    out = _bench("benchmarks/replay_cost.py", "--config", tiny_config, "--steps", "2", "--generations", "1", "8")
    rows = [ln.split(" | ") for ln in out.splitlines() if ln.startswith(("train", "replay")) and " | " in ln]
    assert len(rows) == 5 and "segments side by side give the serial replay's bytes: True" in out
    out = _bench("benchmarks/copyright_replay.py", "--config", tiny_config, "--max-new-tokens", "4")
    assert "attrib (replay)" in out and "BM25" in out and "reproduce their source" in out


def test_index_benchmark_runs(tiny_config):
    out = _bench("benchmarks/index_fidelity.py", "--config", tiny_config, "--configs", "256x1,512x2",
                 "--sample-generations", "1", "--scale-samples", "3000", "--scale-generations", "20")
    rows = [ln for ln in out.splitlines() if ln.startswith(("| 256 | 1 |", "| 512 | 2 |"))]
    assert len(rows) == 2 and all(len(r.split(" | ")) == 12 for r in rows), out
    assert "Scale: synthetic index of 3,000 samples" in out and "peak resident memory" in out


def test_side_by_side_benchmark_runs(tmp_path):
    out = _bench("benchmarks/side_by_side.py", "--dry-run", "--markdown", tmp_path / "sbs.md")
    rows = {line.split(" | ")[0].lstrip("| "): line for line in out.splitlines() if line.startswith("| ")}
    assert "GhostSuite GradDotProdEngine (1 val.)" in rows and "Opacus 1.6 GradSampleModule (1 gen.)" in rows
    for name in ("plain training", "attrib order 1 (1 generation)", "attrib order 1 (8 generations)"):
        assert float(rows[name].split(" | ")[1]) > 0, rows[name]  # a time, not an error
    assert (tmp_path / "sbs.md").read_text().strip() == out.strip()


def test_gpu_script_dry_run_runs_every_step(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable}  # the interpreter running the tests, not a bare python3
    r = subprocess.run(["bash", "benchmarks/gpu.sh", "--dry-run", "--out", str(tmp_path / "gpu.md")],
                       capture_output=True, text=True, cwd=ROOT, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    md = (tmp_path / "gpu.md").read_text()
    assert md.startswith("# GPU figures: ")
    for title in ("CUDA tests", "Throughput, fp32", "Throughput, bf16", "Side by side",
                  "Train on the device, then replay", "Scaling in generations", "Real size under AdamW"):
        assert f"## {title}" in md, title
    assert md.count("(exit code 0,") == 7 and "tracking tax / plain step" in md and "valuation written to" in md
    rows = [ln for ln in md.splitlines() if ln.startswith("| gpt2-tiny |")]
    assert len(rows) == 8 and not any("failed" in r for r in rows), rows  # full and LoRA, four modes each


def test_index_oracle_benchmark_runs(tiny_config):
    out = _bench("benchmarks/index_oracle.py", "--config", tiny_config, "--sample-generations", "1", "--every", "1")
    rows = [ln for ln in out.splitlines() if ln.startswith("| every 1 steps")]
    assert len(rows) == 2 and all(len(r.split(" | ")) == 9 for r in rows), out
    assert "| own |" in out


def test_debian_corpus_builder_writes_attribs_input_format(tmp_path):
    """On a fake documentation tree (CI has no Debian docs): equal catalogues of prose chunks, shared boilerplate
    dropped, reference texts held out, and files attrib's own loaders accept."""
    import json

    from attribcli.data.corpus import iter_documents
    from attribcli.rights.holders import load_holders

    words = ["river", "stone", "lantern", "harbour", "meadow", "copper", "window", "signal", "garden", "engine"]
    for k, pkg in enumerate(("alpha", "bravo", "charlie")):
        (tmp_path / "doc" / pkg).mkdir(parents=True)
        paras = [" ".join(f"The {words[(i + j + k) % 10]} of {pkg} number {i} turns {j} times." for j in range(6))
                 for i in range(12)]
        paras.append("This program is free software; see /usr/share/common-licenses/GPL-2 for the text.")
        (tmp_path / "doc" / pkg / "README").write_text("\n\n".join(paras) + "\n")
    out = tmp_path / "out"
    _bench("benchmarks/debian_corpus.py", "--out", out, "--holders", "2", "--docs-per-holder", "3",
           "--root", tmp_path / "doc")
    docs = [json.loads(line) for line in (out / "corpus.jsonl").read_text().splitlines()]
    refs = [json.loads(line)["completion"] for line in (out / "reference.jsonl").read_text().splitlines()]
    assert len(docs) == 6 and len(refs) == 2 and not set(refs) & {d["text"] for d in docs}
    assert all(250 <= len(d["text"]) <= 480 and "common-licenses" not in d["text"] for d in docs)
    holders = load_holders(out / "holders.csv")
    assert len(list(iter_documents(out / "corpus.jsonl", holders))) == 6
    r = subprocess.run([sys.executable, "benchmarks/debian_corpus.py", "--out", out, "--root", tmp_path / "doc"],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1  # an output folder in use is refused


def test_survey_coverage_benchmark_runs(tiny_config, tmp_path):
    out = _bench("benchmarks/survey_coverage.py", "--config", tiny_config, "--generations", "24", "--max-steps", "2",
                 "--sizes", "6", "--repeats", "3", "--max-new-tokens", "4", "--index-dim", "64", "--work", tmp_path)
    assert "equals this script's estimate for seed 0: True" in out
    rows = [ln for ln in out.splitlines() if ln.startswith("| 6 |")]
    assert [r.split(" | ")[1] for r in rows] == ["Horvitz-Thompson", "difference (index)"]
