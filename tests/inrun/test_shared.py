"""A step's values split into what the generation shares with the reference texts and what is its own."""

import numpy as np

from attribcli.inrun.shared import split


def test_the_parts_add_up_and_the_specific_part_is_uncorrelated_with_the_reference():
    rng = np.random.default_rng(0)
    values, reference = rng.standard_normal((16, 5)), rng.standard_normal((16, 3))
    shared, psi = split(values, reference)
    assert np.allclose(psi, reference.mean(axis=1))
    specific = values - shared
    assert np.allclose(specific.T @ psi, 0.0)  # the projection's residual: orthogonal to ψ over the batch
    # shared is rank one: every generation's shared column is a multiple of ψ
    alpha = (psi @ values) / (psi @ psi)
    assert np.allclose(shared, np.outer(psi, alpha))


def test_a_generation_that_moves_with_the_domain_is_all_shared_and_one_that_does_not_is_all_specific():
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((8, 4))
    psi = reference.mean(axis=1)
    other = rng.standard_normal(8)
    other -= (other @ psi) / (psi @ psi) * psi  # orthogonal to ψ
    values = np.column_stack([2.5 * psi, other])
    shared, _ = split(values, reference)
    assert np.allclose(shared[:, 0], values[:, 0]) and np.allclose(shared[:, 1], 0.0)


def test_a_step_with_no_reference_value_shares_nothing():
    values = np.arange(6.0).reshape(3, 2)
    shared, psi = split(values, np.zeros((3, 2)))
    assert not shared.any() and not psi.any()
    shared, psi = split(values, np.zeros((3, 0)))
    assert not shared.any() and psi.shape == (3,)
