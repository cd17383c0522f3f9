"""The guard's own session cookie: a client id the guard signed, with the time it was issued.

A session cookie the client names itself proves nothing: a harvester sends a new one with
every request and would count as a new client each time (`clients.py`). So the middleware
gives every client without a valid one its own cookie, `sg_client=id.issued.signature`, an
HMAC under the guard's key over the id and the issue time. The client cannot forge it, nor
back-date it: the issue time is the session's history, and it proves the session once it is
`SESSION_PROOF_SECONDS` old. A browser keeps it and becomes its own client; a client that
drops it gets a fresh, unproven one on every answer and stays its address.

The cookie is not bound to the address: a phone moving between networks keeps its session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from datetime import UTC, datetime
from typing import NamedTuple

CLIENT_COOKIE = "sg_client"
CLIENT_COOKIE_TTL = 30 * 86400
"""Seconds a browser keeps the cookie, and the oldest issue time the guard still accepts."""
_SKEW = 5
"""Seconds of clock difference between gateway nodes tolerated in an issue time."""


class ClientSession(NamedTuple):
    """The session a request is counted under, and the cookie to set with its answer."""

    session: str | None
    since: datetime | None
    """When the guard issued it (None: a session the guard did not sign)."""
    set_cookie: str | None = None
    """A `Set-Cookie` value for a newly issued session."""


class ClientCookies:
    """Issues and checks `sg_client` cookies under one key."""

    def __init__(self, secret: bytes) -> None:
        self._key = hmac.new(secret, b"scrapeguard client v1", hashlib.sha256).digest()

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18]
        return urlsafe_b64encode(mac).decode()

    def read(self, value: str | None, now: float) -> ClientSession | None:
        """The signed session in a cookie value, None when it is missing, forged or stale."""
        if not value or len(value) > 128:
            return None
        parts = value.split(".")
        if len(parts) != 3 or not parts[1].isdigit():
            return None
        body = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(parts[2], self._sign(body)):
            return None
        issued = int(parts[1])
        if not now - CLIENT_COOKIE_TTL <= issued <= now + _SKEW:
            return None
        return ClientSession(parts[0], datetime.fromtimestamp(issued, UTC))

    def issue(self, now: float) -> ClientSession:
        """A fresh session, issued now, with the cookie that hands it to the client."""
        ident = secrets.token_urlsafe(12)
        body = f"{ident}.{int(now)}"
        cookie = (f"{CLIENT_COOKIE}={body}.{self._sign(body)}; Max-Age={CLIENT_COOKIE_TTL}; "
                  "Path=/; HttpOnly; SameSite=Lax")
        return ClientSession(ident, datetime.fromtimestamp(int(now), UTC), cookie)

    def session(self, cookies: dict[str, str], now: float) -> ClientSession:
        """The request's signed session, or a new one to issue with the answer."""
        return self.read(cookies.get(CLIENT_COOKIE), now) or self.issue(now)
