"""Settlement: holders owed less than the minimum are carried, escrow is always carried, and every
statement reconciles: revenue + carried in = paid now + carried forward."""

from attribcli.money.payout import GenerationPayout, Payout
from attribcli.money.settlement import settle


def _payout(amounts: dict[str, int]) -> Payout:
    g = GenerationPayout("g1", sum(amounts.values()), {p: 1.0 for p in amounts}, dict(amounts))
    return Payout("USD", "total", sum(amounts.values()), [g])


def test_below_the_minimum_is_carried_and_escrow_is_never_paid():
    s = settle(_payout({"h1": 900, "h2": 300, "ESCROW": 50}), minimum=500)
    assert s.paid == {"h1": 900, "h2": 0, "ESCROW": 0}
    assert s.carried_out == {"h1": 0, "h2": 300, "ESCROW": 50}


def test_what_was_carried_in_counts_towards_the_minimum():
    s = settle(_payout({"h1": 900, "h2": 300}), minimum=500, carried_in={"h2": 250, "h3": 10})
    assert s.paid["h2"] == 550 and s.carried_out["h2"] == 0
    assert s.carried_out["h3"] == 10  # a holder with nothing new still carries what it had
    assert 1200 + 260 == sum(s.paid.values()) + sum(s.carried_out.values())


def test_no_minimum_pays_every_holder_everything_due():
    s = settle(_payout({"h1": 1, "h2": 0}))
    assert s.paid == {"h1": 1, "h2": 0} and not any(s.carried_out.values())
