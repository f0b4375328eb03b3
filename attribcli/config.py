"""YAML config → typed, validated ``Config``. Every error names the file, the field and the fix.

The schema is the dataclasses below: their fields are the only keys allowed (unknown keys get a
did-you-mean), their defaults are the documented defaults, and ``check`` metadata holds the bounds.
Relative paths resolve against the config file's folder, so a config can travel with its data.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from attribcli.errors import AttribError


def _positive(v):
    return None if v > 0 else "must be greater than 0"


def _non_negative(v):
    return None if v >= 0 else "must be 0 or more"


def _seed(v):
    """torch seeds with a 64-bit integer and numpy's generators with a non-negative one."""
    return None if 0 <= v < 2**63 else "must be a whole number from 0 to 2^63 - 1"


def _currency(v):
    from attribcli.money.amounts import CURRENCY_EXPONENTS

    return None if v.upper() in CURRENCY_EXPONENTS else f"unknown currency code '{v}'"


def _f(default=dataclasses.MISSING, *, check=None, help=""):
    kw = {"metadata": {"check": check, "help": help}}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), **kw)
    return field(default=default, **kw)


@dataclass(frozen=True)
class LoRAConfig:
    rank: int = _f(8, check=_positive)
    alpha: float = _f(16.0, check=_positive, help="the adapter's output is scaled by alpha / rank")
    targets: list[str] = _f([], help="names of the layers to adapt (last part: qkv, c_attn, q_proj, ...); "
                                     "[] = every linear layer but the output head")


@dataclass(frozen=True)
class ModelConfig:
    kind: Literal["gpt", "hf"] = _f("gpt",
                                    help="gpt: the built-in GPT; hf: a local Hugging Face causal LM (model.path)")
    path: Path | None = _f(None, help="hf: a local directory with config.json, weights and tokenizer")
    n_layer: int = _f(4, check=_positive)
    n_head: int = _f(4, check=_positive)
    n_embd: int = _f(128, check=_positive)
    context_length: int = _f(256, check=_positive)
    tokenizer: Path | None = _f(None, help="gpt: a byte-level BPE tokenizer.json made by 'attrib tokenizer'; "
                                            "none = one token per byte")
    base_weights: Path | None = _f(None, help="weights made by 'attrib pretrain'; none = random init")
    lora: LoRAConfig | None = _f(None, help="train low-rank adapters only; values are over the adapters")


@dataclass(frozen=True)
class DataConfig:
    corpus: Path = _f(help="JSONL or CSV, one document per line/row")
    holders: Path = _f(help="CSV holder_id,name,contact[,...]")
    generations: Path | None = _f(None, help="JSONL id, prompt, completion[, revenue]; none = value the run later "
                                             "('attrib replay')")
    generation_prompts: Path | None = _f(None, help="JSONL id, prompt[, revenue]: after training, complete each "
                                                    "with the fine-tuned model (section generate) and value the "
                                                    "completions by replay, as valuation 'generated'")
    reference: Path | None = _f(None, help="JSONL id, prompt, completion: held-out text of the domain, valued in "
                                           "the same run and never paid; each value is split into the part its "
                                           "generation shares with these texts and the part specific to it")
    duplicates: Literal["share", "keep"] = _f("share", help="exact duplicate texts: share = train once, split "
                                                            "the value equally among the copies; keep = train each")
    token_cache: Path | None = _f(None, help="folder of memory-mapped token caches; none = .attrib-cache/tokens "
                                             "next to run_dir")


@dataclass(frozen=True)
class TrainingConfig:
    epochs: int | None = _f(1, check=_positive)
    max_steps: int | None = _f(None, check=_positive)
    batch_size: int = _f(16, check=_positive)
    lr: float = _f(0.005, check=_positive)
    schedule: Literal["constant", "linear", "cosine"] = _f("constant")
    warmup_steps: int = _f(0, check=_non_negative)
    optimizer: Literal["sgd", "adamw"] = _f("sgd")
    momentum: float = _f(0.0, check=lambda v: None if 0 <= v < 1 else "must be in [0, 1)", help="sgd only")
    weight_decay: float = _f(0.0, check=lambda v: None if v >= 0 else "must be 0 or more")
    beta1: float = _f(0.9, check=lambda v: None if 0 <= v < 1 else "must be in [0, 1)", help="adamw only")
    beta2: float = _f(0.999, check=lambda v: None if 0 <= v < 1 else "must be in [0, 1)", help="adamw only")
    eps: float = _f(1e-8, check=_positive, help="adamw only")
    micro_batch_size: int | None = _f(None, check=_positive, help="gradient accumulation: samples per forward")
    device: Literal["auto", "cpu", "cuda"] = _f("auto")
    precision: Literal["fp32", "bf16"] = _f("fp32", help="bf16: autocast forward passes on CUDA")
    checkpoint_every: int = _f(25, check=_positive)
    replay_segments: int = _f(1, check=_positive, help="keep the weights at the start of this many evenly spaced "
                                                       "segments, so 'attrib replay --nproc N' replays them side by "
                                                       "side; 1 = none kept")
    log_every: int = _f(10, check=_positive)


