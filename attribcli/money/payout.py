"""Money: split each generation's revenue among contributors, to the cent (AME: attribution → execution).

Per generation, its revenue (given per generation, or a total split evenly across generations):

1. a fixed platform fee, if configured, goes to the platform payee;
2. the rest splits across stages, all measured in nats of the completion's log-likelihood
   (``stages: measured``): base model ``loss_reference − loss_base``, fine-tuning data
   ``loss_base − loss_final``, prompt ``loss_final(no prompt) − loss_final``; a stage with a negative
   contribution gets nothing. Or fixed shares (``stages: fixed``), or all to the data (``data_only``);
3. the fine-tuning stage goes to payees (holders and the escrow line) in proportion to their positive
   value for that generation. A payee with zero or negative value earns nothing and is shown.
   With reference texts (``data.reference``, inrun/shared.py) and ``payout.shared`` other than ``total``, the
   fine-tuning stage goes in proportion to the positive pieces of the generation's value: each payee's positive
   specific value (paid to it), and the positive total of the shared part, which is paid by the
   ``payout.shared`` key (``pool``: each payee's share of every step's general learning; ``tokens``: tokens
   trained; ``generation``: positive shared values in that generation).

Every split is largest-remainder rounding in integer minor units, so lines sum exactly to the revenue.
Money with no eligible recipient (no positive stage, no positive holder) goes to an UNALLOCATED line:
reported, never silently lost or spread.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from attribcli.errors import AttribError
from attribcli.money.amounts import allocate, format_amount, parse_amount, split_evenly
from attribcli.rights.holders import COMMONS_ID, ESCROW_ID, UNALLOCATED_ID
from attribcli.valuation.valuation import Valuation

if TYPE_CHECKING:  # the policy is plain data handed in; money does not read config files
    from attribcli.config import PayoutConfig

STAGES = ("base_model", "fine_tuning", "prompt")


class Packed(Mapping):
    """A read-only payee → number mapping kept as one array over a key order that every generation with the same
    payees shares (``packer``): a period's statement holds one per generation and line kind, and a dict of 1,000
    payees costs about 50 KB where the array costs 8 KB. Iterates, compares and reads exactly as the dict did."""

    __slots__ = ("_keys", "_index", "_data")

    def __init__(self, keys: tuple, index: dict, data: array):
        self._keys, self._index, self._data = keys, index, data

    def __getitem__(self, key):
        return self._data[self._index[key]]

    def get(self, key, default=None):
        i = self._index.get(key)
        return default if i is None else self._data[i]

    def __contains__(self, key) -> bool:
        return key in self._index

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def values(self):
        return self._data

    def items(self):
        return zip(self._keys, self._data)


def packer():
    """``pack(mapping, typecode)``: a ``Packed`` copy, its key order shared with every earlier one of the same keys."""
    orders: dict[tuple, tuple[tuple, dict]] = {}

    def pack(d: Mapping, typecode: str) -> Packed:
        keys = tuple(d)
        keys, index = orders.setdefault(keys, (keys, {k: i for i, k in enumerate(keys)}))
        return Packed(keys, index, array(typecode, d.values()))

    return pack


@dataclass
class GenerationPayout:
    generation_id: str
    revenue: int                      # minor units
    values: Mapping[str, float]       # payee → value (nats), every payee (a Packed one in a statement)
    amounts: Mapping[str, int]        # payee → minor units, every payee (+ stage payees, UNALLOCATED)
    stage_nats: dict[str, float] = field(default_factory=dict)   # measured contribution of each stage
    stage_amounts: dict[str, int] = field(default_factory=dict)  # platform + each stage, minor units
    part_nats: dict[str, float] = field(default_factory=dict)    # payout.shared: specific / shared nats
    part_amounts: dict[str, dict[str, int]] = field(default_factory=dict)  # part → payee → minor units


@dataclass
class Payout:
    currency: str
    mode: str                         # "total" | "generations"
    revenue: int
    generations: list[GenerationPayout] = field(default_factory=list)

    stage_payees: dict[str, str] = field(default_factory=dict)   # stage / "platform" → payee id
    adjustments: dict[str, int] = field(default_factory=dict)    # floor / cap moves between payees; sums to 0
    commons_payee: str = COMMONS_ID
    salt: str = ""                    # the statement's parameters, hashed: orders equal remainders (amounts.tie_order)
    shared: str | None = None         # payout.shared when the data money is cut into parts; None: not cut

    def part_total(self, payee: str, part: str) -> int:
        """What ``payee`` receives for ``part`` ("specific" or "shared") of the data money, before floor and cap."""
        return sum(g.part_amounts.get(part, {}).get(payee, 0) for g in self.generations)

    def payees(self) -> list[str]:
        ids = [p for p in (self.generations[0].values if self.generations else []) if p != UNALLOCATED_ID]
        extra = [p for p in dict.fromkeys(self.stage_payees.values())
                 if any(g.amounts.get(p, 0) for g in self.generations)]
        if self.adjustments.get(UNALLOCATED_ID) or any(g.amounts.get(UNALLOCATED_ID, 0) or g.values.get(UNALLOCATED_ID)
                                                       for g in self.generations):
            extra.append(UNALLOCATED_ID)
        return ids + extra

    def total(self, payee: str) -> int:
        return self._sums("amount").get(payee, 0) + self.adjustments.get(payee, 0)

    def value(self, payee: str) -> float:
        return self._sums("value").get(payee, 0.0)

    def positive_value(self, payee: str) -> float:
        """The payee's value summed over the generations where it is positive (what the data money follows)."""
        return self._sums("positive").get(payee, 0.0)

    def generations_paid(self, payee: str) -> int:
        return self._sums("paid").get(payee, 0)

    _SUMS = {"amount": ("amounts", None), "value": ("values", None),
             "positive": ("values", lambda v: max(v, 0.0)), "paid": ("amounts", lambda a: int(a > 0))}

    def _sums(self, kind: str) -> dict:
        """Every payee's sum of ``kind`` over the generations, in generation order (the same numbers as summing
        one payee at a time), made once per number of generations: one pass, not one per payee."""
        cache = self.__dict__.setdefault("_cached_sums", {})
        key = (kind, len(self.generations))
        if key not in cache:
            attr, f = self._SUMS[kind]
            out: dict = {}
            for g in self.generations:
                for p, v in getattr(g, attr).items():
                    out[p] = out.get(p, 0) + (v if f is None else f(v))
            cache[key] = out
        return cache[key]


