"""After training: a finished run read and asked for more. The run directory and its reader (rundir.py:
every later command checks what it reads against the manifest), the run prepared as trained from its own
files, not the config's sources (astrained.py), generations valued after training, exactly by re-running
the run's trajectory (replay.py) or approximately from its gradient index (query.py, per sample or per
payee), where each sample's value goes as the run recorded it (payees.py), sums over a run's memory-mapped
tables in bounded memory (aggregate.py), and a period valued by a revenue-weighted sample survey (survey.py).
Valuation, money, reports and audit read runs through here, never through training/.

May import: training (the steps a replay re-runs, the index's layout), inrun, model, data, rights, config,
sampling, money.amounts (revenues are parsed where they are read), audit.manifest, errors, files.
"""
