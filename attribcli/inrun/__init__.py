"""In-Run Data Shapley: per-layer ghost rules and the tracker that applies them at every step."""

from attribcli.inrun.rules import RULES, LayerRule, rule_for
from attribcli.inrun.tracker import GhostTracker

__all__ = ["RULES", "LayerRule", "rule_for", "GhostTracker"]
