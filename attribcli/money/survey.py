"""A period's money estimated from a survey: every payee's amount, with its 95 % interval, summing to the pool.

Each drawn generation is paid exactly as a statement pays it (payout.py, from the sample's replay: ``y_g``,
payee → minor units). The generations taken with certainty are paid as they are. For the rest (drawn with
probability ``π_g`` proportional to revenue, sampling.py) the payee's money over the whole period is

- Horvitz-Thompson, without an index: ``Ŷ = Σ_drawn y_g / π_g``;
- the difference estimator, with one (posttrain/survey.py values every generation per payee from the
  index, and paid by the same rule that gives ``x_g``): ``Ŷ = Σ_all x_g + Σ_drawn (y_g − x_g) / π_g``.

Both are unbiased for the census whatever the index's error; the index only narrows the interval, the more
the better it tracks the exact values. Each generation's lines sum to its revenue in either case, and
``π_g ∝ R_g``, so the estimates of all lines sum to the rest's revenue exactly (in real numbers): the rest's
money is split over the lines by their estimates, largest remainder in minor units (a negative estimate
gets nothing), and added to the certain money. A census (every generation with revenue drawn) is the exact
statement.

The variance is Deville's approximation for a high-entropy fixed-size πps design (randomized systematic
sampling is one): with ``n`` draws, ``c_g = (1 − π_g) n / (n − 1)`` and ``z_g = y_g`` (or ``y_g − x_g``),
``V̂ = Σ c_g (z_g/π_g − A)²``, ``A = Σ c_g z_g/π_g / Σ c_g``; the 95 % interval is ``Ŷ ± 1.96 √V̂``
(needs at least two draws beside the certain ones). How often these intervals cover the census is
measured, not assumed: benchmarks/survey_coverage.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from attribcli.errors import AttribError
from attribcli.money.amounts import allocate
from attribcli.money.payout import Payout, compute_payout, stage_nats, stage_payee_ids
from attribcli.rights.holders import COMMONS_ID, UNALLOCATED_ID
from attribcli.valuation.valuation import Valuation

if TYPE_CHECKING:
    from attribcli.config import PayoutConfig
    from attribcli.posttrain.survey import Survey

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile
TILE_BYTES = 64 << 20      # the index's money, a tile of generations at a time


@dataclass
class SurveyPayout:
    """The period's estimated statement, and the exact payout of the drawn generations it rests on."""

    currency: str
    revenue: int                       # the whole period's, minor units
    estimator: str                     # "census" | "horvitz-thompson" | "difference"
    sample: Payout                     # the drawn generations, each paid exactly
    generations: int                   # in the period
    drawn: int
    certain: int                       # of them with certainty
    rest_revenue: int                  # revenue of the generations sampled with π < 1
    amounts: dict[str, int] = field(default_factory=dict)        # payee → minor units, sum = revenue
    estimates: dict[str, float] = field(default_factory=dict)    # payee → estimated minor units (real)
    half_widths: dict[str, float] = field(default_factory=dict)  # payee → 95 % half-width, minor units (nan: n < 2)
    certain_amounts: dict[str, int] = field(default_factory=dict)  # payee → from the certain generations

    def payees(self) -> list[str]:
        return list(self.amounts)

    def share(self, payee: str) -> float:
        return self.estimates[payee] / self.revenue if self.revenue else 0.0

    def interval(self, payee: str) -> tuple[float, float]:
        """The 95 % interval of the payee's money, minor units (never below 0)."""
        e, h = self.estimates[payee], self.half_widths[payee]
        return max(e - h, 0.0), e + h