def generation_revenues(val: Valuation, *, revenue: str | None, currency: str,
                        salt: str = "") -> tuple[str, dict[str, int]]:
    gens = val.generation_ids
    if revenue is not None:
        total = parse_amount(revenue, currency, file=None, field="--revenue")
        return "total", split_evenly(total, gens, salt=salt)
    source = val.generations_source
    out = {}
    for gid, rev in zip(gens, val.generations["revenue"]):
        if rev is None or (isinstance(rev, float) and rev != rev):
            raise AttribError(f"generation '{gid}' has no revenue", file=source, field="revenue",
                              fix="add \"revenue\": \"12.50\" to every generation, or pass --revenue AMOUNT")
        out[gid] = parse_amount(str(rev), currency, file=source, field="revenue")
    return "generations", out


def stage_contributions(val: Valuation) -> dict[str, dict[str, float]]:
    """generation id → {stage: nats}: what each stage did for the completion's log-likelihood."""
    out = {}
    for gid, row in zip(val.losses["generation_id"], stage_nats(val.losses)):
        nats = dict(zip(STAGES, map(float, row)))
        if not all(math.isfinite(v) for v in nats.values()):  # damage: named, never handed to the exact split
            raise AttribError(f"generation '{gid}' has a NaN or infinite loss: the run was damaged",
                              file=str(val.run.values_folder / "losses.csv"), field="loss_*",
                              fix="run 'attrib verify' on it, then train (or replay) it again")
        out[str(gid)] = nats
    return out


def stage_nats(losses) -> np.ndarray:
    """``[generations × 3]`` in ``STAGES`` order, from a losses table: base model ``loss_reference − loss_base``,
    fine-tuning data ``loss_base − loss_final``, prompt ``loss_final_no_prompt − loss_final``."""
    return np.stack([(losses["loss_reference"] - losses["loss_base"]).to_numpy(np.float64),
                     (losses["loss_base"] - losses["loss_final"]).to_numpy(np.float64),
                     (losses["loss_final_no_prompt"] - losses["loss_final"]).to_numpy(np.float64)], axis=1)


def stage_payee_ids(policy: PayoutConfig) -> dict[str, str]:
    """Stage (and "platform") → the payee id its money goes to."""
    return {"platform": policy.platform_payee, "base_model": policy.base_model_payee, "prompt": policy.prompt_payee}


