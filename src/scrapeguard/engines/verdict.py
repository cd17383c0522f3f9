"""What the live engine tells a gateway about one request, before the response is sent."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapeguard.types import Action


@dataclass(frozen=True)
class Request:
    """The parts of a request the engine needs before the response: who, and what for."""

    ip: str
    path: str
    method: str = "GET"
    ua: str | None = None
    referer: str | None = None
    account: str | None = None
    session: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    hdr: str | None = None
    """The header shape (`clientshape.shape`), as the event will carry it."""
    tls: str | None = None
    """The TLS fingerprint a trusted terminator reported (JA4 or JA3), else None."""


@dataclass(frozen=True)
class Verdict:
    """The action for this request and why; `actor` is the key whose decision applied."""

    action: Action = "allow"
    actor: str | None = None
    score: float = 0.0
    reasons: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    allowlisted: str | None = None
    degraded: bool = False
    """True when the store could not be reached and the fail-open/closed default applied."""
    keys: dict[str, str] = field(default_factory=dict)
    """The actor keys of the request by kind (ip, net, account, session, fp, hdr, tls)."""
