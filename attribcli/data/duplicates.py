"""Exact duplicate documents: train the text once, share its value equally among the copies, show them.

Two documents with the same text (same SHA-256 of the UTF-8 bytes) are, for In-Run Data Shapley,
two identical players: whatever one adds to a coalition the other adds too, so Shapley's symmetry
axiom gives them equal value. attrib therefore trains the text once (the first trainable copy in
corpus order, so an epoch does not see it twice) and splits that copy's value equally among every
copy the licence policy would have trained, each share going where that copy's own rights say
(its holders by share, escrow, commons, or unallocated). Copies the policy does not train (opted
out, licence) get nothing.

Duplicates under different holders are a rights question attrib cannot settle (who copied whom?):
every group is listed in ``inputs/duplicates.csv`` with its holders, and groups across holders or
with an opted-out copy are flagged there and in the training log. ``data.duplicates: keep`` trains
every copy as given instead (deliberate up-sampling); the report is written either way.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace

from attribcli.data.corpus import Document
from attribcli.rights.licenses import PolicyOutcome


@dataclass(frozen=True)
class Group:
    text_sha256: str
    copies: tuple[str, ...]        # every document with this text, corpus order
    sharing: tuple[str, ...]       # the copies the policy trains: they share the value equally
    holders: tuple[str, ...]       # every holder of any copy, sorted
    opted_out: tuple[str, ...]     # copies whose holders opted out
    across_holders: bool           # the copies do not all have the same owners

    @property
    def kept(self) -> str | None:
        """The copy actually trained (None when the policy trains no copy)."""
        return self.sharing[0] if self.sharing else None


def find(documents: list[Document], outcome: PolicyOutcome) -> list[Group]:
    """Every set of two or more documents with identical text, in corpus order of their first copy."""
    by_hash: dict[str, list[Document]] = {}
    for d in documents:
        by_hash.setdefault(d.text_sha256, []).append(d)
    trained = set(outcome.trained_ids)
    groups = []
    for sha, docs in by_hash.items():
        if len(docs) < 2:
            continue
        groups.append(Group(sha, tuple(d.id for d in docs), tuple(d.id for d in docs if d.id in trained),
                            tuple(sorted({h for d in docs for h, _ in d.holders})),
                            tuple(d.id for d in docs if d.opt_out),
                            len({tuple(h for h, _ in d.holders) for d in docs}) > 1))
    return groups


def deduplicate(outcome: PolicyOutcome, groups: list[Group]) -> tuple[PolicyOutcome, dict[str, str]]:
    """(the outcome with every sharing copy but the kept one no longer trained, copy id → kept id)."""
    duplicate_of = {c: g.kept for g in groups for c in g.sharing[1:]}
    if not duplicate_of:
        return outcome, {}
    decisions = tuple(replace(d, train=False, reason=f"exact duplicate of {duplicate_of[d.id]} (trained once, "
                                                         "value shared equally)") if d.id in duplicate_of else d
                      for d in outcome.decisions)
    return replace(outcome, decisions=decisions), duplicate_of


def report_csv(groups: list[Group], documents: list[Document], outcome: PolicyOutcome) -> str:
    """One row per copy: its group, holders, licence, what happened to it, and the group's flags."""
    meta = {d.id: d for d in documents}
    decision = {d.id: d for d in outcome.decisions}
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["text_sha256", "doc_id", "holders", "license", "status", "group_copies", "group_holders",
                "across_holders", "opted_out_copy"])
    for g in groups:
        for c in g.copies:
            d = meta[c]
            status = ("trained (value shared by the group's trained copies)" if c == g.kept
                      else "not trained again: value shared with " + g.kept if c in g.sharing
                      else "not trained: " + decision[c].reason)
            w.writerow([g.text_sha256, c, ";".join(f"{h}:{s:g}" for h, s in d.holders) or "unknown", d.license,
                        status, len(g.copies), ";".join(g.holders) or "unknown", str(g.across_holders).lower(),
                        str(bool(g.opted_out)).lower()])
    return buf.getvalue()


def summary(groups: list[Group]) -> str | None:
    """The training log's line about duplicates (None when there are none)."""
    if not groups:
        return None
    extra = sum(len(g.copies) - 1 for g in groups)
    across = sum(g.across_holders for g in groups)
    opted = sum(bool(g.opted_out) and bool(g.sharing) for g in groups)
    notes = [f"{across} across holders" if across else "", f"{opted} with an opted-out copy trained through another"
             if opted else ""]
    notes = [n for n in notes if n]
    return (f"exact duplicates: {len(groups)} texts with {extra} extra copies"
            + (f" ({'; '.join(notes)}: a rights question)" if notes else "") + "; see inputs/duplicates.csv")
