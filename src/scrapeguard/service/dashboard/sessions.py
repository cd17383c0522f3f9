"""Dashboard logins: the admin token once, then a session cookie and a CSRF token.

The token is typed once into a form and never kept in the browser; the cookie names a random
session held in this process's memory (a restart logs everyone out, which is the safe side),
is HttpOnly (no script reads it) and SameSite=Strict (no other site's page sends it). Every
form that changes something carries the session's CSRF token, compared in constant time, so
a request forged from elsewhere fails even where SameSite is not honoured.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

COOKIE = "sg_dashboard"
LIFETIME_SECONDS = 8 * 3600
MAX_SESSIONS = 1000


@dataclass(frozen=True)
class Login:
    csrf: str
    expires: float


def token_matches(given: str, token: str | None) -> bool:
    """Whether `given` is the admin token; an unset token matches nothing."""
    return bool(token) and hmac.compare_digest(given.encode(), str(token).encode())


class Sessions:
    """Logged-in sessions by cookie value; the oldest go first past `MAX_SESSIONS`."""

    def __init__(self, lifetime: float = LIFETIME_SECONDS) -> None:
        self.lifetime = lifetime
        self._logins: OrderedDict[str, Login] = OrderedDict()
        self._lock = threading.Lock()

    def start(self) -> tuple[str, Login]:
        key = secrets.token_urlsafe(32)
        login = Login(csrf=secrets.token_urlsafe(32), expires=time.time() + self.lifetime)
        with self._lock:
            self._logins[key] = login
            while len(self._logins) > MAX_SESSIONS:
                self._logins.popitem(last=False)
        return key, login

    def get(self, key: str | None) -> Login | None:
        if not key:
            return None
        with self._lock:
            login = self._logins.get(key)
            if login is not None and login.expires < time.time():
                del self._logins[key]
                return None
            return login

    def end(self, key: str | None) -> None:
        with self._lock:
            self._logins.pop(key or "", None)


def csrf_ok(login: Login, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), login.csrf.encode())
