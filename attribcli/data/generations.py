"""The generations being paid for: prompt + completion, optional revenue.

A generation is a *target* of the in-run valuation: its loss is the mean next-token cross-entropy of
the completion tokens given the prompt (the prompt itself is not scored).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from attribcli.errors import AttribError
from attribcli.money.amounts import parse_amount

FIELDS = ("id", "prompt", "completion", "revenue")


@dataclass(frozen=True)
class Generation:
    id: str
    prompt: str
    completion: str
    revenue: str | None  # decimal string as given; parsed to minor units when paying

    def tokens(self, tokenizer, *, with_prompt: bool = True) -> tuple[list[int], int]:
        """``([BOS] + prompt + completion, index of the first completion token)``."""
        prompt = tokenizer.encode(self.prompt) if with_prompt else []
        return [tokenizer.bos_id] + prompt + tokenizer.encode(self.completion), 1 + len(prompt)


def load_generations(path: Path, *, context_length: int, currency: str, tokenizer) -> list[Generation]:
    path = Path(path)
    if not path.is_file():
        raise AttribError(f"generations file not found: {path}", field="data.generations",
                          fix="point data.generations at a JSONL file of {id, prompt, completion}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise AttribError("not UTF-8 text", file=str(path), fix="save it as UTF-8") from None
    gens, seen = [], set()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise AttribError(f"invalid JSON: {exc.msg} at column {exc.colno}", file=where,
                              fix="write one JSON object per line") from None
        except (ValueError, RecursionError):  # a 4300+ digit number, or nesting deeper than Python's stack
            raise AttribError("invalid JSON: a number is too long or the nesting too deep", file=where,
                              fix="write one flat JSON object per line") from None
        if not isinstance(rec, dict):
            raise AttribError("expected a JSON object", file=where, fix="write one {...} object per line")
        for key in rec:
            if key not in FIELDS:
                raise AttribError("unknown field", file=where, field=key, fix=f"allowed: {', '.join(FIELDS)}")
        for key in ("id", "prompt", "completion"):
            if not isinstance(rec.get(key), str):
                raise AttribError("required text field is missing", file=where, field=key,
                                  fix=f"add \"{key}\": \"...\"")
        if not rec["id"].strip() or rec["id"] in seen:
            raise AttribError(f"generation id '{rec['id']}' is empty or repeated", file=where, field="id",
                              fix="give every generation a unique id")
        if not rec["completion"]:
            raise AttribError("completion is empty: nothing to value", file=where, field="completion",
                              fix="add the generated text")
        revenue = rec.get("revenue")
        if revenue is not None:
            parse_amount(revenue, currency, file=where, field="revenue")  # validate now, not at payout
            revenue = str(revenue).strip()
        gen = Generation(rec["id"], rec["prompt"], rec["completion"], revenue)
        n_tokens = len(gen.tokens(tokenizer)[0]) - 1
        if n_tokens > context_length:
            raise AttribError(f"prompt + completion is {n_tokens} tokens, the model's context is {context_length}",
                              file=where, field="completion",
                              fix="shorten the prompt or completion, or raise model.context_length")
        seen.add(gen.id)
        gens.append(gen)
    if not gens:
        raise AttribError("no generations", file=str(path), fix="add one {id, prompt, completion} per line")
    return gens
