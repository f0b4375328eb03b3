"""What a step's values for a generation share with the domain, and what is specific to the generation.

A step's values for generation v are ``Φ[z, v] = <u_z, ∇l_v>`` over the step's samples z (path rule:
integrated along the step). The config's reference texts (``data.reference``: held-out text of the domain,
never paid for) are valued in the same step, and their mean, ``ψ[z] = mean_r <u_z, ∇l_r>``, is what each
sample did for general text of the domain. Each generation's column is split by its least-squares
projection on ψ over the step's samples:

    α_v = <Φ[:, v], ψ> / <ψ, ψ>,   shared[z, v] = α_v ψ[z],   specific[z, v] = Φ[z, v] − α_v ψ[z].

In the update space this is the projection of ``∇l_v`` on the reference's mean gradient ``∇l_R`` in the metric
of the step's own updates (``Σ_z u_z u_zᵀ``): the part of the generation's gain the batch would have given
to any text of the domain, in the proportions it gave it to the reference. The two parts add up to the value
exactly (so sums over samples, documents and holders split the same way), the specific part of a step is
uncorrelated with the reference's values over its batch, and a generation that moves with the domain
(``α_v`` large) at a step has that step's credit go to the shared part, whichever samples sat in the batch.

How much general learning a sample gets credit for depends on when it was trained: the first steps teach most of
what any text of the domain gains, so ψ summed over the run rewards the samples that sat in early batches (a matter
of the data-order seed). ``step_shares`` is each sample's positive part of ψ as a fraction of its batch's, so every
step counts the same: summed over the run, it compares a sample with the batches it was trained in, not with the
time it was trained at (a key for paying the shared part as one pool, money/payout.py).
"""

from __future__ import annotations

import numpy as np

REFERENCE_COLUMNS = 2  # what a run keeps per sample (values_reference.npy): Σ ψ and Σ step_shares(ψ)


def split(values: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(shared [n, M], psi [n])`` for one step: ``values`` ``[n, M]`` the generations' values, ``reference``
    ``[n, R]`` the reference texts'. A step whose reference values are all 0 shares nothing."""
    psi = reference.mean(axis=1) if reference.shape[1] else np.zeros(len(reference))
    norm = float(psi @ psi)
    if norm == 0.0:
        return np.zeros_like(values), psi
    alpha = (psi @ values) / norm
    return np.outer(psi, alpha), psi


def step_shares(psi: np.ndarray) -> np.ndarray:
    """Each sample's positive reference value as a fraction of its step's (0 for all when none is positive)."""
    pos = np.maximum(psi, 0.0)
    total = float(pos.sum())
    return pos / total if total > 0 else np.zeros_like(pos)
