"""The order acted-on actors are listed in, shared by the terminal and the JSON summary."""

from __future__ import annotations

from collections.abc import Iterable

from scrapeguard.decisions import Decision
from scrapeguard.types import action_rank


def by_harm(decisions: Iterable[Decision]) -> list[Decision]:
    """Acted-on actors, most people's records received first. Ties (on a log without
    personal-data routes every actor ties at none) go to the strongest action, then the
    busiest actor, then the one more rules caught, so a block is not buried under challenges
    listed by address; the actor key last keeps the order stable."""
    return sorted(
        (d for d in decisions if d.action != "allow"),
        key=lambda d: (-d.subjects, -action_rank(d.action), -d.requests, -len(d.rules),
                       d.actor),
    )


def order_words(ranked: list[Decision]) -> str:
    """How the list is ordered, in words for its heading."""
    if ranked and not any(d.subjects for d in ranked):
        return "none received records; by action, then requests"
    return "by records received"
