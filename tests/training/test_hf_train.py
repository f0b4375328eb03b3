"""attrib train → payout → verify on a tiny local GPT-2 (tied embeddings) with AdamW, order 2, micro-batches."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("transformers")

from tests.model.test_hf import SENTENCES, _hf_model, _no_dropout, _save, _tokenizer  # noqa: E402
from tests.runs import ROOT, write_config  # noqa: E402


def _attrib(*args):
    return subprocess.run([sys.executable, "-m", "attribcli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


@pytest.mark.parametrize("attribution", [{"rule": "taylor", "order": 2}, {"rule": "path", "path_tolerance": 1e-9}],
                         ids=["taylor-order2", "path"])
def test_hf_gpt2_pipeline_with_adamw_and_micro_batches(tmp_path, attribution):
    """GPT-2 ties its embedding and output head: both rules see the tied weight's per-sample gradient."""
    ckpt = _save(tmp_path, _no_dropout(_hf_model("gpt2")), _tokenizer())
    data = tmp_path / "data"
    data.mkdir()
    words = " ".join(SENTENCES).split()
    docs = [{"id": f"d{i}", "text": " ".join(words[i:i + 6]), "holders": [{"id": f"h{i % 2}", "share": 1.0}],
             "license": "CC-BY-4.0"} for i in range(8)]
    (data / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (data / "holders.csv").write_text("holder_id,name,contact\nh0,Zero,z@example.org\nh1,One,o@example.org\n")
    (data / "generations.jsonl").write_text(
        json.dumps({"id": "g1", "prompt": "the cat", "completion": " sat on the mat.", "revenue": "3.00"}) + "\n"
        + json.dumps({"id": "g2", "prompt": "a dog", "completion": " ran in the park!", "revenue": "4.01"}) + "\n")
    cfg = write_config(tmp_path, data=data, model={"kind": "hf", "path": str(ckpt), "context_length": 32},
                       attribution=attribution, training__optimizer="adamw", training__lr=1e-3,
                       training__max_steps=3, training__batch_size=4, training__micro_batch_size=2)
    r = _attrib("train", cfg)
    assert r.returncode == 0, r.stderr
    assert "per-layer routes" in r.stderr
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["method"]["optimizer_rule"] == "adamw" and "model" in manifest["inputs"]
    v = np.load(run / "values.npy")
    assert v.shape == (8, 2) and np.isfinite(v).all() and np.abs(v).sum() > 0
    if attribution.get("rule") == "path":  # refined until the residual is rounding: values add up to each step
        t = pd.read_csv(run / "target_steps.csv")
        assert (t["nodes"] > 2).all()
        residual = (t["predicted_reduction"] + t["carry"] - t["realised_reduction"]).abs()
        assert residual.max() < 0.02 * t["realised_reduction"].abs().max()
    else:
        assert manifest["method"]["order"] == 2
        v1, v2 = (np.load(run / f) for f in ("values_order1.npy", "values_order2.npy"))
        assert np.abs(v2).sum() > 0
        np.testing.assert_array_equal(v, v1 + v2)
    out = run / "reports/payout.json"
    assert _attrib("payout", run, "--revenue-from-generations", "--format", "json", "-o", out).returncode == 0
    assert json.loads(out.read_text())["revenue_minor"] == 701
    assert _attrib("verify", run, out).returncode == 0
    if attribution.get("rule") == "path":
        _greedy_completions_are_the_fine_tuned_models(run, tmp_path)


def _greedy_completions_are_the_fine_tuned_models(run, tmp_path):
    """attrib generate on an hf run: the fine-tuned weights (model.pt), and transformers' own greedy search."""
    import torch

    from attribcli.posttrain.rundir import load_model

    (tmp_path / "prompts.jsonl").write_text(json.dumps({"id": "q", "prompt": "the cat"}) + "\n")
    r = _attrib("generate", run, "--prompts", tmp_path / "prompts.jsonl", "--max-new-tokens", "6")
    assert r.returncode == 0, r.stderr
    model, tok, _ = load_model(run)
    ids = torch.tensor([[tok.bos_id, *tok.encode("the cat")]])
    eos = tok.tok.eos_token_id
    ref = model.hf.generate(ids, max_new_tokens=6, min_new_tokens=6, do_sample=False, pad_token_id=eos)[0, 4:]
    assert json.loads(r.stdout)["completion"] == tok.decode(ref.tolist())


def test_a_context_beyond_the_models_own_positions_is_refused(tmp_path):
    """A Hugging Face model has no position past its own maximum: a larger model.context_length is refused in
    one line (not silently capped, not a 10^9-position allocation)."""
    from click.testing import CliRunner

    from attribcli.cli import main
    from tests.runs import copy_sample

    ckpt = _save(tmp_path, _no_dropout(_hf_model("gpt2")), _tokenizer())  # n_positions 32
    for context in (33, 1_000_000_000):
        cfg = write_config(tmp_path / f"c{context}", data=copy_sample(tmp_path / "data"),
                           model={"kind": "hf", "path": str(ckpt), "context_length": context})
        r = CliRunner().invoke(main, ["train", str(cfg)])
        assert r.exit_code == 2, r.output
        line = r.output.strip().splitlines()[-1]
        assert len(r.output.strip().splitlines()) == 1 and "model.context_length" in line and "at most 32" in line
        assert sorted(p.name for p in cfg.parent.iterdir()) == ["config.yaml"]
