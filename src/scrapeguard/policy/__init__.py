"""The rule pack: policy model, loading with located errors, and the default pack."""

from scrapeguard.policy.model import Policy, Route, Rule

__all__ = ["Policy", "Route", "Rule"]
