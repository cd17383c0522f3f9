"""`block`: a short 403. Says what happened, not why: reasons would teach a harvester the rules."""

from __future__ import annotations

from scrapeguard.enforce.actions import Toolkit, register
from scrapeguard.enforce.base import Reply, Seen
from scrapeguard.engines.verdict import Verdict

BODY = b"Access denied: this client is making automated requests for personal data.\n"


@register("block")
class Block:
    def __init__(self, toolkit: Toolkit) -> None:
        self._reply = Reply(403, BODY)

    def __call__(self, verdict: Verdict, seen: Seen) -> Reply:
        return self._reply
