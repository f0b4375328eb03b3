"""Hostile inputs for every command (issue 29), generated with hypothesis.

Each example breaks one input (config, corpus, holders, generations, amount, ledger, report, run file) and
asserts the house rule: exit 2 with exactly one ``error:`` line on stderr (``attrib verify``: exit 1 with
``FAILED:`` lines for what it finds), no traceback, nothing on stdout, and no file created or changed.

Commands run in-process (click's CliRunner, ``catch_exceptions=False``): an uncaught exception fails the
example with its traceback instead of turning into exit code 1, so an accepted exit 1 is always a deliberate
``sys.exit(1)``. ``ATTRIB_HYPOTHESIS_EXAMPLES=N`` runs N examples per test instead of the small CI default.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from attribcli.cli import main
from attribcli.files import LOCK_SUFFIX
from attribcli.money.amounts import CURRENCY_EXPONENTS
from attribcli.posttrain.rundir import CHECKPOINT, partial_dir
from attribcli.training.loop import KILL_ENV
from tests.runs import ROOT, copy_sample, write_config

_N = int(os.environ.get("ATTRIB_HYPOTHESIS_EXAMPLES", "0") or 0)


def _examples(default: int):
    """Small and reproducible in CI; ``ATTRIB_HYPOTHESIS_EXAMPLES=N`` for a longer hunt."""
    return settings(max_examples=_N or default, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


# ---------------------------------------------------------------------------------------------- harness

def _snapshot(root: Path) -> dict[str, bytes | None]:
    """Every file (its bytes) and folder (None) under ``root``."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            tree[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = None
        for f in filenames:
            p = os.path.join(dirpath, f)
            tree[os.path.relpath(p, root)] = Path(p).read_bytes() if not os.path.islink(p) else b"<link>"
    return tree


def _changes(before: dict, after: dict) -> list[str]:
    """What a refused command left behind. Tolerated: a new empty ``X.lock`` beside a file attrib locks
    (files.locked leaves it in place on purpose: removing it would let two processes lock two inodes)."""
    out = []
    for path in sorted(set(before) | set(after)):
        if path not in after:
            out.append(f"removed {path}")
        elif path not in before:
            if not (path.endswith(LOCK_SUFFIX) and after[path] == b""):
                out.append(f"created {path}")
        elif before[path] != after[path]:
            out.append(f"changed {path}")
    return out


def _attrib(*args, env: dict | None = None):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False, env=env)


def _refused(root: Path, *args, codes=(2,), env: dict | None = None) -> str:
    """Run ``attrib ARGS`` and assert the house rule for a refused input; returns stderr."""
    before = _snapshot(root)
    r = _attrib(*args, env=env)
    said = f"attrib {' '.join(map(str, args))}\nexit {r.exit_code}\nstdout: {r.stdout[-2000:]!r}\n" \
           f"stderr: {r.stderr[-2000:]!r}"
    assert "Traceback" not in r.stdout + r.stderr, said
    assert r.exit_code in codes, said
    lines = r.stderr.splitlines()
    if args[0] == "verify" and r.exit_code == 1:  # verify's findings: one FAILED line per problem found
        assert lines and all(line.startswith("FAILED: ") for line in lines), said
    else:  # one line, the error's (exit 1 too: RunAltered, a run file not as its manifest recorded it)
        assert len(lines) == 1 and lines[0].startswith("error: "), said
    assert r.stdout == "", said
    left = _changes(before, _snapshot(root))
    assert not left, f"{said}\nleft behind: {left}"
    return r.stderr


class TrainingStarted(AssertionError):
    pass


@contextlib.contextmanager
def _no_training():
    """A bad input must be refused before the first step: entering the step loop fails the example fast."""
    def started(*args, **kwargs):
        raise TrainingStarted("training started on a bad input")
    with mock.patch("attribcli.training.loop.Progress", side_effect=started):
        yield


@contextlib.contextmanager
def _workdir():
    with tempfile.TemporaryDirectory(prefix="hostile-") as d:
        yield Path(d)


# ------------------------------------------------------------------------------------------ fixtures

