"""`throttle`: a throttled actor gets `throttle_rate` requests through, the rest a 429.

The window is a `limits` moving window keyed by the actor the verdict named (by keyed hash),
in the shared storage, so an actor spread over several nodes shares one allowance.
`Retry-After` says when the window frees a slot, so a well-behaved client waits instead of
hammering.
"""

from __future__ import annotations

import math
import time

from limits.errors import StorageError
from limits.strategies import MovingWindowRateLimiter

from scrapeguard.enforce.actions import Toolkit, register
from scrapeguard.enforce.base import Reply, Seen
from scrapeguard.enforce.storage import WarnOnce
from scrapeguard.engines.verdict import Verdict

BODY = b"Too many requests: slow down.\n"


@register("throttle")
class Throttle:
    def __init__(self, toolkit: Toolkit) -> None:
        self._limiter = MovingWindowRateLimiter(toolkit.storage)
        self._rate = toolkit.throttle_rate
        self._state_key = toolkit.state_key
        self._fail_open = toolkit.fail_open
        self._health = WarnOnce("throttle storage", toolkit.fail_open)

    def __call__(self, verdict: Verdict, seen: Seen) -> Reply | None:
        # The window lives in the shared storage: keyed by hash, like the engine's state.
        actor = self._state_key(verdict.actor or f"ip:{seen.ip}")
        try:
            if self._limiter.hit(self._rate, "scrapeguard-throttle", actor):
                self._health.succeeded()
                return None
            stats = self._limiter.get_window_stats(self._rate, "scrapeguard-throttle", actor)
            wait = stats.reset_time - time.time()
            self._health.succeeded()
        except StorageError as exc:  # the storage is down (limits wraps the driver's errors)
            self._health.failed(exc)
            if self._fail_open:
                return None
            wait = self._rate.get_expiry()
        retry = max(1, math.ceil(wait))
        return Reply(429, BODY, headers=(("retry-after", str(retry)),))
