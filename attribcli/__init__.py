"""attrib: pay the people whose data trained a generative model.

Pipeline, one subpackage a stage: config → data and rights → inrun (the engine) → training (the run
directory) → valuation → money → reports → audit. Each subpackage's docstring says what it owns and
what it may import; tests/test_layout.py checks it.
"""

__version__ = "0.1.0"
