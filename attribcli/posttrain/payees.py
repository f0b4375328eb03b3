"""Where each training sample's value goes, as the run recorded it.

The ownership table training wrote (``inputs/ownership.csv``: document, holder or ESCROW / COMMONS /
UNALLOCATED, share), aliases resolved to the payee they are paid under, and from it one weighted pair per
sample and payee (``payee_pairs``), so any ``[samples × k]`` table (values, their parts, an index's rows) sums
to payees in one chunked pass (valuation/values.py, the survey's payee-level index in survey.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from attribcli.posttrain.aggregate import codes
from attribcli.posttrain.rundir import Run
from attribcli.rights.holders import COMMONS_ID, ESCROW_ID, UNALLOCATED_ID, alias_roots
from attribcli.rights.ownership import rights_rows


@dataclass(frozen=True)
class PayeePairs:
    """``Σ shares[k] · table[rows[k]]`` into ``payees[k]`` sums a sample table to ``order`` (rows sorted)."""

    rows: np.ndarray      # int64 sample row
    payees: np.ndarray    # int64 position in order
    shares: np.ndarray    # float64 ownership share
    order: list[str]      # payee ids


def sample_documents(run: Run) -> tuple[np.ndarray, list[str]]:
    """(each sample's document as a code, the documents those codes name): integers per sample rather
    than 10 million strings."""
    col = run.samples["doc_id"]
    cat = col.cat if isinstance(col.dtype, pd.CategoricalDtype) else pd.Categorical(col.astype(str))
    return np.asarray(cat.codes, dtype=np.int64), [str(c) for c in cat.categories]


def ownership(run: Run) -> pd.DataFrame:
    """Long table (doc_id, payee_id, share): the rights mapping, escrow for unknown owners, aliases
    resolved. Read from ``inputs/ownership.csv`` (written by training); runs made before it existed are
    mapped from their documents' metadata."""
    payee = payee_of(run)
    path = run.path / "inputs/ownership.csv"
    if path.is_file():
        t = pd.read_csv(path, dtype={"doc_id": str, "holder_id": str}, keep_default_na=False)
        payees = t["holder_id"].map(payee).fillna(t["holder_id"]) if payee else t["holder_id"]
        return pd.DataFrame({"doc_id": t["doc_id"], "payee_id": payees.astype(str), "share": t["share"].astype(float)})
    d = run.documents
    n = len(d)  # columns as lists: iterating pandas Series element by element is 5x slower
    trained = d["trained"].tolist() if "trained" in d else [None] * n
    pay_to = d["pay_to"].tolist() if "pay_to" in d else ["holders"] * n
    copies = d["duplicate_of"].tolist() if "duplicate_of" in d else [None] * n
    rows = rights_rows(
        (doc_id, [(h["id"], h["share"]) for h in holders], is_trained({"trained": t, "opt_out": o}), pay,
         c if isinstance(c, str) else None)
        for doc_id, holders, o, t, pay, c in zip(d["id"].astype(str).tolist(), d["holders"].tolist(),
                                                 d["opt_out"].tolist(), trained, pay_to, copies))
    return pd.DataFrame([(doc, payee.get(h, h), w) for doc, h, w in rows], columns=["doc_id", "payee_id", "share"])


def payee_of(run: Run) -> dict[str, str]:
    """holder id → payee id, resolving aliases (``alias_of`` in the holders table)."""
    if "alias_of" not in run.holders:
        return {}
    return alias_roots(dict(zip(run.holders["holder_id"].astype(str), run.holders["alias_of"].astype(str))),
                       str(run.path / "inputs/holders.csv"))


def merged_holders(run: Run) -> list[tuple[str, str]]:
    """(alias id, payee id) for every holder paid under another id."""
    return [(h, p) for h, p in payee_of(run).items() if h != p]


def is_trained(doc: dict) -> bool:
    """Whether a document was trained on: its ``trained`` column, or (runs made before it) not opted out."""
    trained = doc.get("trained")
    return bool(not doc["opt_out"] if trained is None or trained != trained else trained)  # NaN: column absent


def payee_order(run: Run, own: pd.DataFrame) -> list[str]:
    """Holders in table order, then escrow, then commons / not-payable lines when ``own`` (the run's
    ownership table) has any."""
    used, aliases = set(own["payee_id"]), dict(merged_holders(run))
    return [str(h) for h in run.holders["holder_id"] if str(h) not in aliases] + [ESCROW_ID] + [
        p for p in (COMMONS_ID, UNALLOCATED_ID) if p in used]


def payee_pairs(run: Run, own: pd.DataFrame | None = None) -> PayeePairs:
    """One pair per sample and owner of its document (``own``: the run's ownership table, read if None),
    sorted by sample."""
    own = ownership(run) if own is None else own
    order = payee_order(run, own)
    sample_doc, docs = sample_documents(run)
    own_doc = pd.Index(docs).get_indexer(own["doc_id"])
    keep = own_doc >= 0                                   # documents with samples
    by_doc = np.argsort(own_doc[keep], kind="stable")     # ownership rows grouped by document, in order
    own_payee = codes(own["payee_id"].to_numpy()[keep], order)[by_doc]
    own_share = own["share"].to_numpy()[keep][by_doc]
    per_doc = np.bincount(own_doc[keep], minlength=len(docs))
    first = np.concatenate([[0], np.cumsum(per_doc)[:-1]])
    reps = per_doc[sample_doc]                            # pairs per sample: its document's owners
    rows = np.repeat(np.arange(len(sample_doc)), reps)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(reps) - reps, reps)
    pick = np.repeat(first[sample_doc], reps) + within
    return PayeePairs(rows, own_payee[pick].astype(np.int64), own_share[pick].astype(np.float64), order)
