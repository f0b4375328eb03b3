"""The survey's draw: exactly K generations, each with exactly its revenue-proportional probability, the same
on every machine from the same seed."""

import numpy as np
import pytest

from attribcli.sampling import draw, systematic

REVENUE = [1000, 5, 5, 30, 0, 200, 17, 17, 60, 1, 400, 90]
IDS = [f"g{i:02d}" for i in range(len(REVENUE))]


def test_every_integer_start_draws_k_units_and_each_unit_exactly_k_times_its_revenue():
    revenue = [5, 5, 30, 17, 17, 60, 1, 90]
    k, total = 2, sum(revenue)  # every k·R below ΣR: none would be certain
    counts = np.zeros(len(revenue), dtype=int)
    for start in range(total):
        hits = systematic(revenue, k, start)
        assert hits.sum() == k
        counts += hits
    assert counts.tolist() == [k * r for r in revenue]  # π_g = k·R_g / ΣR, exactly


def test_certain_generations_zero_revenue_and_the_inclusion_probabilities():
    d = draw(IDS, REVENUE, 5, seed=0)
    assert d.selected.sum() == 5 and d.certain.tolist() == [r in (1000, 400, 200) for r in REVENUE]
    pi = d.inclusion()
    assert pi[4] == 0 and not d.selected[4]  # revenue 0: never drawn
    rest = ~d.certain
    assert pi[rest].sum() == pytest.approx(2) and d.rest_k == 2 and d.rest_revenue == sum(REVENUE) - 1600
    np.testing.assert_allclose(pi[rest], 2 * np.array(REVENUE)[rest] / d.rest_revenue)
    assert np.all(d.selected[d.certain])


def test_the_draw_over_many_seeds_has_the_design_probabilities():
    counts = np.zeros(len(REVENUE))
    for seed in range(2000):
        counts += draw(IDS, REVENUE, 5, seed).selected
    np.testing.assert_allclose(counts / 2000, draw(IDS, REVENUE, 5, 0).inclusion(), atol=0.03)


def test_same_seed_same_sample_another_seed_another_and_a_census():
    a, b = draw(IDS, REVENUE, 6, 11), draw(IDS, REVENUE, 6, 11)
    assert a.selected.tolist() == b.selected.tolist()
    assert any(draw(IDS, REVENUE, 6, s).selected.tolist() != a.selected.tolist() for s in range(12, 20))
    census = draw(IDS, REVENUE, 11, 3)  # 11 generations have revenue
    assert census.census and census.selected.tolist() == [r > 0 for r in REVENUE]
    assert draw(IDS, REVENUE, 50, 3).selected.tolist() == census.selected.tolist()
    assert not a.census


def test_the_order_does_not_depend_on_where_a_generation_sits_in_the_file():
    reordered = draw(IDS[::-1], REVENUE[::-1], 6, 11)
    forward = draw(IDS, REVENUE, 6, 11)
    assert dict(zip(reordered.ids, reordered.selected)) == dict(zip(forward.ids, forward.selected))


@pytest.mark.parametrize("ids, revenue, k", [(["a", "a"], [1, 2], 1), (["a"], [1, 2], 1), (["a"], [-1], 1),
                                             (["a"], [1], 0)])
def test_bad_designs_are_refused(ids, revenue, k):
    with pytest.raises(ValueError):
        draw(ids, revenue, k, 0)
