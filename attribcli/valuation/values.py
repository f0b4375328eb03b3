"""From sample values to values per document, holder, licence and generation.

Holder value = Σ over documents of share × document value, and document value = Σ of its samples'
values. Because owner values are plain sums of sample values, splitting an owner into several ids
cannot raise the owner's total. Where a document's value goes is decided at training time by the
licence policy (``pay_to`` in inputs/documents.jsonl): its holders by share (the escrow line when no
holder is known), the commons line (public domain), or the UNALLOCATED line (a licence class the policy
does not pay: valued and reported, never silently given to others).
Values are in nats: the first-order predicted reduction of the generation's completion loss.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from attribcli.posttrain.aggregate import codes, group_sums
from attribcli.posttrain.payees import is_trained, payee_pairs, sample_documents
from attribcli.posttrain.rundir import Run
from attribcli.rights.holders import ESCROW_ID


def generation_ids(run: Run) -> list[str]:
    return [str(g) for g in run.generations["id"]]


def document_values(run: Run) -> pd.DataFrame:
    """``[documents × generations]`` value of every trained document (opted-out ones excluded)."""
    codes_, docs = sample_documents(run)
    trained = set(docs)
    order = [d for d in dict.fromkeys(run.documents["id"].astype(str)) if d in trained]
    position = codes(docs, order)  # category → row of the result
    sums = group_sums(run.values, np.arange(len(codes_)), position[codes_], None, len(order))
    return pd.DataFrame(sums, index=pd.Index(order, name="doc_id"), columns=generation_ids(run))


def holder_values(run: Run, own: pd.DataFrame | None = None, table: np.ndarray | None = None,
                  row_scale: np.ndarray | None = None) -> pd.DataFrame:
    """``[payees × generations]``: every holder in table order, then the escrow line. ``table``: another
    ``[samples × k]`` table than the values (their shared parts, the reference values, an index's rows),
    summed the same way; ``row_scale``: a factor per sample row (a float16 index's row scales).

    Straight from the sample rows (one pair per sample and owner, weighted by share) in one chunked
    pass over the memory-mapped value table: no per-document table in between (posttrain/aggregate.py)."""
    pairs = payee_pairs(run, own)
    table = run.values if table is None else table
    weights = pairs.shares if row_scale is None else pairs.shares * np.asarray(row_scale)[pairs.rows]
    sums = group_sums(table, pairs.rows, pairs.payees, weights, len(pairs.order))
    columns = generation_ids(run) if table.shape[1] == len(run.generations) else None
    return pd.DataFrame(sums, index=pd.Index(pairs.order, name="payee_id"), columns=columns)


def license_values(run: Run, table: np.ndarray | None = None) -> pd.DataFrame:
    """``[licences × generations]`` of the values (or of another ``[samples × generations]`` table)."""
    sample_doc, docs = sample_documents(run)
    lic = dict(zip(run.documents["id"].astype(str), run.documents["license"].astype(str)))
    doc_license = [lic[d] for d in docs]
    order = sorted(set(doc_license))
    sums = group_sums(run.values if table is None else table, np.arange(len(sample_doc)),
                      codes(doc_license, order)[sample_doc], None, len(order))
    return pd.DataFrame(sums, index=pd.Index(order, name="license"), columns=generation_ids(run))


def efficiency(run: Run) -> pd.DataFrame:
    """Per generation: Σ values vs the realised loss reduction over the run, and the gap."""
    cols = ["generation_id", "loss_reference", "loss_base", "loss_final", "realised_reduction",
            "value_sum", "efficiency_gap", "relative_gap"]
    cols += [c for c in ("step_pearson", "steps_misvalued") if c in run.losses]  # runs since per-step fidelity
    return run.losses[cols].copy()


def excluded_documents(run: Run) -> pd.DataFrame:
    """Documents not trained on (opted out, or a licence class the policy does not train), with why."""
    d = run.documents
    trained = d.apply(lambda r: is_trained(r.to_dict()), axis=1)
    out = d[~trained][["id", "holders", "license", "source"]].copy()
    out["reason"] = d[~trained]["reason"] if "reason" in d else "opted out"
    return out


def escrow_documents(run: Run) -> pd.DataFrame:
    """Documents with no known holder whose value goes to escrow: trained ones, and exact duplicates
    sharing a trained copy's value (duplicates.py)."""
    d = run.documents
    trained = d.apply(lambda r: is_trained(r.to_dict()), axis=1)
    if "duplicate_of" in d:
        trained = trained | d["duplicate_of"].map(lambda c: isinstance(c, str))
    pay = d["pay_to"] if "pay_to" in d else pd.Series("holders", index=d.index)
    mask = trained & pay.eq("holders") & d["holders"].map(len).eq(0)
    return d[mask][["id", "license", "source"]]


def value_sources(run: Run, doc_ids) -> dict[str, tuple[str, float]]:
    """doc id → (the document whose samples carry its value, its share of that value): itself and 1 for
    a document trained alone; the trained copy and 1/copies for an exact duplicate (duplicates.py)."""
    d = run.documents
    copy_of = dict(zip(d["id"].astype(str), d["duplicate_of"])) if "duplicate_of" in d else {}
    copy_of = {k: v for k, v in copy_of.items() if isinstance(v, str)}
    sharers = Counter(copy_of.values())
    out = {}
    for doc in doc_ids:
        target = copy_of.get(doc, doc)
        out[doc] = (target, 1.0 / (1 + sharers.get(target, 0)))
    return out


def holder_of_documents(run: Run) -> dict[str, str]:
    """doc id → 'h01' or 'h01 0.5 + h04 0.5' or ESCROW, for the reports."""
    out = {}
    for doc in run.documents.itertuples(index=False):
        hs = list(doc.holders)
        out[str(doc.id)] = (ESCROW_ID if not hs else hs[0]["id"] if len(hs) == 1
                            else " + ".join(f"{h['id']} {h['share']:g}" for h in hs))
    return out


def top_documents(docs: pd.DataFrame, gen: str, k: int = 3) -> list[tuple[str, float]]:
    """The k documents of ``document_values(run)`` with the highest value for ``gen``."""
    col = docs[gen]
    top = col.sort_values(ascending=False, kind="mergesort").head(k)
    return [(str(i), float(v)) for i, v in top.items()]

