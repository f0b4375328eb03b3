"""Settlement: what a statement pays now and what it carries to the next one (minimum payout, escrow).

A function of the allocated payout and the balances carried in from the ledger, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass

from attribcli.money.payout import Payout, payee_kind


@dataclass
class Settlement:
    """What is paid now and what is carried to the next statement, per payee (minor units).

    ``due = amount + carried_in``; a holder whose due is below the minimum payout is paid nothing now and
    carries it all; the escrow line is never paid, only carried, until its documents are claimed.
    Reconciles: revenue + Σ carried_in = Σ paid + Σ carried_out."""

    minimum: int
    carried_in: dict[str, int]
    paid: dict[str, int]
    carried_out: dict[str, int]

    def due(self, payout: Payout, payee: str) -> int:
        return payout.total(payee) + self.carried_in.get(payee, 0)


def settle(payout: Payout, *, minimum: int = 0, carried_in: dict[str, int] | None = None) -> Settlement:
    carried_in = dict(carried_in or {})
    payees = payout.payees() + [p for p in carried_in if p not in payout.payees()]
    paid, carried_out = {}, {}
    for p in payees:
        due = payout.total(p) + carried_in.get(p, 0)
        kind = payee_kind(p, payout)
        hold = kind == "escrow" or (kind == "holder" and due < minimum)
        paid[p], carried_out[p] = (0, due) if hold else (due, 0)
    s = Settlement(minimum, carried_in, paid, carried_out)
    assert payout.revenue + sum(carried_in.values()) == sum(paid.values()) + sum(carried_out.values())
    return s