@pytest.fixture(scope="module")
def run_kit(small_run, tmp_path_factory):
    """The session's small run, plus a JSON and a Markdown statement and a ledger made from it."""
    kit = tmp_path_factory.mktemp("hostile_kit")
    for fmt in ("json", "md", "csv"):
        r = _attrib("payout", small_run, "--revenue", "100", "--format", fmt, "-o", kit / f"payout.{fmt}")
        assert r.exit_code == 0, r.output
    r = _attrib("value", small_run, "--format", "csv", "-o", kit / "value.csv")
    assert r.exit_code == 0, r.output
    r = _attrib("payout", small_run, "--revenue", "100", "--ledger", kit / "ledger.json", "-o", kit / "p1.csv")
    assert r.exit_code == 0, r.output
    (kit / ("ledger.json" + LOCK_SUFFIX)).unlink(missing_ok=True)
    return small_run, kit


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A config whose run was killed after step 3 (checkpoint at step 2): the ``--resume`` inputs."""
    base = tmp_path_factory.mktemp("hostile_interrupted")
    cfg = write_config(base)
    r = subprocess.run([sys.executable, "-m", "attribcli", "train", str(cfg)], capture_output=True, text=True,
                       env={**os.environ, KILL_ENV: "3"}, cwd=ROOT)
    assert r.returncode == 137, r.stderr
    assert (partial_dir(base / "run") / CHECKPOINT).is_file()
    return base


def _copy_run(run: Path, root: Path) -> Path:
    return Path(shutil.copytree(run, root / "run"))


# -------------------------------------------------------------------------------------- value generators

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
_GARBAGE_BYTES = st.binary(min_size=1, max_size=300)
_NON_UTF8 = st.sampled_from([b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xa0\xa1", b"\xed\xa0\x80", b"\x80abc"])
_BOM = b"\xef\xbb\xbf"

_BAD_NUMBER_LIKE = st.one_of(
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
    st.text(max_size=12),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_BAD_INT = st.one_of(_BAD_NUMBER_LIKE, st.floats(allow_nan=True, allow_infinity=True))
_BAD_POSITIVE_INT = st.one_of(_BAD_INT, st.integers(max_value=0))
_BAD_FLOAT_POSITIVE = st.one_of(_BAD_NUMBER_LIKE, st.floats(max_value=0), st.integers(max_value=0))
_BAD_FRACTION = st.one_of(_BAD_NUMBER_LIKE, st.floats(max_value=-1e-6), st.floats(min_value=1.000001))

_BAD_AMOUNT_IN_CONFIG = st.sampled_from(["abc", "-1", "1e3", "1,000", "nan", "1.0001", ""])

# (section, key) -> strategy of values the schema refuses. Model sizes too large to allocate (one
# allocation past any machine's memory, refused at once) count as bad input too.
_HUGE = st.sampled_from([10**9, 10**12, 2**63 - 1, 2**64, 10**30])
_CONFIG_BAD = {
    ("model", "n_layer"): _BAD_POSITIVE_INT,
    ("model", "n_head"): _BAD_POSITIVE_INT,
    ("model", "n_embd"): _BAD_POSITIVE_INT,
    ("model", "context_length"): _BAD_POSITIVE_INT,
    ("model", "kind"): st.one_of(_TEXT.filter(lambda s: s not in ("gpt", "hf")), st.integers()),
    ("model", "tokenizer"): st.sampled_from(["does-not-exist.json", ".", ""]),
    ("model", "base_weights"): st.sampled_from(["does-not-exist.pt", ".", "config.yaml"]),
    ("training", "max_steps"): _BAD_POSITIVE_INT,
    ("training", "batch_size"): st.one_of(_BAD_POSITIVE_INT, st.none()),
    ("training", "micro_batch_size"): _BAD_POSITIVE_INT,
    ("training", "checkpoint_every"): _BAD_POSITIVE_INT,
    ("training", "log_every"): _BAD_POSITIVE_INT,
    ("training", "warmup_steps"): st.one_of(_BAD_INT, st.integers(max_value=-1)),
    ("training", "lr"): st.one_of(_BAD_FLOAT_POSITIVE, st.none()),
    ("training", "eps"): _BAD_FLOAT_POSITIVE,
    ("training", "momentum"): _BAD_FRACTION,
    ("training", "beta1"): _BAD_FRACTION,
    ("training", "weight_decay"): st.one_of(_BAD_NUMBER_LIKE, st.floats(max_value=-1e-6)),
    ("training", "schedule"): _TEXT.filter(lambda s: s not in ("constant", "linear", "cosine")),
    ("training", "optimizer"): st.sampled_from(["SGD", "adam", "", "sgd "]),
    ("training", "device"): st.sampled_from(["CUDA", "gpu", "tpu", 0]),
    ("attribution", "order"): st.sampled_from([0, 3, 1.0, "1", True]),
    ("attribution", "path_max_nodes"): st.one_of(st.integers(max_value=1), st.sampled_from([4, 6, 34, 65])),
    ("data", "corpus"): st.sampled_from(["missing.jsonl", ".", "", 7, ["a"]]),
    ("data", "holders"): st.sampled_from(["missing.csv", ".", "", None]),
    ("data", "generations"): st.sampled_from(["missing.jsonl", "."]),
    ("data", "duplicates"): st.sampled_from(["drop", "", "SHARE"]),
    ("payout", "currency"): _TEXT.filter(lambda s: s.strip().upper() not in CURRENCY_EXPONENTS),
    ("payout", "platform_fee"): _BAD_FRACTION,
    ("payout", "stages"): st.sampled_from(["all", "Measured", 1]),
    ("payout", "minimum_payout"): _BAD_AMOUNT_IN_CONFIG,
    ("payout", "floor"): _BAD_AMOUNT_IN_CONFIG,
    ("payout", "cap"): _BAD_AMOUNT_IN_CONFIG,
    ("licenses", "run_use"): st.sampled_from(["sometimes", 3, ["commercial"]]),
    ("generate", "top_p"): st.one_of(st.floats(max_value=0), st.floats(min_value=1.000001), _BAD_NUMBER_LIKE),
}

# Amount strings the money parser refuses (plain decimals only, never negative, at most the currency's digits).
_BAD_AMOUNT = st.one_of(
    st.sampled_from(["", " ", "abc", "-1", "-0.01", "1e3", "1E-2", "1,000", "\u0661\u0662", "nan", "NaN", "inf",
                     "-inf", "Infinity", "0x10", "1.2.3", "+-1", ".", "--1", "1 000", "１２", "1.001", "0.999",
                     "1" * 60, "12.5\n3", "$5"]),
    st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False).map(str),
    st.tuples(st.integers(0, 10**6), st.text("0123456789", min_size=3, max_size=12), st.integers(1, 9)).map(
        lambda t: f"{t[0]}.{t[1]}{t[2]}"),  # four or more decimals, the last not 0: finer than any currency
    _TEXT.filter(lambda s: any(c.isalpha() for c in s)),
)


# ------------------------------------------------------------------------------------------------- config

def _with_value(section: str, key: str, value) -> callable:
    def brk(cfg, path):
        cfg.setdefault(section, {})
        cfg[section][key] = value
        return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True).encode()
    return brk


def _config_breakers():
    """(description, function(base config dict, config path) -> bytes of a malformed config)."""
    def unknown(args):
        section, key = args
        def brk(cfg, path):
            (cfg if section is None else cfg.setdefault(section, {}))[key] = 1
            return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True).encode()
        return f"unknown key {section}.{key}", brk

    known = {"run_dir", "seed", "model", "data", "training", "attribution", "payout", "licenses", "generate",
             "kind", "path", "n_layer", "n_head", "n_embd", "context_length", "tokenizer", "base_weights", "lora",
             "corpus", "holders", "generations", "generation_prompts", "duplicates", "token_cache", "epochs",
             "max_steps", "batch_size", "micro_batch_size", "lr", "schedule", "warmup_steps", "optimizer",
             "momentum", "weight_decay", "beta1", "beta2", "eps", "device", "precision", "checkpoint_every",
             "replay_segments", "log_every"}
    unknown_key = st.tuples(st.sampled_from([None, "model", "data", "training"]),
                            st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20)
                            .filter(lambda k: k not in known)).map(unknown)

    def drop(path_):
        def brk(cfg, path):
            node = cfg
            for part in path_[:-1]:
                node = node[part]
            del node[path_[-1]]
            return yaml.safe_dump(cfg, sort_keys=False).encode()
        return f"drop {'.'.join(path_)}", brk
    dropped = st.sampled_from([("run_dir",), ("data",), ("data", "corpus"), ("data", "holders")]).map(drop)

    def tagged(tag):
        def brk(cfg, path):
            text = yaml.safe_dump(cfg, sort_keys=False)
            return text.replace("seed: 7", f"seed: {tag}").encode()
        return f"tag {tag}", brk
    tags = st.sampled_from(["!!python/object/apply:os.system ['touch pwned']", "!!python/name:os.system",
                            "!!python/object:collections.OrderedDict {}", "!!binary aGVsbG8=", "!!set {a: null}",
                            "!custom 7", "!!timestamp 2001-12-14", "&a [*a]"]).map(tagged)

    def whole(raw_desc):
        desc, raw = raw_desc
        return f"file: {desc}", lambda cfg, path: raw
    structure = st.sampled_from(["run_dir: [unclosed\n", "- a\n- b\n", "42\n", "null\n", "'just text'\n",
                                 "run_dir: run\ndata: corpus\n", "{{{", "\t- x\n", "a: b: c\n",
                                 "[" * 5000 + "]" * 5000, "seed: " + "9" * 5000 + "\n"])
    files = st.one_of(st.just(("empty", b"")), _GARBAGE_BYTES.map(lambda b: ("garbage", b)),
                      structure.map(lambda s: (repr(s[:20]), s.encode())))

    def non_utf8(args):
        junk, frac = args
        def brk(cfg, path):
            raw = yaml.safe_dump(cfg, sort_keys=False).encode()
            at = int(len(raw) * frac)
            return raw[:at] + junk + raw[at:]
        return f"non-UTF-8 {junk!r} at {frac:.2f}", brk
    bad_bytes = st.tuples(_NON_UTF8, st.floats(0, 1)).map(non_utf8)
    return st.one_of(unknown_key, dropped, tags, files.map(whole), bad_bytes)


def _train_refuses_config(brk, bom=False):
    with _workdir() as root:
        data = copy_sample(root / "data")
        cfg = write_config(root / "cfg", data=data)
        raw = brk(yaml.safe_load(cfg.read_text()), cfg)
        cfg.write_bytes((_BOM if bom else b"") + raw)
        with _no_training():
            _refused(root, "train", cfg)


@_examples(40)
@given(breaker=_config_breakers(), bom=st.booleans())
def test_train_refuses_a_malformed_config(breaker, bom):
    _train_refuses_config(breaker[1], bom)


@pytest.mark.parametrize("field", sorted(_CONFIG_BAD), ids=".".join)
@_examples(5)
@given(data=st.data())
def test_train_refuses_a_bad_config_value(field, data):
    value = data.draw(_CONFIG_BAD[field], label=".".join(field))
    _train_refuses_config(_with_value(*field, value))


@pytest.mark.parametrize("key", ["n_embd", "context_length"])
@_examples(5)
@given(value=_HUGE)
def test_train_refuses_a_model_too_large_to_build(key, value):
    """One allocation past any machine's memory, refused at once: a bad input, not a crash."""
    _train_refuses_config(_with_value("model", key, value))


