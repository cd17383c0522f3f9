"""`decoy`: the app's decoy hook answers, with made-up records that carry canaries.

A harvester that is served plausible fakes keeps going and spreads canaries that later prove
where a leaked dataset came from; one that is refused just moves to another address. Without
a hook there is nothing plausible to serve, so the actor is challenged instead.
"""

from __future__ import annotations

from scrapeguard.enforce.actions import REGISTRY, Toolkit, register
from scrapeguard.enforce.base import DECOY, Outcome, Seen
from scrapeguard.engines.verdict import Verdict


@register("decoy")
class DecoyAction:
    def __init__(self, toolkit: Toolkit) -> None:
        self._has_hook = toolkit.has_decoy
        self._fallback = REGISTRY["challenge"](toolkit)

    def __call__(self, verdict: Verdict, seen: Seen) -> Outcome:
        if self._has_hook:
            return DECOY
        return self._fallback(verdict, seen)
