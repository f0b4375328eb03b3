"""In-Run Data Shapley, the engine: one rule per layer type (rules.py, hf_rules.py), the tracker that
captures each layer's inputs and output gradients and applies the rules (tracker.py), which part of an
optimizer's update belongs to which sample (optim.py), and one tracked optimizer step (step.py).

It knows no config file, no corpus and no model of attrib's: it is handed a torch model, a loss callable
(per-sequence losses) and plain hyperparameters, so any causal LM can be valued with it.

May import: nothing of attribcli outside inrun.
"""

from attribcli.inrun.rules import RULES, LayerRule, rule_for
from attribcli.inrun.tracker import GhostTracker

__all__ = ["RULES", "LayerRule", "rule_for", "GhostTracker"]
