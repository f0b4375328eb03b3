"""Chunked group sums over a (memory-mapped) value table equal the plain sums, in any chunk size."""

import warnings

import numpy as np
import pandas as pd
import pytest
from numpy.lib.format import open_memmap

from attribcli.posttrain.aggregate import codes, group_sums


def _brute(values, rows, groups, weights, n_groups):
    out = np.zeros((n_groups, values.shape[1]))
    for r, g, w in zip(rows, groups, weights if weights is not None else np.ones(len(rows))):
        out[g] += w * values[r]
    return out


@pytest.mark.parametrize("chunk_bytes", [8, 8 * 3 * 5, 1 << 20])
def test_group_sums_equal_brute_force_with_co_owned_rows_and_gaps(tmp_path, chunk_bytes):
    rng = np.random.default_rng(0)
    values = open_memmap(tmp_path / "v.npy", mode="w+", dtype=np.float64, shape=(23, 3))
    values[:] = rng.standard_normal((23, 3))
    # rows 4 and 9 have two owners each, row 17 none (a sample of an untrained document)
    rows = np.array([r for r in range(23) if r != 17] + [4, 9])
    rows.sort(kind="stable")
    groups = rng.integers(0, 5, len(rows))
    weights = rng.random(len(rows))
    got = group_sums(np.load(tmp_path / "v.npy", mmap_mode="r"), rows, groups, weights, 5, chunk_bytes=chunk_bytes)
    np.testing.assert_allclose(got, _brute(values, rows, groups, weights, 5), rtol=1e-13, atol=1e-14)


def test_one_pair_per_row_uses_the_block_as_is_and_unweighted_sums():
    values = np.arange(12, dtype=np.float64).reshape(6, 2)
    got = group_sums(values, np.arange(6), np.array([0, 1, 0, 1, 2, 2]), None, 3, chunk_bytes=32)
    np.testing.assert_array_equal(got, [[0 + 4, 1 + 5], [2 + 6, 3 + 7], [8 + 10, 9 + 11]])


def test_read_only_tables_are_summed_without_a_warning():
    values = np.arange(12, dtype=np.float64).reshape(6, 2)
    groups = np.array([0, 1, 0, 1, 2, 2])
    values.flags.writeable = groups.flags.writeable = False  # as a run's table is handed out
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = group_sums(values, np.arange(6), groups, None, 3)
    np.testing.assert_array_equal(got, [[4, 6], [8, 10], [18, 20]])


def test_group_sums_are_bit_for_bit_repeatable_and_refuse_unsorted_pairs():
    rng = np.random.default_rng(1)
    values = rng.standard_normal((1000, 4))
    groups, w = rng.integers(0, 7, 1000), rng.random(1000)
    first = group_sums(values, np.arange(1000), groups, w, 7, chunk_bytes=256)
    assert np.array_equal(first, group_sums(values, np.arange(1000), groups, w, 7, chunk_bytes=256))
    with pytest.raises(ValueError, match="sorted"):
        group_sums(values, np.array([1, 0]), np.array([0, 0]), None, 1)


def test_codes_follow_the_given_order_and_refuse_strangers():
    assert codes(pd.Series(["b", "a", "b"]), ["a", "b"]).tolist() == [1, 0, 1]
    with pytest.raises(KeyError):
        codes(["z"], ["a"])
