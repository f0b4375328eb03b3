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
# a value table has one column per generation id beside these (reports/tables.py): an id equal to one would
# collide with it
RESERVED_IDS = frozenset({"sample", "doc_id", "chunk", "holders", "license", "total", "name", "holder_id",
                          "documents", "generation_id", "top_payee", "valuation", "run_manifest_sha256"})


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


def load_generations(path: Path, *, context_length: int, currency: str, tokenizer,
                     field: str = "data.generations") -> list[Generation]:
    gens = []
    for where, rec in _records(path, FIELDS, field=field, what="{id, prompt, completion}"):
        for key in ("prompt", "completion"):  # the id is checked by _records
            if not isinstance(rec.get(key), str):
                raise AttribError("required text field is missing", file=where, field=key,
                                  fix=f"add \"{key}\": \"...\"")
        if not rec["completion"]:
            raise AttribError("completion is empty: nothing to value", file=where, field="completion",
                              fix="add the generated text")
        gen = Generation(rec["id"], rec["prompt"], rec["completion"], _revenue(rec, currency, where))
        n_tokens = len(gen.tokens(tokenizer)[0]) - 1
        if n_tokens > context_length:
            raise AttribError(f"prompt + completion is {n_tokens} tokens, the model's context is {context_length}",
                              file=where, field="completion",
                              fix="shorten the prompt or completion, or raise model.context_length")
        gens.append(gen)
    if not gens:
        raise AttribError("no generations" if field == "data.generations" else "no texts", file=str(path),
                          field=None if field == "data.generations" else field,
                          fix="add one {id, prompt, completion} per line")
    return gens


@dataclass(frozen=True)
class Prompt:
    """A prompt to complete (``attrib generate``); its id and revenue pass to the generation it becomes."""

    id: str
    prompt: str
    revenue: str | None
    ids: tuple[int, ...]  # [BOS] + prompt tokens


PROMPT_FIELDS = ("id", "prompt", "revenue")


def load_prompts(path: Path, *, context_length: int, currency: str, tokenizer,
                 field: str = "--prompts") -> list[Prompt]:
    """Prompts to complete: each non-empty, with room after it for at least one token in the context."""
    prompts = []
    for where, rec in _records(path, PROMPT_FIELDS, field=field, what="{id, prompt[, revenue]}"):
        if not isinstance(rec.get("prompt"), str):
            raise AttribError("required text field is missing", file=where, field="prompt",
                              fix='add "prompt": "..."')
        if not rec["prompt"].strip():
            raise AttribError("prompt is empty: nothing to complete from", file=where, field="prompt",
                              fix="write the prompt text, or remove the line")
        ids = (tokenizer.bos_id, *tokenizer.encode(rec["prompt"]))
        if len(ids) > context_length:
            raise AttribError(f"prompt is {len(ids) - 1} tokens, no room left in the model's context of "
                              f"{context_length}", file=where, field="prompt",
                              fix=f"shorten it to fewer than {context_length} tokens")
        prompts.append(Prompt(rec["id"], rec["prompt"], _revenue(rec, currency, where), ids))
    if not prompts:
        raise AttribError("no prompts", file=str(path), fix="add one {id, prompt} per line")
    return prompts


def _revenue(rec: dict, currency: str, where: str) -> str | None:
    revenue = rec.get("revenue")
    if revenue is None:
        return None
    parse_amount(revenue, currency, file=where, field="revenue")  # validate now, not at payout
    return str(revenue).strip()


def _records(path: Path, fields: tuple[str, ...], *, field: str, what: str):
    """``(file:line, object)`` for each non-blank line of a JSONL file with a unique, non-empty text ``id``
    and no field outside ``fields``; anything else is one ``AttribError`` naming the line."""
    path = Path(path)
    if not path.is_file():
        raise AttribError(f"file not found: {path}", field=field, fix=f"point {field} at a JSONL file of {what}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise AttribError("not UTF-8 text", file=str(path), fix="save it as UTF-8") from None
    seen = set()
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
            if key not in fields:
                raise AttribError("unknown field", file=where, field=key, fix=f"allowed: {', '.join(fields)}")
        if not isinstance(rec.get("id"), str):
            raise AttribError("required text field is missing", file=where, field="id", fix='add "id": "..."')
        if not rec["id"].strip() or rec["id"] in seen:
            raise AttribError(f"id '{rec['id']}' is empty or repeated", file=where, field="id",
                              fix="give every line a unique id")
        if rec["id"] in RESERVED_IDS:
            raise AttribError(f"id '{rec['id']}' is the name of a column the value tables add themselves",
                              file=where, field="id", fix="rename it, e.g. 'gen-" + rec["id"] + "'")
        seen.add(rec["id"])
        yield where, rec
