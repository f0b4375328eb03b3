"""Proof that a run and its reports were not altered: the manifest of hashes written last by training
(manifest.py, which imports only files, so training can write it), and ``attrib verify`` (verify.py),
which re-derives a report from its run and compares it byte for byte.

May import: reports, money, valuation, posttrain (the run directory, its surveys), sampling, errors, files.
"""
