"""Money: split each generation's revenue among payees in proportion to positive value, to the cent.

Per generation: its revenue (given per generation, or a total split evenly across generations) goes to
payees (holders and the escrow line) in proportion to their positive value for that generation, by
largest-remainder rounding in integer minor units, so the lines sum exactly to the revenue. A payee with
zero or negative value earns nothing for that generation and is shown. If no payee has positive value,
the generation's revenue goes to an UNALLOCATED line: it is reported, never silently lost or spread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from attribcli.errors import AttribError
from attribcli.money import allocate, parse_amount, split_evenly
from attribcli.rights import ESCROW_ID
from attribcli.rundir import Run
from attribcli.value import holder_values

UNALLOCATED_ID = "UNALLOCATED"


@dataclass
class GenerationPayout:
    generation_id: str
    revenue: int                      # minor units
    values: dict[str, float]          # payee → value (nats), every payee
    amounts: dict[str, int]           # payee → minor units, every payee (+ UNALLOCATED when needed)


@dataclass
class Payout:
    currency: str
    mode: str                         # "total" | "generations"
    revenue: int
    generations: list[GenerationPayout] = field(default_factory=list)

    def payees(self) -> list[str]:
        ids = list(self.generations[0].amounts) if self.generations else []
        extra = [UNALLOCATED_ID] if any(UNALLOCATED_ID in g.amounts for g in self.generations) else []
        return [p for p in ids if p != UNALLOCATED_ID] + extra

    def total(self, payee: str) -> int:
        return sum(g.amounts.get(payee, 0) for g in self.generations)

    def value(self, payee: str) -> float:
        return sum(g.values.get(payee, 0.0) for g in self.generations)


def generation_revenues(run: Run, *, revenue: str | None, currency: str) -> tuple[str, dict[str, int]]:
    gens = [str(g) for g in run.generations["id"]]
    if revenue is not None:
        total = parse_amount(revenue, currency, file=None, field="--revenue")
        return "total", split_evenly(total, gens)
    source = run.manifest.get("inputs", {}).get("generations", {}).get("path", "generations")
    out = {}
    for gid, rev in zip(gens, run.generations["revenue"]):
        if rev is None or (isinstance(rev, float) and rev != rev):
            raise AttribError(f"generation '{gid}' has no revenue", file=source, field="revenue",
                              fix="add \"revenue\": \"12.50\" to every generation, or pass --revenue AMOUNT")
        out[gid] = parse_amount(str(rev), currency, file=source, field="revenue")
    return "generations", out


def compute_payout(run: Run, *, revenue: str | None, currency: str) -> Payout:
    """``revenue``: a total to split evenly across generations, or None to use each generation's own."""
    mode, revenues = generation_revenues(run, revenue=revenue, currency=currency)
    values = holder_values(run)
    payout = Payout(currency.upper(), mode, sum(revenues.values()))
    for gid, rev in revenues.items():
        col = {p: float(v) for p, v in values[gid].items()}
        positive = {p: v for p, v in col.items() if v > 0}
        if rev and positive:
            amounts = allocate(rev, col)
        else:
            amounts = {p: 0 for p in col}
            if rev:
                amounts[UNALLOCATED_ID] = rev
        payout.generations.append(GenerationPayout(gid, rev, col, amounts))
    for g in payout.generations:  # the invariant every statement rests on
        assert sum(g.amounts.values()) == g.revenue and min(g.amounts.values()) >= 0
    return payout


def payee_kind(payee: str) -> str:
    return {ESCROW_ID: "escrow", UNALLOCATED_ID: "unallocated"}.get(payee, "holder")


def revenue_source_path(run: Run) -> Path | None:
    rec = run.manifest.get("inputs", {}).get("generations")
    return Path(rec["path"]) if rec else None


def canonical_json(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, ensure_ascii=False) + "\n"
