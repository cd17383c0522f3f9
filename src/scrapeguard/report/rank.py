"""The order acted-on actors are listed in, shared by the terminal and the JSON summary."""

from __future__ import annotations

from collections.abc import Iterable

from scrapeguard.decisions import Decision
from scrapeguard.types import Action, action_rank


def by_harm(decisions: Iterable[Decision]) -> list[Decision]:
    """Acted-on actors, most people's records received first. Ties (on a log without
    personal-data routes every actor ties at none) go to the strongest action, then the
    busiest actor, then the one more rules caught, so a block is not buried under challenges
    listed by address; the actor key last keeps the order stable."""
    return sorted(
        (d for d in decisions if d.action != "allow"),
        key=lambda d: harm_order(d.subjects, d.action, d.requests, len(d.rules), d.actor),
    )


def harm_order(subjects: int, action: Action, requests: int, rules: int,
               actor: str) -> tuple[int, int, int, int, str]:
    """The sort key of `by_harm`, for lists of decisions kept as JSON (the dashboard): one
    order wherever actors are ranked, so the terminal's first actor is the report's A1 and
    the dashboard's top row."""
    return (-subjects, -action_rank(action), -requests, -rules, actor)


def order_words(ranked: list[Decision]) -> str:
    """How the list is ordered, in words for its heading."""
    if ranked and not any(d.subjects for d in ranked):
        return "none received records; by action, then requests"
    return "by records received"