# ------------------------------------------------------------------------------------ corpus, holders, generations

def _jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_jsonl(path: Path, rows: list) -> None:
    path.write_bytes(b"".join(r if isinstance(r, bytes) else (json.dumps(r, ensure_ascii=False) + "\n").encode()
                              for r in rows))


_ROW_GARBAGE = st.one_of(st.sampled_from([b"{\n", b"x\n", b"[1, 2]\n", b"42\n", b"null\n", b'"doc"\n', b"{}\n",
                                          b'{"id": "d", \n']),
                         _NON_UTF8.map(lambda b: b'{"id": "' + b + b'"}\n'))


@st.composite
def corpus_breakers(draw):
    """(description, function(data folder) that breaks corpus.jsonl)."""
    kind = draw(st.sampled_from(["drop", "id", "dup_id", "text", "holders", "shares", "share_value", "license",
                                 "opt_out", "row", "file", "non_utf8"]))
    i = draw(st.integers(0, 400))
    value = None
    if kind == "drop":
        value = draw(st.sampled_from(["id", "text", "holders", "license"]))
    elif kind == "id":
        value = draw(st.one_of(st.none(), st.lists(st.integers(), max_size=2), st.dictionaries(_TEXT, _TEXT,
                                                                                              max_size=1),
                               st.booleans()))
    elif kind == "text":
        value = draw(st.one_of(st.none(), st.integers(), st.lists(_TEXT, max_size=2), st.booleans()))
    elif kind == "holders":
        value = draw(st.one_of(st.integers(), st.dictionaries(_TEXT, _TEXT, max_size=2),
                               st.lists(st.integers(), min_size=1, max_size=2),
                               st.just([{"share": 1}]), st.just([{"id": "h01"}]),
                               st.builds(lambda h: [{"id": h, "share": 1}],
                                         _TEXT.filter(lambda h: h.strip() and not h.startswith("h0")))))
    elif kind == "shares":
        value = draw(st.one_of(st.floats(0, 0.99), st.floats(1.01, 1e6), st.just(0.0)))
    elif kind == "share_value":
        value = draw(st.one_of(st.sampled_from([float("nan"), float("inf"), float("-inf"), -1, -0.5, "half", "1",
                                                None, True, [1]])))
    elif kind == "license":
        value = draw(st.one_of(_TEXT.filter(lambda s: s.strip()).map(lambda s: "NOT-A-LICENCE-" + s),
                               st.integers(), st.lists(_TEXT, max_size=2), st.sampled_from(["CC-BY-9.9", "MIT AND"])))
    elif kind == "opt_out":
        value = draw(st.sampled_from(["maybe", 2, [], {}, -1]))
    elif kind == "row":
        value = draw(_ROW_GARBAGE)
    elif kind == "file":
        value = draw(st.one_of(st.sampled_from([b"", b"\n", b"\n\n  \n", _BOM, b"[]", b"{}"]), _GARBAGE_BYTES))
    else:
        value = draw(_NON_UTF8)

    def brk(data: Path):
        path = data / "corpus.jsonl"
        rows = _jsonl(path)
        j = i % len(rows)
        row = rows[j]
        if kind == "drop":
            del row[value]
        elif kind in ("id", "text", "license", "opt_out"):
            row["license" if kind == "license" else kind] = value
        elif kind == "dup_id":
            row["id"] = rows[(j + 1) % len(rows)]["id"]
        elif kind == "holders":
            row["holders"] = value
        elif kind == "shares":
            row["holders"] = [{"id": "h01", "share": value}]
        elif kind == "share_value":
            row["holders"] = [{"id": "h01", "share": value}]
        elif kind == "row":
            rows[j] = value
        elif kind == "file":
            path.write_bytes(value)
            return
        else:
            rows[j] = json.dumps(row).encode()[:-1] + value + b"}\n"
        _write_jsonl(path, rows)
    return f"corpus {kind} line {i} {value!r}"[:200], brk


