"""The survey's estimators: unbiased for the census over every possible sample, the difference estimator
exact when the index is, and intervals that widen with noise and vanish for a census."""

import numpy as np
import pytest

from attribcli.money.survey import estimate_total
from attribcli.sampling import systematic

REVENUE = [5, 5, 30, 17, 17, 60, 1, 90]


def _population(seed=0):
    rng = np.random.default_rng(seed)
    share = rng.dirichlet(np.ones(3), size=len(REVENUE))  # each generation's money split over 3 payees
    y = share * np.array(REVENUE)[:, None]
    x = y + rng.normal(0, 0.5, y.shape)  # an index: close, not exact
    x -= (x.sum(1) - y.sum(1))[:, None] / 3  # its lines also add up to the revenue
    return y, x


def _every_sample(k):
    total = sum(REVENUE)
    pi = k * np.array(REVENUE) / total
    for start in range(total):  # each start equally likely
        yield np.flatnonzero(systematic(REVENUE, k, start)), pi


@pytest.mark.parametrize("with_index", [False, True])
def test_the_estimators_are_unbiased_over_every_sample_of_the_design(with_index):
    y, x = _population()
    estimates = []
    for drawn, pi in _every_sample(2):
        if with_index:
            est, _ = estimate_total(y[drawn], pi[drawn], x.sum(0), x[drawn])
        else:
            est, _ = estimate_total(y[drawn], pi[drawn])
        estimates.append(est)
        assert est.sum() == pytest.approx(sum(REVENUE))  # each sample's lines add up to the revenue
    np.testing.assert_allclose(np.mean(estimates, axis=0), y.sum(0), rtol=1e-12)


def test_an_exact_index_leaves_nothing_to_estimate_and_a_closer_one_narrows_the_spread():
    y, x = _population()
    for drawn, pi in _every_sample(2):
        est, var = estimate_total(y[drawn], pi[drawn], y.sum(0), y[drawn])
        np.testing.assert_allclose(est, y.sum(0))
        assert np.all(var == 0)
    spread = {}
    for name, aux in (("none", None), ("index", x)):
        ests = [estimate_total(y[d], p[d], *(() if aux is None else (aux.sum(0), aux[d])))[0]
                for d, p in _every_sample(2)]
        spread[name] = np.std(ests, axis=0)
    assert np.all(spread["index"] < spread["none"])


def test_deville_variance_is_zero_for_certain_units_nan_below_two_draws_and_positive_otherwise():
    y = np.array([[1.0, 2.0], [3.0, 1.0], [2.0, 2.0]])
    _, var = estimate_total(y, np.ones(3))
    assert np.all(var == 0)  # π = 1: nothing is left to chance
    _, var = estimate_total(y[:1], np.array([0.3]))
    assert np.all(np.isnan(var))
    _, var = estimate_total(y, np.array([0.3, 0.2, 0.5]))
    assert np.all(var > 0)
    _, var = estimate_total(np.zeros((0, 2)), np.zeros(0))
    assert np.all(var == 0)


@pytest.mark.parametrize("stages, fee", [("measured", 0.0), ("measured", 0.3), ("fixed", 0.1), ("data_only", 0.0)])
def test_the_index_money_is_the_statement_rule_in_real_numbers(stages, fee):
    """generation_money (vectorized, real) stays within a minor unit of pay_generation on every line."""
    from attribcli.config import PayoutConfig, StageShares
    from attribcli.money.payout import pay_generation
    from attribcli.money.survey import generation_money

    policy = PayoutConfig(stages=stages, platform_fee=fee,
                          fixed_shares=StageShares(base_model=0.2, fine_tuning=0.7, prompt=0.1))
    rng = np.random.default_rng(3)
    holders = ["h1", "h2", "h3", "ESCROW"]
    n = 40
    values = rng.normal(0, 1, (n, 4))
    values[5] = -1.0  # no positive value: the data money is unallocated
    nats = rng.normal(0.3, 0.5, (n, 3))
    nats[7] = -0.1  # no stage helped
    revenue = rng.integers(1, 5000, n).astype(float)
    column = {p: j for j, p in enumerate(holders + ["PLATFORM", "BASE_MODEL", "PROMPT_AUTHORS", "UNALLOCATED"])}
    money = generation_money(revenue, values, nats, policy, holders, column)
    np.testing.assert_allclose(money.sum(1), revenue)
    for g in range(n):
        exact = pay_generation(f"g{g}", int(revenue[g]), dict(zip(holders, values[g])),
                               dict(zip(("base_model", "fine_tuning", "prompt"), nats[g])), policy).amounts
        for p, j in column.items():
            assert abs(money[g, j] - exact.get(p, 0)) <= 3, (g, p)  # a unit at each of the three splits
