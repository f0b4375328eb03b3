"""Who owns what: rights holders and aliases (holders.py), licences, their classes and the licence policy
(licenses.py), licence ids (spdx.py), and where each trained document's value goes (ownership.py).
The reserved payee ids (ESCROW, COMMONS, UNALLOCATED, ...) are defined once, in holders.py.

May import: errors.
"""