@st.composite
def holders_breakers(draw):
    kind = draw(st.sampled_from(["header", "dup", "reserved", "file", "non_utf8", "alias", "empty_id"]))
    value = {
        "header": st.sampled_from(["holder_id", "name", "contact"]),
        "reserved": st.sampled_from(["ESCROW", "COMMONS", "UNALLOCATED", "PLATFORM", "BASE_MODEL", "PROMPT_AUTHORS"]),
        "file": st.one_of(st.sampled_from([b"", b"\n", _BOM, b"holder_id,name,contact\n"]), _GARBAGE_BYTES),
        "non_utf8": _NON_UTF8,
        "alias": st.sampled_from(["nobody", "cycle"]),
    }.get(kind, st.just(None))
    value = draw(value)

    def brk(data: Path):
        path = data / "holders.csv"
        lines = path.read_bytes().splitlines(keepends=True)
        header = lines[0].decode().strip().split(",")
        if kind == "header":
            k = header.index(value)
            lines = [b",".join(p for n, p in enumerate(line.rstrip(b"\r\n").split(b",")) if n != k) + b"\n"
                     for line in lines]
        elif kind == "dup":
            lines.append(lines[1])
        elif kind == "reserved":
            lines.append((value + "," + ",".join("x" for _ in header[1:]) + "\n").encode())
        elif kind == "file":
            lines = [value]
        elif kind == "non_utf8":
            lines[1] = lines[1][:3] + value + lines[1][3:]
        elif kind == "empty_id":
            lines.append(("," + ",".join("x" for _ in header[1:]) + "\n").encode())
        elif kind == "alias":
            rows = [line.rstrip(b"\r\n") for line in lines]
            rows[0] += b",alias_of"
            for n in range(1, len(rows)):
                rows[n] += b","
            if value == "nobody":
                rows[1] += b"h99999"
            else:  # h01 is paid as h02, h02 as h01
                first, second = rows[1].split(b",")[0], rows[2].split(b",")[0]
                rows[1] += second
                rows[2] += first
            lines = [r + b"\n" for r in rows]
        path.write_bytes(b"".join(lines))
    return f"holders {kind} {value!r}", brk


