"""From sample values to values per document, holder, licence and generation: the run read once into a
``Valuation`` (valuation.py) that every later stage is handed; the sums themselves (values.py), each one
chunked pass over the memory-mapped value table (posttrain/aggregate.py).

May import: rights, posttrain.rundir (a finished run directory), posttrain.payees (where its samples' value
goes), posttrain.aggregate (sums over a run's tables), errors, files.
"""
