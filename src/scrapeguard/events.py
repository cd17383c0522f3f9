"""The event contract: one HTTP exchange as the platform saw it, and the actor keys it carries.

Every source produces these columns and every engine reads them; see docs/design.md.
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
from datetime import UTC, datetime
from functools import lru_cache

from scrapeguard.canonical import plain_ipv4
from scrapeguard.types import ActorKey

EVENT_SQL_TYPES: dict[str, str] = {
    "ts": "TIMESTAMPTZ",
    "ip": "VARCHAR",
    "method": "VARCHAR",
    "path": "VARCHAR",
    "status": "INTEGER",
    "bytes": "BIGINT",
    "ua": "VARCHAR",
    "referer": "VARCHAR",
    "account": "VARCHAR",
    "session": "VARCHAR",
    "subjects": "VARCHAR[]",
    "fields": "VARCHAR[]",
    "hdr": "VARCHAR",
    "tls": "VARCHAR",
}
"""The contract as DuckDB column types, in the order every source writes them. `path` keeps
the query string; `subjects` is null where the route carries no personal data and `[]` on a
personal-data route that found nobody. `hdr` is the request's header shape
(`clientshape.shape`) and `tls` its TLS fingerprint (JA4, or JA3) as the TLS terminator
reported it; both null where the source did not see them."""

TS_FIRST = datetime(1970, 1, 1, tzinfo=UTC)
TS_END = datetime(2200, 1, 1, tzinfo=UTC)
"""An event's time is in [TS_FIRST, TS_END), in every source and on both engines. A reader
takes any date its pattern allows, and DuckDB keeps year 0 (as 1 BC), 9999 and `infinity`,
which Python cannot hold or step a window past (a year-0 line crashed the report and
`watch`); no access log records a request before the epoch or two centuries ahead."""
TIME_RANGE_REASON = f"time out of range (before {TS_FIRST:%Y-%m-%d} or from {TS_END:%Y-%m-%d})"


FINGERPRINT_FIELDS = ("ua",)
"""Fields every source carries and the `fp` key is built from; header fields join where known."""


def ip_key(ip: str) -> ActorKey:
    return f"ip:{ip}"


@lru_cache(maxsize=65536)
def network_of(ip: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) an address belongs to; the address itself if unparsable."""
    packed = plain_ipv4(ip)
    if packed is not None:  # the usual case, without `ipaddress` (same text: a.b.c.0/24)
        return socket.inet_ntop(socket.AF_INET, packed[:3] + b"\0") + "/24"
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    prefix = 24 if addr.version == 4 else 64
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


def net_key(ip: str) -> ActorKey:
    return f"net:{network_of(ip)}"


def fingerprint(ua: str | None, headers: tuple[tuple[str, str], ...] = ()) -> str:
    """A short stable hash of the client-declared fields every source carries.

    Logs only carry the user agent; live capture may add header fields. The batch engine computes
    the same value in SQL (`md5` of the same text), so both engines agree on `fp` keys.
    """
    text = fingerprint_text(ua, headers)
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def fingerprint_text(ua: str | None, headers: tuple[tuple[str, str], ...] = ()) -> str:
    parts = [ua or ""]
    parts.extend(f"{name.lower()}={value}" for name, value in headers)
    return "\x1f".join(parts)
