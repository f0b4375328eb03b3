"""attrib generate on a small real run: deterministic, generations-format output that attrib values
directly, and every bad prompt one line with exit code 2 and nothing written."""

import json

import pytest
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.data.generations import load_generations
from attribcli.model.tokenizer import ByteTokenizer
from tests.runs import write_config

PROMPTS = [{"id": "p1", "prompt": "The wind", "revenue": "1.25"}, {"id": "p2", "prompt": "Mix the flour"},
           {"id": "p3", "prompt": "1. e4 e5"}]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("generate")
    out = {}
    for name, model in (("plain", None), ("lora", {"n_layer": 1, "n_head": 2, "n_embd": 32, "context_length": 256,
                                                   "lora": {"rank": 2, "alpha": 4, "targets": []}})):
        cfg = write_config(base / name, **({"model": model} if model else {}))
        r = CliRunner().invoke(main, ["train", str(cfg)])
        assert r.exit_code == 0, r.output
        out[name] = base / name / "run"
    prompts = base / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    return out, prompts


def _generate(run, prompts, *args):
    return CliRunner().invoke(main, ["generate", str(run), "--prompts", str(prompts), *map(str, args)])


@pytest.mark.parametrize("kind", ["plain", "lora"])
def test_generate_is_deterministic_and_feeds_valuation(runs, kind, tmp_path):
    run, prompts = runs[0][kind], runs[1]
    greedy = _generate(run, prompts, "--max-new-tokens", "12", "-o", tmp_path / "g.jsonl")
    assert greedy.exit_code == 0, greedy.output
    assert _generate(run, prompts, "--max-new-tokens", "12").stdout == (tmp_path / "g.jsonl").read_text()
    sampled = [_generate(run, prompts, "--max-new-tokens", "12", "--temperature", "1", "--seed", s).stdout
               for s in (5, 5, 6)]
    assert sampled[0] == sampled[1] != sampled[2]
    recs = [json.loads(line) for line in (tmp_path / "g.jsonl").read_text().splitlines()]
    assert [r["id"] for r in recs] == ["p1", "p2", "p3"] and [r["prompt"] for r in recs] == [p["prompt"]
                                                                                           for p in PROMPTS]
    assert recs[0]["revenue"] == "1.25" and "revenue" not in recs[1] and all(r["completion"] for r in recs)
    gens = load_generations(tmp_path / "g.jsonl", context_length=256, currency="USD", tokenizer=ByteTokenizer())
    assert len(gens) == 3
    cfg = write_config(tmp_path / "again", data__generations=str(tmp_path / "g.jsonl"))
    assert CliRunner().invoke(main, ["train", str(cfg)]).exit_code == 0


def test_a_long_prompt_stops_at_the_context(runs, tmp_path):
    run = runs[0]["plain"]
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "x", "prompt": "a" * 250}) + "\n")
    r = _generate(run, tmp_path / "p.jsonl", "--max-new-tokens", "50")
    assert r.exit_code == 0
    assert len(json.loads(r.stdout)["completion"].encode()) <= 6  # BOS + 250 + 6 = 257 tokens, 256 predicted


@pytest.mark.parametrize("line, field", [
    ({"id": "x", "prompt": ""}, "prompt"),
    ({"id": "x", "prompt": "   "}, "prompt"),
    ({"id": "x", "prompt": "a" * 256}, "prompt"),
    ({"id": "x"}, "prompt"),
    ({"prompt": "hi"}, "id"),
    ({"id": "x", "prompt": "hi", "colour": "red"}, "colour"),
    ({"id": "x", "prompt": "hi", "revenue": "-1"}, "revenue"),
])
def test_bad_prompts_are_one_line_errors_and_nothing_is_written(runs, tmp_path, line, field):
    prompts = tmp_path / "p.jsonl"
    prompts.write_text(json.dumps({"id": "ok", "prompt": "fine"}) + "\n" + json.dumps(line) + "\n")
    r = _generate(runs[0]["plain"], prompts, "-o", tmp_path / "out.jsonl")
    assert r.exit_code == 2 and not (tmp_path / "out.jsonl").exists()
    msg = r.output.strip()
    assert len(msg.splitlines()) == 1 and f"p.jsonl:2: {field}" in msg, msg


def test_generate_needs_a_finished_run(tmp_path):
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "x", "prompt": "hi"}) + "\n")
    r = _generate(tmp_path / "nothing", tmp_path / "p.jsonl")
    assert r.exit_code == 2 and "not a finished attrib run" in r.output


def test_generation_prompts_in_the_config_train_generate_and_replay_in_one_command(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    settings = {"max_new_tokens": 10, "temperature": 0.8, "top_p": 0.9, "seed": 3}
    cfg = write_config(tmp_path / "one", data__generations=None, data__generation_prompts=str(prompts),
                       generate=settings)
    r = CliRunner().invoke(main, ["train", str(cfg)])
    assert r.exit_code == 0, r.output
    run = tmp_path / "one/run"
    valuation = run / "valuations/generated"
    man = json.loads((valuation / "manifest.json").read_text())
    assert {k: man["generated"][k] for k in settings} == settings and man["kind"] == "replay"
    assert not (run / "valuations/.generated.jsonl").exists()
    # the same as the commands one by one: generate under the seed, then replay its output directly
    made = tmp_path / "made.jsonl"
    assert _generate(run, prompts, "--max-new-tokens", "10", "--temperature", "0.8", "--top-p", "0.9", "--seed", "3",
                     "-o", made).exit_code == 0
    rows = lambda f: [{"revenue": None} | json.loads(line) for line in f.read_text().splitlines()]  # noqa: E731
    assert rows(made) == rows(valuation / "generations.jsonl")
    r = CliRunner().invoke(main, ["replay", str(run), "--generations", str(made), "--name", "by-hand"])
    assert r.exit_code == 0, r.output
    for f in ("values.npy", "losses.csv", "target_steps.csv"):
        assert (valuation / f).read_bytes() == (run / "valuations/by-hand" / f).read_bytes(), f
    pay = CliRunner().invoke(main, ["payout", str(run), "--valuation", "generated", "--revenue-from-generations"])
    assert pay.exit_code == 2 and "valuations/generated/generations.jsonl: revenue: generation 'p2'" in pay.output
    r = CliRunner().invoke(main, ["payout", str(run), "--valuation", "generated", "--revenue", "9.00"])
    assert r.exit_code == 0, r.output


def test_a_bad_generation_prompt_in_the_config_stops_training_before_anything_is_written(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"id": "p1", "prompt": "  "}) + "\n")
    cfg = write_config(tmp_path, data__generations=None, data__generation_prompts=str(prompts))
    r = CliRunner().invoke(main, ["train", str(cfg)])
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and "prompt is empty" in r.output
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()
    both = write_config(tmp_path / "both", data__generation_prompts=str(prompts))
    r = CliRunner().invoke(main, ["train", str(both)])
    assert r.exit_code == 2 and "data.generation_prompts" in r.output