@st.composite
def generations_breakers(draw, *, revenue=True):
    """(description, function(generations file)) for a valid generations file; with ``revenue``, bad revenues."""
    kinds = ["drop", "dup_id", "field_type", "long", "row", "file", "non_utf8"] + (["revenue"] if revenue else [])
    kind = draw(st.sampled_from(kinds))
    i = draw(st.integers(0, 50))
    value = {
        "drop": st.sampled_from(["id", "prompt", "completion"]),
        "field_type": st.tuples(st.sampled_from(["id", "prompt", "completion"]),
                                st.one_of(st.none(), st.lists(st.integers(), max_size=2), st.booleans(),
                                          st.dictionaries(_TEXT, _TEXT, max_size=1))),
        "long": st.integers(300, 5000),
        "row": _ROW_GARBAGE,
        "file": st.one_of(st.sampled_from([b"[]", b"{}", _BOM + b"{"]), _GARBAGE_BYTES),
        "non_utf8": _NON_UTF8,
        "revenue": st.one_of(_BAD_AMOUNT, st.floats(allow_nan=True), st.integers(max_value=-1), st.booleans(),
                            st.lists(_TEXT, max_size=1)),  # a JSON integer of 0 or more is whole units
    }.get(kind, st.just(None))
    value = draw(value)

    def brk(path: Path):
        rows = _jsonl(path)
        j = i % len(rows)
        row = rows[j]
        if kind == "drop":
            del row[value]
        elif kind == "dup_id":
            row["id"] = rows[(j + 1) % len(rows)]["id"]
        elif kind == "field_type":
            row[value[0]] = value[1]
        elif kind == "long":
            row["completion"] = "x" * value
        elif kind == "row":
            rows[j] = value
        elif kind == "file":
            path.write_bytes(value)
            return
        elif kind == "non_utf8":
            rows[j] = json.dumps(row).encode()[:-1] + b', "x": "' + value + b'"}\n'
        else:
            row["revenue"] = value
        _write_jsonl(path, rows)
    return f"generations {kind} line {i} {value!r}"[:200], brk


@_examples(40)
@given(breaker=st.one_of(corpus_breakers(), holders_breakers(),
                         generations_breakers().map(lambda d: (d[0], lambda data: d[1](data / "generations.jsonl")))))
def test_train_refuses_bad_data_files(breaker):
    desc, brk = breaker
    with _workdir() as root:
        data = copy_sample(root / "data")
        cfg = write_config(root / "cfg", data=data)
        brk(data)
        with _no_training():
            _refused(root, "train", cfg)


# -------------------------------------------------------------------------------- amounts and payout options

@_examples(25)
@given(option=st.sampled_from(["--revenue", "--floor", "--cap", "--minimum-payout"]), amount=_BAD_AMOUNT,
       currency=st.sampled_from([None, "USD", "JPY", "BHD"]))
def test_payout_refuses_a_bad_amount(run_kit, option, amount, currency):
    run, _ = run_kit
    assume(not (currency == "BHD" and amount in ("1.001", "0.999")))  # three decimals are BHD's own
    with _workdir() as root:
        copied = _copy_run(run, root)
        args = ["payout", copied, *(["--revenue", "100"] if option != "--revenue" else []), option, amount]
        if option == "--minimum-payout":
            args += ["--ledger", root / "ledger.json"]
        _refused(root, *args, *(["--currency", currency] if currency else []))


@_examples(25)
@given(currency=st.one_of(_TEXT.filter(lambda s: s.strip().upper() not in CURRENCY_EXPONENTS),
                          st.sampled_from(["US D", "usd\x00", "USDD", "XXX", "€"])))
def test_payout_refuses_an_unknown_currency(run_kit, currency):
    run, _ = run_kit
    with _workdir() as root:
        _refused(root, "payout", _copy_run(run, root), "--revenue", "100", "--currency", currency)


@_examples(25)
@given(fee=st.one_of(st.sampled_from(["nan", "NaN", "inf", "-inf", "", "abc", "1e400", "0,5"]),
                    st.floats(max_value=-1e-9).map(repr), st.floats(min_value=1.000001).map(repr)))
def test_payout_refuses_a_bad_platform_fee(run_kit, fee):
    run, _ = run_kit
    with _workdir() as root:
        _refused(root, "payout", _copy_run(run, root), "--revenue", "100", "--platform-fee", fee)