def _add(amounts: dict[str, int], payee: str, minor: int) -> None:
    amounts[payee] = amounts.get(payee, 0) + minor



def statement_salt(val: Valuation, revenue: str | None, currency: str, policy: PayoutConfig, extra: str = "") -> str:
    """What orders equal remainders in this statement: a hash of its parameters (the values' manifest, revenue,
    currency, payout policy; ``extra``, e.g. the period). The same statement always gets the same cents, and
    another period (another valuation, revenue or period) another order, so no generation or payee id is
    first in line every time."""
    def minor(amount, option):  # "10", "10.0" and "10.00" are one amount: a CSV statement re-derives its cents
        return None if amount is None else parse_amount(amount, currency, field=option)

    rules = {k: minor(v, "--" + k.replace("_", "-")) if k in ("minimum_payout", "floor", "cap") else v
             for k, v in dataclasses.asdict(policy).items() if k != "shared" or val.parts}  # as before parts
    params = [val.manifest_sha256, minor(revenue, "--revenue"), currency.upper(), rules, extra]
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()


def compute_payout(val: Valuation, *, revenue: str | None, currency: str, policy: PayoutConfig,
                   salt: str = "") -> Payout:
    """``revenue``: a total to split evenly across generations, or None to use each generation's own.
    ``salt``: anything else that tells this statement apart (e.g. its period), mixed into the remainders' order."""
    salt = statement_salt(val, revenue, currency, policy, salt)
    mode, revenues = generation_revenues(val, revenue=revenue, currency=currency, salt=salt)
    values = val.holder_values
    contributions = stage_contributions(val)
    stage_payees = stage_payee_ids(policy)
    if policy.commons_payee != COMMONS_ID:  # the commons line under the configured payee id
        values = values.rename(index={COMMONS_ID: policy.commons_payee})
    parts = _Parts(val, policy) if val.parts and policy.shared != "total" else None
    payout = Payout(currency.upper(), mode, sum(revenues.values()), stage_payees=stage_payees,
                    commons_payee=policy.commons_payee, salt=salt, shared=policy.shared if parts else None)
    pack = packer()
    for gid, rev in revenues.items():
        col = {p: float(v) for p, v in values[gid].items()}
        g = pay_generation(gid, rev, col, contributions[gid], policy, parts, salt)
        g.values, g.amounts = pack(g.values, "d"), pack(g.amounts, "q")  # bounded memory per generation
        payout.generations.append(g)
    for g in payout.generations:  # the invariant every statement rests on
        assert sum(g.amounts.values()) == g.revenue and min(g.amounts.values()) >= 0
    floor = parse_amount(policy.floor, currency, field="floor") if policy.floor else 0
    cap = parse_amount(policy.cap, currency, field="cap") if policy.cap else None
    if floor or cap is not None:
        if cap is not None and floor > cap:
            raise AttribError("the floor is above the cap", field="payout.floor", fix="make floor <= cap")
        payout.adjustments = floor_and_cap(payout, floor=floor, cap=cap)
    assert sum(payout.total(p) for p in payout.payees()) == payout.revenue
    return payout


def pay_generation(gid: str, rev: int, col: dict[str, float], nats: dict[str, float], policy: PayoutConfig,
                   parts: _Parts | None = None, salt: str = "") -> GenerationPayout:
    """One generation's revenue (minor units) to the platform fee, the stages and the payees by ``col`` (payee →
    value in nats) and ``nats`` (each stage's contribution); ``parts``: the data money cut by payout.shared."""
    stage_payees = stage_payee_ids(policy)
    fee = Fraction(str(policy.platform_fee))
    amounts = {p: 0 for p in col}
    stage_amounts = {"platform": 0, **{s: 0 for s in STAGES}}
    within = f"{salt}\0{gid}"  # this generation's own order of equal remainders
    if rev and fee:
        split = allocate(rev, {"platform": fee, "rest": 1 - fee}, salt=within) if fee < 1 else \
            {"platform": rev, "rest": 0}
        stage_amounts["platform"] = split["platform"]
        _add(amounts, policy.platform_payee, split["platform"])
        rest = split["rest"]
    else:
        rest = rev
    weights = _stage_weights(policy, nats)
    if rest and any(w > 0 for w in weights.values()):
        for stage, minor in allocate(rest, weights, salt=within).items():
            stage_amounts[stage] += minor
    elif rest:
        _add(amounts, UNALLOCATED_ID, rest)
    for stage in ("base_model", "prompt"):
        if stage_amounts[stage]:
            _add(amounts, stage_payees[stage], stage_amounts[stage])
    data = stage_amounts["fine_tuning"]
    part_nats, part_amounts = {}, {}
    if parts is not None:
        part_nats, part_amounts = parts.allocate(gid, data, within)
        for per_payee in part_amounts.values():
            for p, minor in per_payee.items():
                _add(amounts, p, minor)
    elif data and any(v > 0 for v in col.values()):
        for p, minor in allocate(data, col, salt=within).items():
            amounts[p] += minor
    elif data:
        _add(amounts, UNALLOCATED_ID, data)
    return GenerationPayout(gid, rev, col, amounts, nats, stage_amounts, part_nats, part_amounts)


