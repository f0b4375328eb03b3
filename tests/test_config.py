"""Config loading: the sample loads, and every bad input is one AttribError line naming file, field and fix."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from attribcli.cli import main
from attribcli.config import Config, from_dict, load_config
from attribcli.errors import AttribError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "configs" / "sample.yaml"

MINIMAL = """\
run_dir: runs/x
data:
  corpus: data/corpus.jsonl
  holders: data/holders.csv
  generations: data/generations.jsonl
"""


def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def with_training(**kv) -> str:
    """MINIMAL plus a training section holding the given raw YAML values."""
    return MINIMAL + "training:\n" + "".join(f"  {k}: {v}\n" for k, v in kv.items())


def bad(path: Path, *needles: str, run_dir=None) -> str:
    """Load ``path``, expect an AttribError; check it is one line naming the file and every needle."""
    with pytest.raises(AttribError) as info:
        load_config(path, run_dir=run_dir)
    msg = str(info.value)
    assert "\n" not in msg and "\r" not in msg, msg
    assert msg == info.value.line()
    assert info.value.exit_code == 2
    assert path.name in msg, msg
    for n in needles:
        assert n in msg, f"{n!r} not in {msg!r}"
    return msg


# --- the good path -------------------------------------------------------------------------------

def test_sample_config_loads_with_absolute_paths_relative_to_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # resolution must not depend on the working directory
    cfg = load_config(SAMPLE)
    configs = SAMPLE.parent
    assert cfg.source == SAMPLE.resolve()
    assert cfg.run_dir == (configs / "../runs/sample").resolve()
    assert cfg.data.corpus == (ROOT / "sample_data" / "corpus.jsonl").resolve()
    assert cfg.data.holders == (ROOT / "sample_data" / "holders.csv").resolve()
    assert cfg.data.generations == (ROOT / "sample_data" / "generations.jsonl").resolve()
    assert cfg.model.base_weights == (ROOT / "sample_data" / "base_model.pt").resolve()
    assert cfg.model.tokenizer == (ROOT / "sample_data" / "tokenizer.json").resolve()
    for p in (cfg.run_dir, cfg.data.corpus, cfg.data.holders, cfg.data.generations, cfg.model.base_weights,
              cfg.model.tokenizer):
        assert p.is_absolute()
    for p in (cfg.data.corpus, cfg.data.holders, cfg.data.generations):
        assert p.is_file()
    assert cfg.seed == 1234
    assert (cfg.model.kind, cfg.model.n_layer, cfg.model.n_head, cfg.model.n_embd, cfg.model.context_length) == \
        ("gpt", 4, 4, 192, 256)
    t = cfg.training
    assert (t.epochs, t.max_steps, t.batch_size, t.lr, t.schedule, t.warmup_steps, t.optimizer, t.device,
            t.checkpoint_every, t.log_every) == (6, None, 16, 0.001, "constant", 20, "adamw", "auto", 10, 10)
    assert isinstance(t.lr, float)
    assert cfg.attribution.order == 1 and cfg.attribution.rule == "path"
    assert cfg.payout.currency == "USD"


def test_minimal_config_gets_the_documented_defaults(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.run_dir == (tmp_path / "runs" / "x").resolve()
    assert cfg.data.corpus == (tmp_path / "data" / "corpus.jsonl").resolve()
    assert cfg.seed == 0
    assert cfg.model.kind == "gpt" and cfg.model.n_layer == 4 and cfg.model.context_length == 256
    assert cfg.model.base_weights is None
    assert cfg.model.lora is None  # an optional section left out stays off (it once defaulted to on)
    assert cfg.data.duplicates == "share" and cfg.data.token_cache is None
    assert cfg.training.epochs == 1 and cfg.training.max_steps is None
    assert cfg.training.batch_size == 16 and cfg.training.lr == 0.005 and cfg.training.optimizer == "sgd"
    assert cfg.training.device == "auto" and cfg.training.checkpoint_every == 25
    assert cfg.attribution.order == 1 and cfg.attribution.rule == "path"
    assert cfg.payout.currency == "USD"


def test_absolute_paths_are_kept_and_home_is_expanded(tmp_path):
    abs_corpus = tmp_path / "elsewhere" / "c.jsonl"
    text = MINIMAL.replace("data/corpus.jsonl", str(abs_corpus)).replace("data/holders.csv", "~/h.csv")
    cfg = load_config(write(tmp_path, text))
    assert cfg.data.corpus == abs_corpus.resolve()
    assert cfg.data.holders == (Path.home() / "h.csv").resolve()


def test_empty_sections_use_defaults_and_int_lr_becomes_float(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + "training: {}\nmodel: {}\n"))
    assert cfg.training.batch_size == 16 and cfg.model.n_embd == 128
    cfg = load_config(write(tmp_path, with_training(lr=1)))
    assert cfg.training.lr == 1.0 and isinstance(cfg.training.lr, float)


def test_max_steps_alone_is_enough(tmp_path):
    cfg = load_config(write(tmp_path, with_training(epochs="null", max_steps=5)))
    assert cfg.training.epochs is None and cfg.training.max_steps == 5


def test_run_dir_override(tmp_path):
    other = tmp_path / "override" / "run"
    cfg = load_config(SAMPLE, run_dir=other)
    assert cfg.run_dir == other.resolve()
    assert cfg.data.corpus == (ROOT / "sample_data" / "corpus.jsonl").resolve()  # the rest is untouched


def test_run_dir_override_supplies_a_missing_run_dir(tmp_path):
    text = MINIMAL.replace("run_dir: runs/x\n", "")
    bad(write(tmp_path, text), "run_dir", "required")
    cfg = load_config(tmp_path / "cfg.yaml", run_dir=tmp_path / "r")
    assert cfg.run_dir == (tmp_path / "r").resolve()


def test_to_dict_is_yaml_safe_and_round_trips(tmp_path):
    cfg = load_config(SAMPLE)
    d = cfg.to_dict()
    assert "source" not in d
    assert d["run_dir"] == str(cfg.run_dir) and d["data"]["corpus"] == str(cfg.data.corpus)
    assert d["training"]["max_steps"] is None

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                assert isinstance(k, str)
                walk(x)
        elif isinstance(v, list):  # the licence policy's class lists
            for x in v:
                walk(x)
        else:
            assert v is None or type(v) in (str, int, float, bool), (v, type(v))
    walk(d)

    text = yaml.safe_dump(d, sort_keys=False)  # raises on anything not plain data
    assert yaml.safe_load(text) == d
    # reloading the dumped config (absolute paths) gives the same Config, from a file or from data
    again = load_config(write(tmp_path, text, "resolved.yaml"))
    assert again == cfg
    assert from_dict(yaml.safe_load(text), base=tmp_path) == cfg


# --- file-level errors ---------------------------------------------------------------------------

def test_missing_config_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(AttribError) as info:
        load_config(missing)
    msg = str(info.value)
    assert "\n" not in msg and "nope.yaml" in msg and "not found" in msg and "fix:" in msg


def test_a_directory_is_not_a_config(tmp_path):
    with pytest.raises(AttribError, match="not found"):
        load_config(tmp_path)


@pytest.mark.parametrize("text, where", [
    ("run_dir: x\ndata: [1, 2\n", "line 3"),
    ("run_dir: x\ndata:\n  corpus: a\n bad: 1\n", "line 4"),
    ("run_dir: x\n\tseed: 1\n", "line 2, column 1"),
    ('run_dir: "x\n', "line 2"),
])
def test_malformed_yaml_names_line_and_column(tmp_path, text, where):
    msg = bad(write(tmp_path, text), "malformed YAML", where, "column")
    assert "fix:" in msg


def test_python_tags_are_refused_as_malformed(tmp_path):
    bad(write(tmp_path, "run_dir: !!python/object/apply:os.system [echo hi]\n"), "malformed YAML", "line 1")


def test_too_long_number_or_too_deep_nesting_is_one_line(tmp_path):
    bad(write(tmp_path, MINIMAL + "seed: 1" + "0" * 5000 + "\n"), "malformed YAML")
    bad(write(tmp_path, "seed: " + "[" * 5000 + "]" * 5000 + "\n"), "malformed YAML")


def test_not_utf8(tmp_path):
    p = tmp_path / "cfg.yaml"
    p.write_bytes(b"run_dir: caf\xe9\n")
    bad(p, "UTF-8")


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n- b\n", "just text\n", "42\n"])
def test_config_must_be_a_mapping(tmp_path, text):
    bad(write(tmp_path, text), "mapping")


# --- keys ----------------------------------------------------------------------------------------

def test_unknown_top_level_key_did_you_mean(tmp_path):
    msg = bad(write(tmp_path, MINIMAL + "trainng:\n  epochs: 1\n"), "trainng", "unknown key",
              "did you mean 'training'?")
    assert msg.startswith(str(tmp_path / "cfg.yaml") + ": trainng: ")


def test_unknown_nested_key_did_you_mean(tmp_path):
    bad(write(tmp_path, with_training(epoch=3)), "training.epoch", "unknown key", "did you mean 'training.epochs'?")
    bad(write(tmp_path, MINIMAL.replace("corpus:", "corpsu:")), "data.corpsu", "did you mean 'data.corpus'?")


def test_unknown_key_without_a_close_match_lists_the_allowed_ones(tmp_path):
    bad(write(tmp_path, MINIMAL + "payout:\n  zzz: 1\n"), "payout.zzz", "unknown key", "allowed keys here: currency")


def test_internal_source_field_is_not_a_config_key(tmp_path):
    bad(write(tmp_path, MINIMAL + "source: x\n"), "source", "unknown key")


def test_missing_required_key(tmp_path):
    text = MINIMAL.replace("  corpus: data/corpus.jsonl\n", "")
    msg = bad(write(tmp_path, text), "data.corpus", "required key is missing", "fix:")
    assert "JSONL or CSV" in msg  # the fix carries the key's help


def test_missing_data_section(tmp_path):
    bad(write(tmp_path, "run_dir: x\n"), "data.corpus", "required key is missing")


def test_section_must_be_a_mapping(tmp_path):
    bad(write(tmp_path, MINIMAL + "training: 5\n"), "training", "expected a mapping")
    bad(write(tmp_path, MINIMAL + "model: [a, b]\n"), "model", "expected a mapping")


# --- types ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, field, needle", [
    ("batch_size", '"16"', "training.batch_size", "whole number"),       # string for int
    ("batch_size", "sixteen", "training.batch_size", "whole number"),
    ("batch_size", "true", "training.batch_size", "whole number"),       # bool for int
    ("batch_size", "16.0", "training.batch_size", "whole number"),       # float for int
    ("batch_size", "[16]", "training.batch_size", "whole number"),
    ("epochs", "yes", "training.epochs", "whole number"),                # YAML 1.1 bool
    ("lr", '"0.05"', "training.lr", "number"),                           # quoted number
    ("lr", "true", "training.lr", "number"),
    ("lr", ".nan", "training.lr", "finite number"),                      # NaN
    ("lr", ".inf", "training.lr", "finite number"),
    ("lr", "1" + "0" * 400, "training.lr", "finite number"),             # too big for a float
    ("batch_size", "", "training.batch_size", "must not be empty"),      # null for a required value
])
def test_wrong_types(tmp_path, key, value, field, needle):
    msg = bad(write(tmp_path, with_training(**{key: value})), field, needle)
    assert "fix:" in msg


def test_bool_or_float_is_not_the_literal_1(tmp_path):
    for v in ("true", "1.0", '"1"'):
        bad(write(tmp_path, MINIMAL + f"attribution:\n  order: {v}\n"), "attribution.order", "invalid value",
            "use one of: 1")


def test_seed_must_be_an_int(tmp_path):
    bad(write(tmp_path, MINIMAL + "seed: 1.5\n"), "seed", "whole number")


@pytest.mark.parametrize("text, field", [
    (MINIMAL.replace("runs/x", "5"), "run_dir"),
    (MINIMAL.replace("data/corpus.jsonl", '""'), "data.corpus"),
    (MINIMAL.replace("data/holders.csv", "[a, b]"), "data.holders"),
    (MINIMAL + "model:\n  base_weights: 3\n", "model.base_weights"),
])
def test_paths_must_be_text(tmp_path, text, field):
    bad(write(tmp_path, text), field, "expected a path")


def test_currency_must_be_text(tmp_path):
    bad(write(tmp_path, MINIMAL + "payout:\n  currency: 5\n"), "payout.currency", "expected text")


# --- choices and bounds --------------------------------------------------------------------------

@pytest.mark.parametrize("key, value, field, needle", [
    ("optimizer", "adam", "training.optimizer", "use one of: sgd"),
    ("device", "tpu", "training.device", "did you mean 'cpu'?"),
    ("device", "tpu", "training.device", "use one of: auto, cpu, cuda"),
    ("device", "CUDA", "training.device", "did you mean 'cuda'?"),
    ("schedule", "cosin", "training.schedule", "did you mean 'cosine'?"),
])
def test_invalid_choice_with_suggestion(tmp_path, key, value, field, needle):
    bad(write(tmp_path, with_training(**{key: value})), field, "invalid value", needle)


def test_invalid_model_kind(tmp_path):
    bad(write(tmp_path, MINIMAL + "model:\n  kind: llama\n"), "model.kind", "use one of: gpt")


@pytest.mark.parametrize("key, value, needle", [
    ("batch_size", 0, "greater than 0"),
    ("batch_size", -3, "greater than 0"),
    ("lr", -1, "greater than 0"),
    ("lr", 0.0, "greater than 0"),
    ("epochs", 0, "greater than 0"),
    ("max_steps", 0, "greater than 0"),
    ("checkpoint_every", 0, "greater than 0"),
    ("warmup_steps", -1, "0 or more"),
])
def test_non_positive_values(tmp_path, key, value, needle):
    bad(write(tmp_path, with_training(**{key: value})), f"training.{key}", needle)


@pytest.mark.parametrize("text, field, needle", [
    ("  rule: path\n  order: 2\n", "attribution.order", "taylor"),
    ("  path_max_nodes: 4\n", "attribution.path_max_nodes", "2^k + 1"),
    ("  path_max_nodes: 65\n", "attribution.path_max_nodes", "2^k + 1"),
    ("  path_tolerance: 0\n", "attribution.path_tolerance", "greater than 0"),
    ("  rule: exact\n", "attribution.rule", "path"),
])
def test_bad_valuation_rule_settings(tmp_path, text, field, needle):
    bad(write(tmp_path, MINIMAL + "attribution:\n" + text), field, needle)


@pytest.mark.parametrize("key", ["n_layer", "n_head", "n_embd", "context_length"])
def test_model_sizes_must_be_positive(tmp_path, key):
    bad(write(tmp_path, MINIMAL + f"model:\n  {key}: 0\n"), f"model.{key}", "greater than 0")


def test_epochs_and_max_steps_both_null(tmp_path):
    bad(write(tmp_path, with_training(epochs="null", max_steps="null")), "training.epochs", "max_steps",
        "never stop")


def test_unknown_currency(tmp_path):
    bad(write(tmp_path, MINIMAL + "payout:\n  currency: XYZ\n"), "payout.currency", "unknown currency", "XYZ")
    bad(write(tmp_path, MINIMAL + "payout:\n  currency: dollars\n"), "payout.currency", "unknown currency")


def test_currency_is_case_insensitive(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL + "payout:\n  currency: jpy\n"))
    assert cfg.payout.currency.upper() == "JPY"


def test_errors_are_one_line_even_when_the_value_holds_newlines(tmp_path):
    msg = bad(write(tmp_path, with_training(optimizer='"ad\\nam"')), "training.optimizer")
    assert "\n" not in msg


# --- the CLI turns these into one line on stderr and exit code 2 -------------------------------------

def test_cli_train_bad_config_exits_2_with_one_line(tmp_path):
    p = write(tmp_path, with_training(epoch=3))
    result = CliRunner().invoke(main, ["train", str(p)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "cfg.yaml" in lines[0] and "training.epoch" in lines[0]
    assert result.stdout == ""


def test_cli_train_missing_config_exits_2(tmp_path):
    result = CliRunner().invoke(main, ["train", str(tmp_path / "absent.yaml")])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "absent.yaml" in result.stderr


def test_config_is_frozen():
    cfg = load_config(SAMPLE)
    assert isinstance(cfg, Config)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.seed = 3  # type: ignore[misc]


def test_scientific_notation_is_a_number_as_in_yaml_1_2(tmp_path):
    from attribcli.config import load_config

    p = tmp_path / "c.yaml"
    p.write_text("run_dir: r\ndata: {corpus: a, holders: b, generations: c}\ntraining: {lr: 1e-3, max_steps: 2}\n")
    assert load_config(p).training.lr == 0.001


@pytest.mark.parametrize("lora, want", [("null", None), ("{}", (8, 16.0, [])),
                                        ("{rank: 2, targets: [qkv]}", (2, 16.0, ["qkv"]))])
def test_lora_section_is_off_unless_given(tmp_path, lora, want):
    cfg = load_config(write(tmp_path, MINIMAL + f"model:\n  lora: {lora}\n"))
    got = cfg.model.lora
    assert (got if got is None else (got.rank, got.alpha, got.targets)) == want


@pytest.mark.parametrize("key", ["base_weights", "tokenizer"])
def test_gpt_only_model_files_are_refused_for_hf_models(tmp_path, key):
    bad(write(tmp_path, MINIMAL + f"model:\n  kind: hf\n  path: m\n  {key}: x\n"), f"model.{key}", f"remove {key}")
