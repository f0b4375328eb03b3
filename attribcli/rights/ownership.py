"""Where a trained document's value goes: its holders by share, escrow, the commons, or unallocated.

Decided once, at training time (written to ``inputs/ownership.csv``), from the licence policy's verdict
and the exact-duplicate groups; valuation sums sample values by these rows and nothing else.
"""

from __future__ import annotations

from collections import Counter

from attribcli.rights.holders import COMMONS_ID, ESCROW_ID, UNALLOCATED_ID


def rights_rows(documents) -> list[tuple[str, str, float]]:
    """(document whose samples carry the value, holder id or ESCROW / COMMONS / UNALLOCATED, share) for
    ``documents`` given as (id, [(holder, share)], trained, pay_to, duplicate_of or None).

    A trained document pays its holders by share (escrow when it has none), the commons line or the
    unallocated line, as the licence policy decided; an exact duplicate not trained again shares its
    copy's value equally (duplicates.py), each share paid by its own rights."""
    docs = list(documents)
    sharers = Counter(of for *_, of in docs if of)
    rows = []
    for doc_id, holders, trained, pay, of in docs:
        target = of or (doc_id if trained else None)
        if target is None:
            continue
        weight = 1.0 / (1 + sharers.get(target, 0))
        if pay == "commons":
            rows.append((target, COMMONS_ID, weight))
        elif pay == "none":
            rows.append((target, UNALLOCATED_ID, weight))
        elif not holders:
            rows.append((target, ESCROW_ID, weight))
        else:
            rows.extend((target, h, float(share) * weight) for h, share in holders)
    return rows