@_examples(25)
@given(args=st.one_of(
    st.builds(lambda ids: ["--opted-out", ids], st.sampled_from(["h99", "nobody,h01", "ESCROW", "h01,,zz"])),
    st.builds(lambda h: ["--holder", h, "--format", "md"], st.sampled_from(["h99", "", "../h01", "ESCROW\n"])),
    st.builds(lambda h: ["--proof-for", h], st.sampled_from(["h99", "", "nobody"])),
    st.just(["--revenue-from-generations"]),  # with --revenue as well
    st.just(["--sign", "--format", "csv"]),
    st.just(["--claims", "claims.csv"]),  # claims without a ledger
    st.builds(lambda v: ["--valuation", v], st.sampled_from(["nope", "", "../run", "/"])),
))
def test_payout_refuses_bad_options(run_kit, args):
    run, _ = run_kit
    with _workdir() as root:
        (root / "claims.csv").write_text("doc_id,holder_id\n")
        _refused(root, "payout", _copy_run(run, root), "--revenue", "100", *args)


@_examples(10)
@given(cmd=st.sampled_from([["value"], ["value", "--format", "md"], ["payout", "--revenue", "100"],
                            ["payout", "--revenue", "100", "--format", "json"]]),
       where=st.sampled_from(["under_a_file", "a_folder", "bad_name"]))
def test_reports_refuse_an_unwritable_output(run_kit, cmd, where):
    run, _ = run_kit
    with _workdir() as root:
        copied = _copy_run(run, root)
        (root / "blocker").write_text("x")
        (root / "folder").mkdir()
        out = {"under_a_file": root / "blocker" / "out.txt", "a_folder": root / "folder",
               "bad_name": root / ("x" * 300 + ".md")}[where]
        _refused(root, cmd[0], copied, *cmd[1:], "-o", out)


# ------------------------------------------------------------------------------------------------- ledgers

@st.composite
def ledger_breakers(draw, *, for_verify=False):
    """(description, function(ledger bytes) -> bytes) of a ledger that is not the one attrib wrote."""
    kind = draw(st.sampled_from(["file", "non_utf8", "truncate", "json", "format", "entries", "amount",
                                 "drop_key", "hash"] + ([] if for_verify else ["currency"])))
    if kind == "file":
        raw = draw(st.one_of(st.sampled_from([b"", b"\n", _BOM, b"{"]), _GARBAGE_BYTES))
        return f"garbage {raw[:20]!r}", lambda old: raw
    if kind == "non_utf8":
        junk, frac = draw(_NON_UTF8), draw(st.floats(0, 1))
        return f"non-UTF-8 {junk!r}", lambda old: old[:int(len(old) * frac)] + junk + old[int(len(old) * frac):]
    if kind == "truncate":
        frac = draw(st.floats(0, 0.99))
        return f"truncated at {frac:.2f}", lambda old: old[:int(len(old) * frac)]
    if kind == "json":
        doc = draw(st.sampled_from([[], 42, "ledger", None, [{"format": 1}]]))
        return f"json {doc!r}", lambda old: json.dumps(doc).encode()
    if kind == "currency":
        code = draw(st.sampled_from(["EUR", "JPY", "", None, 5]))
        def brk(old):
            doc = json.loads(old)
            doc["currency"] = code
            return json.dumps(doc).encode()
        return f"currency {code!r}", brk
    key = draw(st.sampled_from(["paid", "carried_out", "merkle_root", "entry_sha256", "statement",
                                "escrow_documents"]))

    def edit(fn):
        def brk(old):
            doc = json.loads(old)
            fn(doc)
            return json.dumps(doc, indent=2).encode()
        return brk
    if kind == "format":
        value = draw(st.sampled_from([None, 0, "x", 99]))
        return f"format {value!r}", edit(lambda d: d.__setitem__("format", value))
    if kind == "entries":
        value = draw(st.sampled_from([None, {}, "x", [1], [None], [[]]]))
        return f"entries {value!r}", edit(lambda d: d.__setitem__("entries", value))
    if kind == "amount":
        delta = draw(st.integers(1, 10**6))
        def bump(d):
            paid = d["entries"][0]["paid"]
            who = sorted(paid)[0]
            paid[who] += delta
        return f"paid + {delta}", edit(bump)
    if kind == "drop_key":
        return f"drop {key}", edit(lambda d: d["entries"][0].pop(key, None))
    value = draw(st.sampled_from(["0" * 64, "", None, 7]))
    return f"entry_sha256 {value!r}", edit(lambda d: d["entries"][0].__setitem__("entry_sha256", value))


@_examples(20)
@given(breaker=ledger_breakers())
def test_payout_refuses_a_bad_ledger(run_kit, breaker):
    run, kit = run_kit
    with _workdir() as root:
        copied, ledger = _broken_ledger(run, kit, root, breaker)
        # another revenue than the ledger's statement: an undetected break would post (exit 0), not refuse
        _refused(root, "payout", copied, "--revenue", "200", "--ledger", ledger)