class _Parts:
    """The data money of each generation paid by its specific and shared parts (``payout.shared``)."""

    POOL = "\0shared"  # the shared part's key among the payees in the first split (no payee id has a NUL)

    def __init__(self, val: Valuation, policy: PayoutConfig):
        rename = {COMMONS_ID: policy.commons_payee}
        self.specific = val.holder_part("specific").rename(index=rename)
        self.shared = val.holder_shared.rename(index=rename)
        keys = {"pool": lambda: val.holder_reference["step_share"], "tokens": lambda: val.holder_tokens}
        key = keys.get(policy.shared)
        self.pool = None if key is None else {p: float(v) for p, v in key().rename(index=rename).items()}

    def allocate(self, gid: str, data: int, salt: str) -> tuple[dict[str, float], dict[str, dict[str, int]]]:
        """(the nats each part is paid by, part → payee → minor units) of one generation's ``data`` money.

        The money is split over the positive pieces of the generation's value, as the data stage always is: each
        payee's positive specific value, and the shared part's positive total, which then goes by the key (the
        pool's, or the payees' positive shared values in this generation). Money with no positive piece goes to
        UNALLOCATED, as the data stage's does."""
        specific = {p: float(v) for p, v in self.specific[gid].items()}
        shared = {p: float(v) for p, v in self.shared[gid].items()}
        weights = {p: max(v, 0.0) for p, v in specific.items()} | {self.POOL: max(sum(shared.values()), 0.0)}
        nats = {"specific": sum(w for p, w in weights.items() if p != self.POOL), "shared": weights[self.POOL]}
        out: dict[str, dict[str, int]] = {"specific": {}, "shared": {}}
        if not data:
            return nats, out
        if not any(weights.values()):
            out["specific"] = {UNALLOCATED_ID: data}
            return nats, out
        first = allocate(data, weights, salt=salt)
        pooled = first.pop(self.POOL)
        out["specific"] = {p: a for p, a in first.items() if a}
        by = self.pool if self.pool is not None else shared
        if pooled and any(v > 0 for v in by.values()):
            out["shared"] = {p: a for p, a in allocate(pooled, by, salt=f"{salt}\0shared").items() if a}
        elif pooled:
            out["shared"] = {UNALLOCATED_ID: pooled}
        return nats, out


