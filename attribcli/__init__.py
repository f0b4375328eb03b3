"""attrib: pay the people whose data trained a generative model.

Pipeline: config → corpus + rights → training with In-Run Data Shapley tracking → run directory
→ values per holder → exact payouts → verifiable reports. See README.md and DESIGN notes.
"""

__version__ = "0.1.0"