@dataclass(frozen=True)
class IndexConfig:
    """The gradient index (training/index.py): written during training, queried after it (attrib query)."""

    dim: int = _f(2048, check=_positive, help="numbers stored per sample and reference point (each parameter's "
                                              "gradient projected to its share of them; at least the parameter count: "
                                              "lossless)")
    segments: int = _f(4, check=_positive, help="training cut into this many evenly spaced segments; the generations "
                                               "are queried at their middles (the reference points) and "
                                               "interpolated linearly in between")
    dtype: Literal["float32", "float16"] = _f("float32", help="float16: half the size, rows scaled to their largest "
                                                               "entry")
    seed: int = _f(0, check=_seed, help="seed of the random projections")


@dataclass(frozen=True)
class AttributionConfig:
    rule: Literal["path", "taylor"] = _f(
        "path", help="path: each step's values integrate the generation's gradient along the step (they add up "
                       "to the realised change); taylor: the expansion at the step's start, to attribution.order")
    order: Literal[1, 2] = _f(1, help="taylor only: 1 = first order; 2 adds the gradient-Hessian-gradient term")
    path_tolerance: float = _f(0.02, check=_positive, help="path only: refine a step's quadrature while its "
                                                           "residual exceeds this fraction of the step's change")
    path_max_nodes: int = _f(17, check=lambda v: None if _nodes(v) else "must be 2, 3, 5, 9, 17 or 33 (2^k + 1)",
                             help="path only: the most quadrature nodes per step (2: the trapezoid alone)")
    target_chunk: int | None = _f(None, check=_positive, help="generations per backward pass (memory)")
    index: IndexConfig | None = _f(None, help="write a gradient index for 'attrib query' (off by default)")


def _nodes(v: int) -> bool:
    """A composite trapezoid's node count after halvings: 2^k + 1, at most 33 (a pass per node)."""
    return 2 <= v <= 33 and (v - 1) & (v - 2) == 0


def _fraction(v):
    return None if 0 <= v <= 1 else "must be a fraction between 0 and 1"


@dataclass(frozen=True)
class StageShares:
    base_model: float = _f(0.0, check=_fraction)
    fine_tuning: float = _f(1.0, check=_fraction)
    prompt: float = _f(0.0, check=_fraction)


@dataclass(frozen=True)
class PayoutConfig:
    currency: str = _f("USD", check=_currency)
    stages: Literal["measured", "fixed", "data_only"] = _f(
        "measured", help="measured: shares by each stage's positive contribution in nats; fixed: fixed_shares; "
                         "data_only: all to the fine-tuning data")
    fixed_shares: StageShares = _f(None)
    platform_fee: float = _f(0.0, check=_fraction, help="fraction of each generation's revenue taken first")
    platform_payee: str = _f("PLATFORM")
    minimum_payout: str = _f("0", help="decimal string: holders owed less are paid next statement (--ledger)")
    floor: str | None = _f(None, help="decimal string: least a holder with positive value receives per statement")
    cap: str | None = _f(None, help="decimal string: most a holder receives per statement")
    base_model_payee: str = _f("BASE_MODEL")
    prompt_payee: str = _f("PROMPT_AUTHORS")
    commons_payee: str = _f("COMMONS", help="payee of public-domain documents' value (licenses.commons_public_domain)")
    shared: Literal["pool", "tokens", "generation", "total"] = _f(
        "pool", help="with data.reference: each generation's data money goes in proportion to each holder's positive "
                     "specific value and the shared part's positive total, which is paid by: pool = each holder's "
                     "share of every step's general learning; tokens = tokens trained; generation = the holders' "
                     "shared values in that generation; total = no parts (by total values)")


@dataclass(frozen=True)
class GenerateConfig:
    """How ``attrib train`` completes ``data.generation_prompts`` (the options of ``attrib generate``)."""

    max_new_tokens: int = _f(64, check=_positive)
    temperature: float = _f(0.0, check=_non_negative, help="0: greedy (the most likely token each time)")
    top_p: float = _f(1.0, check=lambda v: None if 0 < v <= 1 else "must be in (0, 1]")
    seed: int = _f(0, check=_seed, help="same prompts and seed, same text")


