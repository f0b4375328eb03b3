"""Money, in integer minor units: amounts and exact largest-remainder allocation (amounts.py), the payout
of each generation's revenue to stages and payees, floor and cap, escrow claims (payout.py), what is paid
now and carried (settlement.py), and the hash-chained carry-forward ledger (ledger.py). Functions of a
``Valuation`` and a payout policy, never of the run directory.

May import: valuation, rights, errors, files, keys (config only for type hints).
"""
