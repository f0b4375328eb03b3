"""What people and programs read: table cells (cells.py), the spec every report carries (spec.py), value
tables (tables.py), payout statements (statement.py), a survey's estimated statement (survey.py), Merkle
lines and proofs (merkle.py), plots (plots.py), and one entry point (render.py). Every report is a pure
function of (valuation, spec).

May import: money, valuation, posttrain.survey (a run's surveys, read and checked), rights, config, errors,
files, keys.
"""