def floor_and_cap(payout: Payout, *, floor: int, cap: int | None) -> dict[str, int]:
    """Statement-level limits on each holder's amount, moved between holders in exact minor units.

    Cap: what a holder earns above the cap goes to holders below it in proportion to their positive value
    (repeated while that pushes others over), or to UNALLOCATED when nobody can take it. Floor: a holder
    with positive value earning less than the floor is topped up from holders above it, in proportion to
    their surplus over the floor, never taking a donor below the floor; a floor that surplus cannot meet for
    every such holder is refused (one line naming the largest floor that can be met), never met for some only.
    Returns the adjustment per payee (sums to 0)."""
    holders = [p for p in payout.payees() if payee_kind(p, payout) == "holder"]
    amount = {p: payout.total(p) for p in holders}
    weight = {p: payout.positive_value(p) for p in holders}
    spill = 0
    while cap is not None:
        over = {p: a - cap for p, a in amount.items() if a > cap}
        if not over:
            break
        for p in over:
            amount[p] = cap
        excess = sum(over.values())
        takers = {p: weight[p] for p, a in amount.items() if a < cap and weight[p] > 0}
        if not takers:
            spill += excess
            break
        for p, minor in allocate(excess, takers, salt=f"{payout.salt}\0cap").items():
            amount[p] += minor
    if floor:
        short = {p: floor - a for p, a in amount.items() if weight[p] > 0 and a < floor}
        surplus = {p: a - floor for p, a in amount.items() if a > floor}
        if sum(short.values()) > sum(surplus.values()):  # once met for some and silently not for the others
            eligible = sum(weight[p] > 0 for p in holders)
            best = format_amount(largest_floor(amount, weight), payout.currency)
            raise AttribError(f"a floor of {format_amount(floor, payout.currency)} {payout.currency} cannot be met: "
                              f"the {eligible} holders with positive value receive "
                              f"{format_amount(sum(amount.values()), payout.currency)} in all", field="--floor",
                              fix=f"use a floor of at most {best} (--floor, or payout.floor in the run's config)")
        moved = sum(short.values())
        if moved:
            for p, minor in allocate(moved, surplus, salt=f"{payout.salt}\0floor").items():
                amount[p] -= minor
            for p, minor in allocate(moved, short, salt=f"{payout.salt}\0floor").items():
                amount[p] += minor
    out = {p: amount[p] - payout.total(p) for p in holders if amount[p] != payout.total(p)}
    if spill:
        out[UNALLOCATED_ID] = out.get(UNALLOCATED_ID, 0) + spill
    return out


def largest_floor(amount: dict[str, int], weight: dict[str, float]) -> int:
    """The largest floor F the holders' amounts can meet: what the holders with positive value lack below F is
    at most what every holder has above it. That lack minus that surplus grows with F, so bisect."""
    def lacking(f: int) -> int:
        return sum(max(f - a, 0) for p, a in amount.items() if weight[p] > 0) - \
            sum(max(a - f, 0) for a in amount.values())

    lo, hi = 0, max(amount.values(), default=0)  # lacking(0) <= 0 always
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if lacking(mid) <= 0 else (lo, mid - 1)
    return lo


def _stage_weights(policy: PayoutConfig, nats: dict[str, float]) -> dict[str, Fraction | float]:
    if policy.stages == "data_only":
        return {"base_model": 0, "fine_tuning": 1, "prompt": 0}
    if policy.stages == "fixed":
        shares = policy.fixed_shares
        return {s: Fraction(str(getattr(shares, s))) for s in STAGES}
    return {s: max(nats[s], 0.0) for s in STAGES}  # a stage that hurt the generation earns nothing


def payee_kind(payee: str, payout: Payout | None = None) -> str:
    if payout is not None and payee in payout.stage_payees.values():
        return "platform" if payee == payout.stage_payees["platform"] else "stage"
    commons = payout.commons_payee if payout is not None else COMMONS_ID
    return {ESCROW_ID: "escrow", UNALLOCATED_ID: "unallocated", commons: "commons"}.get(payee, "holder")


def escrow_by_document(val: Valuation, payout: Payout) -> dict[str, int]:
    """This statement's escrow amount split over the holder-less documents it came from, per generation
    in proportion to each document's positive value (so a later claim moves exactly that document's money)."""
    docs = [str(d) for d in val.escrow_documents["id"]]
    values = val.document_values
    source = val.value_sources(docs)  # an exact duplicate's escrow is its share of its trained copy's value
    out = dict.fromkeys(docs, 0)
    for g in payout.generations:
        amount = g.amounts.get(ESCROW_ID, 0)
        weights = {d: source[d][1] * max(float(values.loc[source[d][0], g.generation_id]), 0.0) for d in docs
                   if source[d][0] in values.index}
        if amount and any(w > 0 for w in weights.values()):
            for d, minor in allocate(amount, weights, salt=f"{payout.salt}\0{g.generation_id}\0escrow").items():
                out[d] += minor
    return out


def apply_claims(val: Valuation, payout: Payout, claims: dict[str, str]) -> None:
    """Claimed documents' share of this statement's escrow goes to their holder (adjustments sum to 0)."""
    if not claims:
        return
    per_doc = escrow_by_document(val, payout)
    for doc, holder in sorted(claims.items()):
        moved = per_doc.get(doc, 0)
        if moved:
            payout.adjustments[ESCROW_ID] = payout.adjustments.get(ESCROW_ID, 0) - moved
            payout.adjustments[holder] = payout.adjustments.get(holder, 0) + moved
