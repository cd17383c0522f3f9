"""The pieces every adapter and action shares: what was seen, what to answer, the engine's shape.

ASGI and WSGI differ only in how they read a request and write a response, so the decision in
between speaks in plain values: a `Seen` request in, a `Reply` (or `DECOY`, or None to let the
request through) out. Each action is one small registered `Enforcer`, so adding an action
touches one module and one test.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from scrapeguard.engines.verdict import Request, Verdict
from scrapeguard.errors import ScrapeGuardError


class Engine(Protocol):
    """What the middleware needs of `engines.stream.StreamEngine` (and of a test double)."""

    def check(self, request: Request) -> Verdict: ...

    def record(self, event: dict[str, Any]) -> Sequence[Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Seen:
    """One request as the middleware read it, before the app runs."""

    ip: str
    method: str
    path: str
    """With the query string, as logs keep it."""
    started: datetime
    ua: str | None = None
    referer: str | None = None
    account: str | None = None
    session: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    cookies: dict[str, str] = field(default_factory=dict)
    session_since: datetime | None = None
    """When the guard issued `session` (its signed cookie); None for an app's session."""
    set_cookie: str | None = None
    """The guard's new session cookie, set on whatever answer the request gets."""
    hdr: str | None = None
    """The header shape (`clientshape.shape`)."""
    tls: str | None = None
    """The TLS fingerprint, when a trusted proxy passed one (`Guard.stack`)."""

    def request(self) -> Request:
        return Request(ip=self.ip, path=self.path, method=self.method, ua=self.ua,
                       referer=self.referer, account=self.account, session=self.session,
                       headers=self.headers, hdr=self.hdr, tls=self.tls)


@dataclass(frozen=True)
class Reply:
    """A complete refusal response; adapters send it as it is."""

    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    def all_headers(self) -> list[tuple[str, str]]:
        return [("content-type", self.content_type), ("content-length", str(len(self.body))),
                ("cache-control", "no-store"), *self.headers]


class Decoy(Enum):
    """Hand the request to the app's decoy hook; only adapters know how to call it."""

    DECOY = "decoy"


DECOY = Decoy.DECOY

Outcome = Reply | Decoy | None
"""None lets the request through to the app."""


class Enforcer(Protocol):
    """Turns a verdict of one action into a response, or lets the request through."""

    def __call__(self, verdict: Verdict, seen: Seen) -> Outcome: ...


def takes_arguments(fn: Callable[..., Any], count: int) -> bool:
    """Whether `fn` can be called with `count` positional arguments (an app, not a hook)."""
    try:
        inspect.signature(fn).bind(*range(count))
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): take it for a hook
        return False
    return True


Clock = Callable[[], datetime]
"""Now, as an aware UTC datetime; tests inject one to compress time."""


@dataclass(frozen=True)
class Exposure:
    """Whose personal data a response carried, as a `subjects` hook reports it."""

    subjects: Sequence[str]
    fields: Sequence[str] = ()



def require_callables(**hooks: object) -> None:
    """Refuse a hook that cannot be called when the middleware is built, not per request."""
    for name, hook in hooks.items():
        if hook is not None and not callable(hook):
            raise ScrapeGuardError(f"{name} must be callable, not {type(hook).__name__}")
