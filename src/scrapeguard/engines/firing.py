"""A rule holding for an actor, and its explanation in words; shared by both engines.

Kept free of dataframe imports so the stream engine can fire without loading Ibis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scrapeguard.policy.model import Rule
from scrapeguard.types import ActorKind
from scrapeguard.words import plural


@dataclass
class Firing:
    """One rule holding for one actor: when it first held and the feature values then."""

    rule: Rule
    actor: int
    """The actor's key (a 64-bit hash of its text); `decide` resolves the text."""
    kind: ActorKind
    first_ts: datetime
    values: dict[str, float]
    members: dict[str, dict[int, int]] | None = None
    """Member keys by kind (ip/account/session), for fingerprint and campaign actors, each
    with the time (epoch ms) of its first request under the actor."""
    first_eid: int = -1
    """The event at which it first held, by position in the input (the batch engine's
    `eid`): of events stamped alike, what came before it is what the log wrote earlier."""


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def explain(firing: Firing, actor: str) -> str:
    """The rule's explanation template filled with the feature values when it first held."""
    rule = firing.rule
    values: dict[str, Any] = _Defaulting(window=rule.window, actor=actor)
    for name, value in firing.values.items():
        values[name] = int(value) if float(value).is_integer() else value
    template = rule.explain or f"rule {rule.id} held: {rule.when}"
    try:
        return _PLURAL.sub(_pluralise, template.format_map(values))
    except (ValueError, TypeError):
        return f"rule {rule.id} held: {rule.when}"


_PLURAL = re.compile(r"\b(\d+) ((?:[\w'-]+ ){0,3}?)(\w+)\(s\)")
"""A count, up to three words, then `noun(s)` in a template, once filled: `1 client`,
`3 clients`, `1 well-known scanner target`."""


def _pluralise(match: re.Match[str]) -> str:
    count, noun = plural(int(match[1]), match[3]).split(" ", 1)
    return f"{count} {match[2]}{noun}"