def _broken_ledger(run: Path, kit: Path, root: Path, breaker) -> tuple[Path, Path]:
    """A copy of the run in ``root`` and the kit's ledger beside it, broken by ``breaker`` (skipped if unchanged)."""
    _, brk = breaker
    copied = _copy_run(run, root)
    ledger = root / "ledger.json"
    old = (kit / "ledger.json").read_bytes()
    new = brk(old)
    assume(new != old)
    ledger.write_bytes(new)
    return copied, ledger


@_examples(20)
@given(breaker=ledger_breakers(for_verify=True), with_report=st.booleans())
def test_verify_reports_a_bad_ledger(run_kit, breaker, with_report):
    run, kit = run_kit
    with _workdir() as root:
        copied, ledger = _broken_ledger(run, kit, root, breaker)
        shutil.copy(kit / "p1.csv", root / "p1.csv")
        report = [root / "p1.csv"] if with_report else []
        # exit 1: the ledger's chain or content is a finding; exit 2: not a ledger at all (one error line)
        _refused(root, "verify", copied, *report, "--ledger", ledger, codes=(1, 2))


# ------------------------------------------------------------------------------------------------- reports

_BYTE_KINDS = ("empty", "truncate", "garbage", "non_utf8", "flip", "drop_line", "bom", "append")


@st.composite
def byte_breakers(draw, kinds=_BYTE_KINDS):
    """(description, function(bytes) -> bytes): a file truncated, corrupted, replaced or made non-UTF-8."""
    kind = draw(st.sampled_from(kinds))
    frac = draw(st.floats(0, 0.999))
    if kind == "empty":
        return "emptied", lambda old: b""
    if kind == "truncate":
        return f"truncated at {frac:.3f}", lambda old: old[:int(len(old) * frac)]
    if kind == "garbage":
        raw = draw(_GARBAGE_BYTES)
        return f"garbage {raw[:20]!r}", lambda old: raw
    if kind == "non_utf8":
        junk = draw(_NON_UTF8)
        return f"non-UTF-8 {junk!r} at {frac:.3f}", lambda old: old[:int(len(old) * frac)] + junk + \
            old[int(len(old) * frac):]
    if kind == "flip":
        bit = draw(st.integers(0, 7))
        def flip(old):
            i = int(len(old) * frac)
            return old[:i] + bytes([old[i] ^ (1 << bit)]) + old[i + 1:]
        return f"bit {bit} flipped at {frac:.3f}", flip
    if kind == "drop_line":
        def drop(old):
            lines = old.splitlines(keepends=True)
            del lines[int(len(lines) * frac)]
            return b"".join(lines)
        return f"line dropped at {frac:.3f}", drop
    if kind == "bom":
        return "BOM prepended", lambda old: _BOM + old
    text = draw(st.binary(min_size=1, max_size=50))
    return f"appended {text!r}", lambda old: old + text


@_examples(20)
@given(report=st.sampled_from(["payout.json", "payout.md", "payout.csv", "value.csv"]), breaker=byte_breakers())
def test_verify_reports_an_altered_report(run_kit, report, breaker):
    desc, brk = breaker
    run, kit = run_kit
    with _workdir() as root:
        copied = _copy_run(run, root)
        old = (kit / report).read_bytes()
        new = brk(old)
        assume(new != old)
        (root / report).write_bytes(new)
        # exit 1: a report that no longer re-derives is a finding; exit 2: not an attrib report at all
        _refused(root, "verify", copied, root / report, codes=(1, 2))


# ------------------------------------------------------------------------------------------------ run files

_RUN_FILES = ["manifest.json", "config.yaml", "inputs/documents.jsonl", "inputs/holders.csv",
              "inputs/generations.jsonl", "inputs/ownership.csv", "inputs/duplicates.csv", "losses.csv",
              "model.pt", "samples.csv", "steps.csv", "target_steps.csv", "values.npy"]


@st.composite
def values_breakers(draw):
    """values.npy rewritten with NaN/inf, a wrong shape or a wrong dtype."""
    kind = draw(st.sampled_from(["nan", "inf", "shape", "dtype"]))
    frac = draw(st.floats(0, 0.999))

    def brk(path: Path):
        v = np.load(path)
        if kind in ("nan", "inf"):
            v = v.copy()
            v.flat[int(v.size * frac)] = np.nan if kind == "nan" else -np.inf
        elif kind == "shape":
            v = [v.T, v[:-1], v[:, :-1], v.ravel(), np.zeros(()), np.concatenate([v, v[:1]]), v[..., None]][
                int(7 * frac)]
        else:
            v = [v.astype("U8"), v.astype(complex), np.zeros(v.shape, dtype=[("a", "f8"), ("b", "i4")])][
                int(3 * frac)]
        path.unlink()
        np.save(path, v)
    return f"values.npy {kind} {frac:.3f}", brk


def _run_file_breakers(files):
    def on_file(args):
        name, (desc, brk) = args
        def apply(run: Path):
            path = run / name
            path.write_bytes(brk(path.read_bytes()))
        return f"{name}: {desc}", apply

    structural = byte_breakers(("empty", "truncate", "garbage", "non_utf8"))

    def removed(args):
        name, how = args
        def apply(run: Path):
            (run / name).unlink()
            if how == "folder":
                (run / name).mkdir()
        return f"{name}: {how}", apply

    return st.one_of(
        st.tuples(st.sampled_from(files), structural).map(on_file),
        st.tuples(st.sampled_from(files), st.sampled_from(["deleted", "folder"])).map(removed),
        values_breakers().map(lambda d: (d[0], lambda run: d[1](run / "values.npy"))),
    )


