"""Every bad input through `attrib train`: exit 2, one line naming file and field, nothing written."""

import json

import pytest
from click.testing import CliRunner

from attribcli.cli import main
from tests.runs import copy_sample, write_config


def _edit_jsonl(path, line_no, **changes):
    lines = path.read_text().splitlines()
    rec = json.loads(lines[line_no])
    rec.update(changes)
    lines[line_no] = json.dumps(rec)
    path.write_text("\n".join(lines) + "\n")


def _cache_under_a_file(data, cfg):
    (data / "blocker").write_text("x")
    cfg.write_text(cfg.read_text().replace("data:\n", f"data:\n  token_cache: {data}/blocker/sub\n"))


def _set(cfg, old, new):
    assert old in cfg.read_text()
    cfg.write_text(cfg.read_text().replace(old, new))


BAD = {
    "malformed YAML": (lambda d, c: c.write_text("run_dir: [unclosed\n"), "config.yaml", "line"),
    "unknown key": (lambda d, c: c.write_text(c.read_text().replace("seed:", "sead:")), "config.yaml", "sead"),
    "missing corpus file": (lambda d, c: (d / "corpus.jsonl").unlink(), "corpus", "data.corpus"),
    "share sum": (lambda d, c: _edit_jsonl(d / "corpus.jsonl", 3, holders=[{"id": "h01", "share": 0.9}]),
                  "corpus.jsonl:4", "holders"),
    "duplicate document id": (lambda d, c: _edit_jsonl(d / "corpus.jsonl", 5, id="doc-0001"), "corpus.jsonl:6", "id"),
    "bad licence": (lambda d, c: _edit_jsonl(d / "corpus.jsonl", 2, license="CC-BY-9.9"), "corpus.jsonl:3", "license"),
    "negative revenue": (lambda d, c: _edit_jsonl(d / "generations.jsonl", 0, revenue="-1.00"),
                         "generations.jsonl:1", "revenue"),
    "non-numeric revenue": (lambda d, c: _edit_jsonl(d / "generations.jsonl", 1, revenue="lots"),
                            "generations.jsonl:2", "revenue"),
    "empty corpus": (lambda d, c: (d / "corpus.jsonl").write_text("\n"), "corpus.jsonl", "no documents"),
    "unknown holder": (lambda d, c: _edit_jsonl(d / "corpus.jsonl", 0, holders=[{"id": "h99", "share": 1}]),
                       "corpus.jsonl:1", "holders[0].id"),
    "holders missing column": (lambda d, c: (d / "holders.csv").write_text("holder_id,name\nh01,A\n"),
                               "holders.csv", "header"),
    "unwritable token cache": (lambda d, c: _cache_under_a_file(d, c), "blocker", "data.token_cache"),
    "batch larger than the corpus": (lambda d, c: _set(c, "batch_size: 8", "batch_size: 1000000000"), "config.yaml",
                                     "training.batch_size"),
    "context too long for memory": (lambda d, c: _set(c, "context_length: 256", "context_length: 1000000000"),
                                    "config.yaml", "model.context_length"),
    "model too wide for memory": (lambda d, c: _set(c, "n_embd: 32", "n_embd: 1000000000000"), "config.yaml",
                                  "model.n_embd"),
    "model too deep for memory": (lambda d, c: _set(c, "n_layer: 1", "n_layer: 1000000000000"), "config.yaml",
                                  "model.n_layer"),
    "seed too large": (lambda d, c: _set(c, "seed: 7", "seed: 1000000000000000000000000000000"), "config.yaml",
                       "seed"),
    "negative seed": (lambda d, c: _set(c, "seed: 7", "seed: -5"), "config.yaml", "seed"),
    "generation too long": (lambda d, c: _edit_jsonl(d / "generations.jsonl", 2, completion="x" * 400),
                            "generations.jsonl:3", "completion"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, case):
    breaker, file_part, field = BAD[case]
    data = copy_sample(tmp_path / "data")
    cfg = write_config(tmp_path / "cfg", data=data)
    breaker(data, cfg)
    r = CliRunner().invoke(main, ["train", str(cfg)])
    assert r.exit_code == 2, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert file_part in lines[0] and field in lines[0], lines[0]
    assert "fix:" in lines[0] or case == "malformed YAML" and "line" in lines[0]
    assert sorted(p.name for p in (tmp_path / "cfg").iterdir()) == ["config.yaml"]