@dataclass(frozen=True)
class Config:
    run_dir: Path = _f()
    data: DataConfig = _f()
    seed: int = _f(0, check=_seed)
    model: ModelConfig = _f(None)
    training: TrainingConfig = _f(None)
    attribution: AttributionConfig = _f(None)
    payout: PayoutConfig = _f(None)
    generate: GenerateConfig = _f(None)
    licenses: dict | None = _f(None, help="licence policy: run_use, trainable, payable, ... (README: licences)")
    source: Path | None = field(default=None, compare=False, metadata={"internal": True})

    def to_dict(self) -> dict[str, Any]:
        """The resolved config (absolute paths, defaults filled) as plain YAML-able data."""
        def conv(v):
            if dataclasses.is_dataclass(v):
                return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)
                        if not f.metadata.get("internal")}
            return str(v) if isinstance(v, Path) else v
        return conv(self)


class _Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-3`` as a number, as YAML 1.2 does (PyYAML's 1.1 rules need ``1.0e-3``)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def load_config(path: str | Path, *, run_dir: str | Path | None = None) -> Config:
    path = Path(path)
    if not path.is_file():
        raise AttribError(f"config file not found: {path}",
                          fix="pass the path of a YAML config, e.g. configs/sample.yaml")
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise AttribError(f"malformed YAML at {where}: {problem}", file=str(path),
                          fix="correct the YAML syntax there (indentation, quotes, colons)") from None
    except UnicodeDecodeError:
        raise AttribError("not UTF-8 text", file=str(path), fix="save the config as UTF-8") from None
    except (ValueError, RecursionError):  # PyYAML lets these through: a 4300+ digit number, deep nesting
        raise AttribError("malformed YAML: a number is too long or the nesting too deep", file=str(path),
                          fix="correct the YAML there; start from configs/sample.yaml") from None
    if not isinstance(raw, dict):
        raise AttribError("the config must be a YAML mapping of keys to values", file=str(path),
                          fix="start from configs/sample.yaml")
    if run_dir is not None:
        raw = {**raw, "run_dir": str(Path(run_dir).resolve())}
    cfg = _build(Config, raw, "", path)
    return dataclasses.replace(cfg, source=path.resolve())


def payout_policy(run_config: Path, **overrides) -> PayoutConfig:
    """The payout section of a run's resolved config, with command-line overrides (None = keep)."""
    try:
        raw = yaml.safe_load(Path(run_config).read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        raise AttribError(f"the run's resolved config is unreadable ({type(exc).__name__}): was it altered?",
                          file=str(run_config), field="payout",
                          fix="run 'attrib verify' on the run, or train it again") from None
    if not isinstance(raw, dict):
        raise AttribError("the run's resolved config is not a mapping: was it altered?", file=str(run_config),
                          field="payout", fix="run 'attrib verify' on the run, or train it again")
    section = {**(raw.get("payout") or {}), **{k: v for k, v in overrides.items() if v is not None}}
    return _build(PayoutConfig, section, "payout.", Path(run_config))


def from_dict(raw: dict, *, base: Path) -> Config:
    """Build a Config from already-parsed data (a run's resolved config), paths relative to ``base``."""
    return _build(Config, raw, "", base / "config.yaml")


def _build(cls, raw: Any, prefix: str, file: Path):
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise AttribError(f"expected a mapping, got {type(raw).__name__}", file=str(file),
                          field=prefix.rstrip(".") or None, fix="write it as 'key: value' lines")
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            fix = f"did you mean '{prefix}{close[0]}'?" if close else \
                f"remove it; allowed keys here: {', '.join(fields)}"
            raise AttribError("unknown key", file=str(file), field=f"{prefix}{key}", fix=fix)
    hints = typing.get_type_hints(cls)
    values = {}
    for name, f in fields.items():
        dotted = f"{prefix}{name}"
        if name in raw:
            values[name] = _coerce(hints[name], raw[name], dotted, file)
        elif dataclasses.is_dataclass(hints[name]):  # a section left out: its defaults (optional ones stay None)
            values[name] = _build(hints[name], {}, dotted + ".", file)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise AttribError("required key is missing", file=str(file), field=dotted,
                              fix=f"add '{name}:' ({f.metadata.get('help') or 'see configs/sample.yaml'})")
        check = f.metadata.get("check")
        if check and values.get(name) is not None and name in values:
            problem = check(values[name])
            if problem:
                raise AttribError(f"{problem} (got {values[name]!r})", file=str(file), field=dotted,
                                  fix="see the comments in configs/sample.yaml")
    obj = cls(**values)
    if cls is TrainingConfig and obj.epochs is None and obj.max_steps is None:
        raise AttribError("epochs and max_steps are both empty: training would never stop", file=str(file),
                          field=f"{prefix}epochs", fix="set training.epochs or training.max_steps")
    if cls is ModelConfig and obj.kind == "hf" and obj.path is None:
        raise AttribError("model.kind is 'hf' but model.path is missing", file=str(file), field=f"{prefix}path",
                          fix="set model.path to a local Hugging Face model directory")
    if cls is ModelConfig and obj.kind == "hf" and obj.base_weights is not None:
        raise AttribError("base_weights is for the built-in GPT; an hf model's weights are in model.path",
                          file=str(file), field=f"{prefix}base_weights", fix="remove base_weights")
    if cls is ModelConfig and obj.kind == "hf" and obj.tokenizer is not None:
        raise AttribError("tokenizer is for the built-in GPT; an hf model's tokenizer is in model.path",
                          file=str(file), field=f"{prefix}tokenizer", fix="remove tokenizer")
    if cls is PayoutConfig:  # the amounts are money in the run's currency: refused now, not at the first payout
        from attribcli.money.amounts import parse_amount

        for name in ("minimum_payout", "floor", "cap"):
            if getattr(obj, name) is not None:
                parse_amount(getattr(obj, name), obj.currency, file=str(file), field=f"{prefix}{name}")
    if cls is DataConfig and obj.generations is not None and obj.generation_prompts is not None:
        raise AttribError("generations and generation_prompts both given: a run values one set in training",
                          file=str(file), field=f"{prefix}generation_prompts",
                          fix="keep one; value the other later with 'attrib generate' and 'attrib replay'")
    if cls is Config and obj.licenses is not None:
        from attribcli.rights.licenses import LicensePolicy

        LicensePolicy.from_mapping(obj.licenses, file=str(file), field="licenses")  # validate now, one line
    if cls is StageShares and abs(obj.base_model + obj.fine_tuning + obj.prompt - 1) > 1e-9:
        raise AttribError(f"stage shares sum to {obj.base_model + obj.fine_tuning + obj.prompt:g}, not 1",
                          file=str(file), field=prefix.rstrip("."), fix="make base_model + fine_tuning + prompt = 1")
    if cls is AttributionConfig and obj.rule == "path" and obj.order == 2:
        raise AttribError("order 2 is a taylor setting; the path rule integrates along the step instead",
                          file=str(file), field=f"{prefix}order", fix="remove order, or set attribution.rule: taylor")
    if cls is TrainingConfig and obj.optimizer == "adamw" and obj.momentum:
        raise AttribError("momentum is an sgd setting; AdamW's momentum is beta1", file=str(file),
                          field=f"{prefix}momentum", fix="remove momentum, or set beta1")
    return obj


def _finite(v) -> bool:
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float
        return False


def _strip_optional(tp):
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def _coerce(tp, value, dotted: str, file: Path):
    optional = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)
    tp = _strip_optional(tp)
    if value is None:
        if optional:
            return None
        raise AttribError("must not be empty", file=str(file), field=dotted, fix="give it a value or remove the key")
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, dotted + ".", file)
    if typing.get_origin(tp) is Literal:
        allowed = typing.get_args(tp)
        if not any(value == a and type(value) is type(a) for a in allowed):  # true/1.0 are not 1
            close = difflib.get_close_matches(str(value).lower(), [str(a) for a in allowed], n=1)  # CUDA → cuda
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise AttribError(f"invalid value {value!r}", file=str(file), field=dotted,
                              fix=f"{hint}use one of: {', '.join(map(str, allowed))}")
        return value
    if tp is Path:
        if not isinstance(value, str) or not value.strip():
            raise AttribError(f"expected a path, got {value!r}", file=str(file), field=dotted,
                              fix="write a file path (relative paths start at the config's folder)")
        p = Path(value).expanduser()
        return (p if p.is_absolute() else file.parent / p).resolve()
    if tp is bool:
        if not isinstance(value, bool):
            raise AttribError(f"expected true or false, got {value!r}", file=str(file), field=dotted,
                              fix="write true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise AttribError(f"expected a whole number, got {value!r}", file=str(file), field=dotted,
                              fix="write an integer without quotes")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
            raise AttribError(f"expected a finite number, got {value!r}", file=str(file), field=dotted,
                              fix="write a number without quotes, e.g. 0.05 or 5.0e-2")
        return float(value)
    if tp is dict:
        if not isinstance(value, dict):
            raise AttribError(f"expected a mapping, got {value!r}", file=str(file), field=dotted,
                              fix="write it as indented 'key: value' lines")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise AttribError(f"expected text, got {value!r}", file=str(file), field=dotted, fix="write it as text")
        return value
    if typing.get_origin(tp) is list:
        if not isinstance(value, list):
            raise AttribError(f"expected a list, got {value!r}", file=str(file), field=dotted,
                              fix="write it as [a, b] or as '- a' lines")
        return [_coerce(typing.get_args(tp)[0], v, f"{dotted}[{i}]", file) for i, v in enumerate(value)]
    raise TypeError(f"unsupported config type {tp} for {dotted}")  # a schema bug, not a user error