# the files each command reads (value and payout: open_run and the valuation; generate: the model)
_READ_BY = {
    "value": ["manifest.json", "inputs/holders.csv", "inputs/generations.jsonl", "inputs/ownership.csv",
              "inputs/documents.jsonl", "samples.csv", "values.npy", "losses.csv"],
    "payout": ["manifest.json", "config.yaml", "inputs/holders.csv", "inputs/generations.jsonl",
               "inputs/ownership.csv", "inputs/documents.jsonl", "samples.csv", "values.npy", "losses.csv"],
}


@_examples(25)
@given(breaker=_run_file_breakers(_RUN_FILES))
def test_verify_reports_a_corrupted_run(run_kit, breaker):
    desc, brk = breaker
    run, _ = run_kit
    with _workdir() as root:
        copied = _copy_run(run, root)
        before = _snapshot(copied)
        brk(copied)
        assume(_snapshot(copied) != before)
        # exit 1: a file that no longer matches the manifest is a finding; exit 2: the run cannot be read at all
        _refused(root, "verify", copied, codes=(1, 2))


@_examples(25)
@given(cmd=st.sampled_from(["value", "payout"]), data=st.data())
def test_reports_refuse_a_corrupted_run(run_kit, cmd, data):
    desc, brk = data.draw(_run_file_breakers(_READ_BY[cmd]), label="breaker")
    run, _ = run_kit
    with _workdir() as root:
        copied = _copy_run(run, root)
        before = _snapshot(copied)
        brk(copied)
        assume(_snapshot(copied) != before)
        args = ["value", copied, "--by", data.draw(st.sampled_from(["holder", "sample", "generation", "license"]))] \
            if cmd == "value" else ["payout", copied, "--revenue", "100", "--format",
                                    data.draw(st.sampled_from(["csv", "md", "json"]))]
        # exit 2: the altered run is a bad input; exit 1 is what verify says of the same run, so a command that
        # checks the run's hashes first may answer with it. Never 0: a report from an altered run would be paid.
        _refused(root, *args, codes=(1, 2))


@_examples(15)
@given(breaker=_run_file_breakers(["config.yaml", "model.pt", "manifest.json"]).filter(
    lambda d: not d[0].startswith("values.npy")))
def test_generate_refuses_a_corrupted_run(run_kit, breaker):
    desc, brk = breaker
    run, _ = run_kit
    with _workdir() as root:
        copied = _copy_run(run, root)
        brk(copied)
        (root / "prompts.jsonl").write_text('{"id": "p1", "prompt": "hello"}\n')
        _refused(root, "generate", copied, "--prompts", root / "prompts.jsonl", "--max-new-tokens", "2",
                 codes=(1, 2))


# ------------------------------------------------------------------------- generations after training

@_examples(25)
@given(cmd=st.sampled_from(["replay", "query", "generate"]), breaker=generations_breakers(revenue=False),
       revenue=st.one_of(st.none(), _BAD_AMOUNT))
def test_later_generations_are_refused(run_kit, cmd, breaker, revenue):
    desc, brk = breaker
    run, _ = run_kit
    with _workdir() as root:
        copied = _copy_run(run, root)
        gens = root / "gens.jsonl"
        rows = _jsonl(copied / "inputs/generations.jsonl")
        if cmd == "generate":  # a prompts file: id, prompt[, revenue]; completion-only breaks do not apply
            assume("completion" not in desc and "long" not in desc)
            rows = [{"id": r["id"], "prompt": r["prompt"]} for r in rows[:2]]
        _write_jsonl(gens, rows)
        if revenue is not None:
            rows = _jsonl(gens)
            rows[0]["revenue"] = revenue
            _write_jsonl(gens, rows)
        else:
            brk(gens)
        if cmd == "generate":
            _refused(root, "generate", copied, "--prompts", gens, "--max-new-tokens", "2")
        else:
            with _no_training():
                _refused(root, cmd, copied, "--generations", gens, "--name", "later")


@_examples(10)
@given(name=st.sampled_from(["", "../escape", "a/b", ".", "..", "x" * 300, "two\nlines", "/abs"]))
def test_replay_refuses_a_bad_valuation_name(run_kit, name):
    run, _ = run_kit
    with _workdir() as root:
        copied = _copy_run(run, root)
        with _no_training():
            _refused(root, "replay", copied, "--generations", copied / "inputs/generations.jsonl", "--name", name)


# ------------------------------------------------------------------------------------------------- resume

@_examples(8)
@given(breaker=byte_breakers(("empty", "truncate", "garbage")))
def test_resume_refuses_a_corrupted_checkpoint(interrupted, breaker):
    desc, brk = breaker
    with _workdir() as root:
        base = Path(shutil.copytree(interrupted, root / "base"))
        ckpt = partial_dir(base / "run") / CHECKPOINT
        new = brk(ckpt.read_bytes())
        assume(new != ckpt.read_bytes())
        ckpt.write_bytes(new)
        _refused(root, "train", base / "config.yaml", "--resume")
