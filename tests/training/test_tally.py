"""The memory-mapped value tally: a resume restores the table of the checkpoint bit for bit."""

import numpy as np

from attribcli.training.tally import Tally


def _steps(rng, n, M, k):
    return [(s, rng.permutation(n)[:4], rng.standard_normal((4, M)), rng.standard_normal((4, M)))
            for s in range(1, k + 1)]


def test_resume_undoes_every_step_after_the_checkpoint_exactly(tmp_path):
    rng = np.random.default_rng(0)
    n, M = 9, 3
    steps = _steps(rng, n, M, 7)  # rows overlap between steps: a row changed twice is restored to its first value
    t = Tally.create(tmp_path, n, M, np.ones(M))
    for s, idx, a, b in steps[:4]:
        t.add(s, idx, a, b)
    state = t.checkpoint_state()
    want_first, want_second = np.array(t.first), np.array(t.second)
    t.committed()
    for s, idx, a, b in steps[4:]:
        t.add(s, idx, a, b)
    t.close()  # killed here: steps 5-7 are in the files
    assert not np.array_equal(np.load(tmp_path / "tally/first-0.npy"), want_first)
    back = Tally.resume(tmp_path, state, 4)
    assert np.array_equal(back.first, want_first) and np.array_equal(back.second, want_second)
    assert (tmp_path / "tally/journal.bin").stat().st_size == 0
    # continuing gives what an uninterrupted tally gives, to the last bit
    for s, idx, a, b in steps[4:]:
        back.add(s, idx, a, b)
    whole = Tally.create(tmp_path / "whole", n, M, np.ones(M))
    for s, idx, a, b in steps:
        whole.add(s, idx, a, b)
    assert np.array_equal(back.first, whole.first) and np.array_equal(back.second, whole.second)
    assert np.array_equal(back.seen, whole.seen)  # seen: from the checkpoint, then the replayed steps


def test_a_torn_journal_tail_is_ignored_and_values_are_written_with_their_parts(tmp_path):
    rng = np.random.default_rng(1)
    t = Tally.create(tmp_path, 5, 2, np.zeros(2))
    state = t.checkpoint_state()
    t.committed()
    t.add(1, np.array([0, 3]), rng.standard_normal((2, 2)), None)
    t.close()
    with open(tmp_path / "tally/journal.bin", "ab") as fh:
        fh.write(np.array([2, 5], dtype=np.int64).tobytes() + b"\x00" * 10)  # a record cut short by a kill
    back = Tally.resume(tmp_path, state, 0)
    assert not back.first.any()
    back.add(1, np.array([1]), np.full((1, 2), 2.0), np.full((1, 2), 0.5))
    f, s = back.write_values(tmp_path, order=2)
    assert f.tolist() == [2.0, 2.0] and s.tolist() == [0.5, 0.5]
    assert np.load(tmp_path / "values.npy")[1].tolist() == [2.5, 2.5]
    assert np.load(tmp_path / "values_order2.npy")[1].tolist() == [0.5, 0.5]
    back.remove()
    assert not (tmp_path / "tally").exists() and np.load(tmp_path / "values_order1.npy")[1].tolist() == [2.0, 2.0]


def test_shared_parts_are_journaled_folded_and_written_like_the_values(tmp_path):
    from attribcli.inrun.shared import split

    rng = np.random.default_rng(2)
    n, M = 9, 3
    steps = [(s, rng.permutation(n)[:4], rng.standard_normal((4, M)), rng.standard_normal((4, 2)))
             for s in range(1, 8)]
    t = Tally.create(tmp_path, n, M, np.ones(M), parts=True)
    for s, idx, a, ref in steps[:2]:
        t.add(s, idx, a, None, ref)
    t.next_segment()  # a segment boundary (always a checkpoint, as in training)
    for s, idx, a, ref in steps[2:4]:
        t.add(s, idx, a, None, ref)
    state = t.checkpoint_state()
    t.committed()
    for s, idx, a, ref in steps[4:]:
        t.add(s, idx, a, None, ref)
    t.close()
    back = Tally.resume(tmp_path, state, 4)
    for s, idx, a, ref in steps[4:]:
        back.add(s, idx, a, None, ref)
    back.write_values(tmp_path, order=1)
    want_shared, want_psi, want, want_step = np.zeros((n, M)), np.zeros(n), np.zeros((n, M)), np.zeros(n)
    for _, idx, a, ref in steps:
        sh, psi = split(a, ref)
        want_shared[idx] += sh
        want_psi[idx] += psi
        want_step[idx] += np.maximum(psi, 0) / np.maximum(psi, 0).sum()
        want[idx] += a
    assert np.allclose(np.load(tmp_path / "values.npy"), want)
    assert np.allclose(np.load(tmp_path / "values_shared.npy"), want_shared)
    assert np.allclose(np.load(tmp_path / "values_reference.npy"), np.column_stack([want_psi, want_step]))
    assert np.load(tmp_path / "values_shared.npy").any()
