"""After training: what a finished run says and what is asked of it later. Where each sample's value goes,
as the run recorded it (payees.py: its ownership table, aliases resolved, one weighted pair per sample and
payee); sums over a run's memory-mapped tables in bounded memory (aggregate.py); a period's generations
valued by a revenue-weighted sample survey (survey.py: the draw, the exact replay of the sample, the
gradient index summed per payee for every generation).

May import: training (the run directory, its replay and its index), data, rights, config, sampling,
money.amounts (revenues are parsed where they are read), audit.manifest, errors, files.
"""
