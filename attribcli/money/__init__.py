"""Money, in integer minor units: amounts and exact largest-remainder allocation (amounts.py), the payout
of each generation's revenue to stages and payees, floor and cap, escrow claims (payout.py), what is paid
now and carried (settlement.py), a period's money estimated from a survey's sample (survey.py), and the
hash-chained carry-forward ledger (ledger.py). Functions of a ``Valuation`` and a payout policy (and a
survey's draw), never of the run directory.

May import: valuation, rights, errors, files, keys (config and posttrain only for type hints).
"""