def survey_payout(val: Valuation, survey: Survey, *, currency: str, policy: PayoutConfig,
                  auxiliary: str = "index") -> SurveyPayout:
    """``val``: the survey's own valuation (its drawn generations, replayed); ``auxiliary``: ``index`` (the
    difference estimator, when the survey has the index's values) or ``none`` (Horvitz-Thompson)."""
    if policy.floor or policy.cap:
        raise AttribError("a floor or cap moves money between holders by their amounts, which a survey only "
                          "estimates", field="--floor" if policy.floor else "--cap",
                          fix="leave floor and cap out of a survey's statement (payout.floor / payout.cap: null)")
    if auxiliary == "index" and survey.index_values is None:
        raise AttribError("the survey has no index values (its run was trained without attribution.index)",
                          field="--auxiliary", fix="use --auxiliary none, or train with attribution.index")
    d, pi = survey.design, survey.inclusion
    sample = compute_payout(val, revenue=None, currency=currency, policy=policy)
    drawn = {g.generation_id: g for g in sample.generations}
    ids = list(d.ids)
    if sorted(drawn) != sorted(i for i, s in zip(ids, d.selected) if s):
        raise AttribError("the survey's valuation does not hold exactly its drawn generations",
                          file=str(val.run.values_folder), field="--survey",
                          fix="make the survey again with 'attrib survey'")
    payees = list(dict.fromkeys([*sample.payees(), *stage_payee_ids(policy).values()]))
    use = auxiliary == "index" and not d.census
    index = _index_money(survey, policy, sample.salt) if use else None
    if index is not None:
        payees = list(dict.fromkeys([*payees, *index[0]]))
    certain = dict.fromkeys(payees, 0)
    rest = [i for i, gid in enumerate(ids) if d.selected[i] and not d.certain[i]]
    for i, gid in enumerate(ids):
        if d.certain[i]:
            for p, a in drawn[gid].amounts.items():
                certain[p] += a
    P = {p: j for j, p in enumerate(payees)}
    y = np.zeros((len(rest), len(payees)))
    for r, i in enumerate(rest):
        for p, a in drawn[ids[i]].amounts.items():
            y[r, P[p]] = a
    x_total = x = None
    estimator = "census" if d.census else "horvitz-thompson"
    if index is not None:
        names, x_rest, x_drawn = index
        cols = [P[p] for p in names]
        x_total, x = np.zeros(len(payees)), np.zeros_like(y)
        x_total[cols], x[:, cols] = x_rest, x_drawn
        estimator = "difference"
    estimate, variance = estimate_total(y, pi[rest], x_total, x)
    out = SurveyPayout(currency.upper(), int(d.revenue.sum()), estimator, sample, len(ids), int(d.selected.sum()),
                       int(d.certain.sum()), d.rest_revenue)
    rest_amounts = dict.fromkeys(payees, 0)
    if d.rest_revenue:
        weights = {p: max(float(estimate[P[p]]), 0.0) for p in payees}
        if any(v > 0 for v in weights.values()):
            rest_amounts = allocate(d.rest_revenue, weights, salt=f"{sample.salt}\0survey")
        else:
            rest_amounts[UNALLOCATED_ID] = d.rest_revenue
    for p in list(dict.fromkeys([*payees, *rest_amounts])):
        out.amounts[p] = certain.get(p, 0) + rest_amounts.get(p, 0)
        out.estimates[p] = certain.get(p, 0) + (float(estimate[P[p]]) if p in P else 0.0)
        out.half_widths[p] = float(Z95 * math.sqrt(variance[P[p]])) if p in P else 0.0
        out.certain_amounts[p] = certain.get(p, 0)
    assert sum(out.amounts.values()) == out.revenue and min(out.amounts.values()) >= 0
    return out


