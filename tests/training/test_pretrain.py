"""tokenizer → pretrain → train from the command line: the BPE base the sample ships is made this way, and a
run is keyed to the tokenizer it was made with (token cache, base weights, manifest)."""

import json
import subprocess
import sys

from attribcli.posttrain.rundir import open_run
from tests.runs import ROOT, write_config

BASE_TEXT = ROOT / "sample_data/base_text/base_text.txt"


def _attrib(*args):
    return subprocess.run([sys.executable, "-m", "attribcli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


def test_a_bpe_base_is_made_and_fine_tuned_from_the_command_line(tmp_path):
    tok = tmp_path / "tokenizer.json"
    r = _attrib("tokenizer", "--text", BASE_TEXT, "--vocab-size", "400", "--out", tok)
    assert r.returncode == 0 and "400 tokens" in r.stderr, r.stderr
    model = {"n_layer": 1, "n_head": 2, "n_embd": 32, "context_length": 192, "tokenizer": str(tok)}
    cfg = write_config(tmp_path, model=model)
    base = tmp_path / "base.pt"
    r = _attrib("pretrain", cfg, "--text", BASE_TEXT, "--out", base, "--steps", "3", "--batch-size", "2")
    assert r.returncode == 0 and "nats/token" in r.stderr, r.stderr
    cfg = write_config(tmp_path, model={**model, "base_weights": str(base)})
    r = _attrib("train", cfg)
    assert r.returncode == 0, r.stderr
    run = open_run(tmp_path / "run")
    assert {"tokenizer", "base_weights"} <= set(run.manifest["inputs"])
    samples = run.samples
    doc = json.loads((ROOT / "sample_data/corpus.jsonl").read_text().splitlines()[0])
    first = samples[samples["doc_id"] == doc["id"]]
    assert first["tokens"].sum() < len(doc["text"]) / 1.5  # BPE windows, not bytes

    # the same weights under another tokenizer (same size) are refused, before anything is written
    other = tmp_path / "other.json"
    (tmp_path / "other.txt").write_text(BASE_TEXT.read_text()[:20000])
    assert _attrib("tokenizer", "--text", tmp_path / "other.txt", "--vocab-size", "400", "--out", other).returncode == 0
    bad = write_config(tmp_path / "bad", model={**model, "tokenizer": str(other), "base_weights": str(base)})
    r = _attrib("train", bad)
    assert r.returncode == 2 and "model.tokenizer" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "bad/run").exists() and not (tmp_path / "bad/run.partial").exists()
