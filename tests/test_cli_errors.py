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


# ------------------------------------------------ outputs, option values, pasted commands (issue 29, item 5)

def _unwritable(tmp_path):
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "a_dir.csv").mkdir()
    return {"parent is a file": tmp_path / "a_file" / "out.csv", "is a directory": tmp_path / "a_dir.csv",
            "under /proc": "/proc/no_such_process/out.csv"}


@pytest.mark.parametrize("case", ["parent is a file", "is a directory", "under /proc"])
def test_an_unwritable_output_is_one_line_naming_the_path_and_o(small_run, tmp_path, case):
    out = _unwritable(tmp_path)[case]
    for args in (["value", small_run], ["payout", small_run, "--revenue", "10"]):
        r = CliRunner().invoke(main, [*map(str, args), "-o", str(out)])
        assert r.exit_code == 2 and (r.exception is None or isinstance(r.exception, SystemExit)), r.output
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and str(out) in lines[0] and "-o" in lines[0], r.output


def test_an_unwritable_plot_is_one_line_and_leaves_no_statement(small_run, tmp_path):
    pytest.importorskip("matplotlib")
    (tmp_path / "statement.png").mkdir()  # the PNG's path is taken by a directory
    out = tmp_path / "statement.md"
    r = CliRunner().invoke(main, ["payout", str(small_run), "--revenue", "10", "--format", "md", "--plot",
                                  "-o", str(out)])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "statement.png" in r.output and "--plot" in r.output and not out.exists()


@pytest.mark.parametrize("fee", ["nan", "inf", "-inf", "1.5", "-0.1", "abc"])
def test_a_bad_platform_fee_is_blamed_on_the_option(small_run, fee):
    r = CliRunner().invoke(main, ["payout", str(small_run), "--revenue", "10", "--platform-fee", fee])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "--platform-fee" in r.output and "config.yaml" not in r.output


def test_a_good_platform_fee_still_works(small_run):
    r = CliRunner().invoke(main, ["payout", str(small_run), "--revenue", "10", "--platform-fee", "0.3"])
    assert r.exit_code == 0 and "PLATFORM" in r.stdout


def test_the_printed_next_commands_paste_into_a_shell(tmp_path):
    import shlex
    from pathlib import Path

    from attribcli.cli import _next_payout

    run = Path(tmp_path / "my runs" / "it's $HOME")
    argv = shlex.split(_next_payout(run).removeprefix("next: "))
    assert argv[:3] == ["attrib", "payout", str(run)] and argv[-1] == f"{run}/reports/payout.md"
    argv = shlex.split(_next_payout(run, "2026 11; rm").removeprefix("next: "))
    assert argv[2:5] == [str(run), "--valuation", "2026 11; rm"]
