"""Which rules the batch engine judges together, kept apart from `batch.py` (Ibis) so that
an analysis of an empty log can say what those rules were calibrated with without it."""

from __future__ import annotations

from collections import defaultdict

from scrapeguard.policy.expr import Percentile, parse
from scrapeguard.policy.model import Policy, Rule
from scrapeguard.types import ActorKind

GroupKey = tuple[ActorKind, int, tuple[str, ...], int]
"""(actor kind, window seconds, campaign links, phase offset in seconds)."""


def rule_groups(policy: Policy) -> list[tuple[GroupKey, list[Rule]]]:
    """The active rules by (kind, window, links, phase), in the order the engine judges them:
    one replay per group, and the first phase's percentiles serve the later phases."""
    groups: dict[GroupKey, list[Rule]] = defaultdict(list)
    for rule in policy.active_rules():
        links: tuple[str, ...] = tuple(sorted(rule.links)) if rule.kind == "campaign" else ()
        for offset in rule.phases:
            groups[(rule.kind, rule.window_seconds, links, offset)].append(rule)
    return sorted(groups.items())


def unmeasured_percentiles(policy: Policy) -> dict[str, dict[Percentile, float]]:
    """rule id → percentile → 0.0 for every rule whose condition reads one: what the batch
    engine measures over no (actor, window) group at all (`batch._calibrate`)."""
    out: dict[str, dict[Percentile, float]] = {}
    for (_, _, _, offset), rules in rule_groups(policy):
        for rule in rules:
            used = parse(rule.when).percentiles
            if offset == 0 and used:
                out[rule.id] = dict.fromkeys(used, 0.0)
    return out