def estimate_total(y: np.ndarray, pi: np.ndarray, x_total: np.ndarray | None = None,
                   x: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(the estimated total of each column over the whole population, its variance) from the draws' ``y``
    (draws × lines) and inclusion probabilities ``pi``; with an auxiliary known for every unit (``x_total``, its
    total; ``x``, its draws' values), the difference estimator."""
    z = y if x is None else y - x
    total = np.zeros(y.shape[1]) if x_total is None else np.asarray(x_total, dtype=np.float64)
    return total + (z / pi[:, None]).sum(0), _deville(z, pi)


def _deville(z: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """Per column of ``z`` (draws × lines): Deville's variance of ``Σ z/π`` (nan with fewer than two draws;
    0 for a census)."""
    n = len(pi)
    if n == 0:
        return np.zeros(z.shape[1])
    if n < 2:
        return np.full(z.shape[1], np.nan)
    c = (1.0 - pi) * n / (n - 1)
    if not c.sum():
        return np.zeros(z.shape[1])
    e = z / pi[:, None]
    a = (c[:, None] * e).sum(0) / c.sum()
    return (c[:, None] * (e - a) ** 2).sum(0)


def _index_money(survey: Survey, policy: PayoutConfig, salt: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(payees, Σ over the generations sampled with π < 1 of the money the index's values pay them, that money
    for each drawn one of them [drawn × payees]): every generation paid by the statement's rule, in real
    numbers (an auxiliary needs no rounding), a tile of generations at a time."""
    d = survey.design
    holders = [policy.commons_payee if p == COMMONS_ID else p for p in survey.index_payees]
    stages = stage_payee_ids(policy)
    order = list(dict.fromkeys([*holders, stages["platform"], stages["base_model"], stages["prompt"], UNALLOCATED_ID]))
    column = {p: j for j, p in enumerate(order)}
    nats = stage_nats(survey.index_losses)
    pool = np.flatnonzero(~d.certain & (d.revenue > 0))
    drawn = np.flatnonzero(d.selected & ~d.certain)
    total, x = np.zeros(len(order)), np.zeros((len(drawn), len(order)))
    step = max(1, TILE_BYTES // max(1, 8 * len(order)))
    for lo in range(0, len(pool), step):
        rows = pool[lo:lo + step]
        money = generation_money(d.revenue[rows].astype(np.float64), np.asarray(survey.index_values[rows]),
                                 nats[rows], policy, holders, column)
        total += money.sum(0)
        at = np.searchsorted(drawn, rows)
        hit = (at < len(drawn)) & (drawn[np.minimum(at, len(drawn) - 1)] == rows)
        x[at[hit]] = money[hit]
    if not total[column[UNALLOCATED_ID]] and not x[:, column[UNALLOCATED_ID]].any():  # no line for nothing
        keep = [j for j, p in enumerate(order) if p != UNALLOCATED_ID]
        order, total, x = [order[j] for j in keep], total[keep], x[:, keep]
    return order, total, x


def generation_money(revenue: np.ndarray, values: np.ndarray, nats: np.ndarray, policy: PayoutConfig,
                     holders: list[str], column: dict[str, int]) -> np.ndarray:
    """``[generations × len(column)]``: payout.py's split of each generation's revenue (platform fee, stages,
    data money by positive value; UNALLOCATED where nothing is eligible) in real numbers, vectorized. Within a
    minor unit of ``pay_generation`` on every line (tested)."""
    n = len(revenue)
    out = np.zeros((n, len(column)))
    stages = stage_payee_ids(policy)
    fee = float(policy.platform_fee)
    out[:, column[stages["platform"]]] += revenue * fee
    rest = revenue * (1.0 - fee)
    if policy.stages == "data_only":
        w = np.tile([0.0, 1.0, 0.0], (n, 1))
    elif policy.stages == "fixed":
        f = policy.fixed_shares
        w = np.tile([float(f.base_model), float(f.fine_tuning), float(f.prompt)], (n, 1))
    else:
        w = np.maximum(nats, 0.0)
    wsum = w.sum(1)
    eligible = wsum > 0
    share = np.divide(w, wsum[:, None], out=np.zeros_like(w), where=eligible[:, None])
    out[:, column[UNALLOCATED_ID]] += np.where(eligible, 0.0, rest)
    out[:, column[stages["base_model"]]] += rest * share[:, 0]
    out[:, column[stages["prompt"]]] += rest * share[:, 2]
    data = rest * share[:, 1]
    positive = np.maximum(values, 0.0)
    psum = positive.sum(1)
    by_value = np.divide(positive, psum[:, None], out=np.zeros_like(positive), where=psum[:, None] > 0)
    out[:, [column[h] for h in holders]] += data[:, None] * by_value
    out[:, column[UNALLOCATED_ID]] += np.where(psum > 0, 0.0, data)
    return out
