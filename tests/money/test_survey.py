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
