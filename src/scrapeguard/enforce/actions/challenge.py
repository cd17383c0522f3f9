"""`challenge`: a proof-of-work page, unless the actor already holds a valid pass.

The work rises with the verdict's score, from the low end of `difficulty` for a weak signal to
the high end for a near-certain one: each extra bit doubles the hashes a client must compute,
which a person pays once per pass and a harvester on many addresses pays on each.
"""

from __future__ import annotations

from scrapeguard.enforce.actions import Toolkit, register
from scrapeguard.enforce.base import Reply, Seen
from scrapeguard.enforce.page import challenge_page
from scrapeguard.enforce.pow import PASS_COOKIE
from scrapeguard.engines.verdict import Verdict


def difficulty(score: float, low: int, high: int) -> int:
    """Leading zero bits asked for a verdict's score (clamped to 0..1)."""
    return low + round((high - low) * min(1.0, max(0.0, score)))


@register("challenge")
class Challenge:
    def __init__(self, toolkit: Toolkit) -> None:
        self._passes = toolkit.passes
        self._clock = toolkit.clock
        self._low, self._high = toolkit.difficulty

    def __call__(self, verdict: Verdict, seen: Seen) -> Reply | None:
        now = self._clock().timestamp()
        if self._passes.check(seen.cookies.get(PASS_COOKIE), seen.ip, seen.ua, now) is None:
            return None
        bits = difficulty(verdict.score, self._low, self._high)
        seed = self._passes.seed(seen.ip, seen.ua, bits, now)
        page = challenge_page(seed, bits, seen.path if seen.method == "GET" else "/")
        return Reply(403, page, content_type="text/html; charset=utf-8",
                     headers=(("x-robots-tag", "noindex"),))
