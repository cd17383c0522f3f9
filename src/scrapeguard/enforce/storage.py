"""Where the enforcement side keeps its own state: throttle windows and spent challenges.

It is a `limits` storage picked by the same URI as the engine's store, so one `redis://` URL
makes every node share the throttle windows and the set of redeemed challenges, and
`memory://` keeps both in the process. Redis calls get short timeouts: a stalled store must
cost a request a fraction of a millisecond more, not seconds.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from scrapeguard.errors import StoreError

if TYPE_CHECKING:
    from limits.storage import Storage

log = logging.getLogger("scrapeguard.enforce")

MEMORY_SCHEMES = frozenset({"memory"})
REDIS_SCHEMES = frozenset({"redis", "rediss", "redis+unix"})
REDIS_TIMEOUT = 0.25
"""Seconds before a Redis call made by an action gives up (connect and read)."""


def check_uri(uri: str) -> str:
    """The scheme of a store URI, or StoreError naming the ones understood."""
    try:
        scheme = urlsplit(uri).scheme
    except ValueError as exc:  # a broken [IPv6] host
        raise StoreError(f"store {uri!r} is not a URI ({exc})") from None
    if scheme not in MEMORY_SCHEMES | REDIS_SCHEMES:
        known = ", ".join(f"{s}://" for s in sorted(MEMORY_SCHEMES | REDIS_SCHEMES))
        raise StoreError(f"unknown store {uri!r}: use one of {known}")
    return scheme


def limits_storage(uri: str, timeout: float = REDIS_TIMEOUT) -> Storage:
    """The `limits` storage for a store URI; Redis calls give up after `timeout` seconds.
    Errors name the extra to install."""
    scheme = check_uri(uri)
    try:
        from limits.storage import MemoryStorage, RedisStorage
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise StoreError("live enforcement needs `pip install 'scrapeguard[live]'`") from exc
    if scheme in MEMORY_SCHEMES:
        return MemoryStorage()
    # The engine's store reads `?prefix=` off the URL; redis-py would reject it as an option.
    prefix = parse_qs(urlsplit(uri).query).get("prefix", ["sg:"])[0]
    try:
        return RedisStorage(uri.split("?", 1)[0], key_prefix=f"{prefix}limits",
                            wrap_exceptions=True, socket_timeout=timeout,
                            socket_connect_timeout=timeout)
    except Exception as exc:
        raise StoreError(f"cannot use {uri!r} for throttling: {exc}") from exc


class WarnOnce:
    """Logs a store failure the first time it happens, then counts quietly until it recovers.

    A dead store fails on every request; one warning (and one 'recovered' line) says what an
    operator needs, where a warning per request would bury the log.
    """

    def __init__(self, what: str, fail_open: bool = True) -> None:
        self.what = what
        self.mode = "failing open" if fail_open else "failing closed"
        self.failures = 0
        self._down = False

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        if not self._down:
            self._down = True
            log.warning("scrapeguard: %s unavailable (%s); %s", self.what, exc, self.mode)

    def succeeded(self) -> None:
        if self._down:
            self._down = False
            log.warning("scrapeguard: %s available again", self.what)
