"""One spelling per path and per client address, so counts are of people and clients.

`/user/5`, `/user/%35` and `/user/005` name one person, and `::ffff:1.2.3.4` and
`001.002.003.004` one client; counted as written they are three people and three actors, and
mixing spellings delayed the sequential-enumeration rule from 26 requests to 276. Both engines
rewrite paths and addresses with these functions before anything is derived from them (the
batch engine in place, per distinct value: `rewrite_events`; the stream engine per event, and
the middleware for the address it resolves), so every count, key and rule sees one spelling.

Paths (RFC 3986 section 6.2.2, plus what frameworks route alike):
- escapes of unreserved characters are decoded (`%35` → `5`, `%7E` → `~`), other escapes
  upper-cased (`%2f` → `%2F`), a `%` that starts no escape written `%25`; nothing else is
  decoded, so no control character appears;
- `.` and `..` segments are resolved, empty segments dropped (`//a/./b/../c/` → `/a/c`);
- a segment of digits loses its leading zeros (`/user/005` → `/user/5`): numeric ids are
  numbers to the apps that serve them; so does a query value of digits (`?id=007`).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import string
from functools import lru_cache

from scrapeguard.policy.patterns import compile_pattern

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPES = {
    high + low: (chr(int(high + low, 16)) if chr(int(high + low, 16)) in _UNRESERVED
                 else "%" + (high + low).upper())
    for high in string.hexdigits for low in string.hexdigits
}
"""`%xx` → the unreserved character it stands for, else the escape in upper case."""
_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")

PATH_CANDIDATE = r"%|//|/\.|[/=]0[0-9]|/(\?|$)"
"""A path matching this may change under `canonical_path`; one that does not cannot. An RE2
pattern, so the batch engine picks the few distinct paths to rewrite inside DuckDB."""

IP_CANDIDATE = r":|(^|\.)0[0-9]|\s|%"
"""An address matching this may change under `canonical_ip`; one that does not cannot."""

_PATH_CANDIDATE = compile_pattern(PATH_CANDIDATE)  # RE2: linear in however long a path is


def _unescape(text: str) -> str:
    """Escapes of unreserved characters decoded, the others upper-cased; one pass, no regex
    callbacks, since a hostile path may hold tens of thousands of them."""
    if "%" not in text:
        return text
    head, *parts = text.split("%")
    out = [head]
    for part in parts:
        code = _ESCAPES.get(part[:2])
        # A `%` that starts no escape is the character itself, spelled `%25`: left bare, it
        # could form an escape with what decoding brings next to it (`%3%30` → `%30`).
        out.append(code + part[2:] if code is not None else "%25" + part)
    return "".join(out)


def _number(text: str) -> str:
    if text[:1] == "0" and text.isdigit() and text.isascii():
        return text.lstrip("0") or "0"
    return text


@lru_cache(maxsize=65_536)
def canonical_path(path: str) -> str:
    """The one spelling of a request path with its query string (see the module docstring).

    Anything that is not an origin-form path (`*`, `http://…`) is returned as it is.
    """
    if not path.startswith("/") or not _PATH_CANDIDATE.search(path):
        return path
    base, sep, query = path.partition("?")
    parts = _unescape(base).split("/")
    segments: list[str] = []
    if "." in parts or ".." in parts:
        for segment in parts:
            if segment == "..":
                if segments:
                    segments.pop()
            elif segment not in ("", "."):
                segments.append(_number(segment))
    else:
        segments = [_number(p) if p[:1] == "0" else p for p in parts if p]
    canonical = "/" + "/".join(segments)
    if not sep:
        return canonical
    pairs = []
    for pair in _unescape(query).split("&"):
        name, eq, value = pair.partition("=")
        pairs.append(name + eq + _number(value))
    return canonical + sep + "&".join(pairs)


def canonical_ip(text: str) -> str:
    """The one spelling of a client address: IPv4 in plain decimal (an IPv4-mapped IPv6
    address as the IPv4 one, leading zeros dropped), IPv6 compressed in lower case without a
    zone. Text that is no address is returned as it is."""
    if plain_ipv4(text) is not None:
        return text
    return _canonical_ip(text)


def plain_ipv4(text: str) -> bytes | None:
    """The four bytes of an IPv4 address already in its one spelling, else None.

    Most addresses arrive spelled so; checked in C (inet_pton, then inet_ntop must give the
    text back) rather than through `ipaddress`, whose parse cost the decision service more
    than the rest of resolving a client (each new address misses the caches)."""
    try:
        packed = socket.inet_pton(socket.AF_INET, text)
    except (OSError, ValueError):  # not IPv4, or a NUL in the text
        return None
    return packed if socket.inet_ntop(socket.AF_INET, packed) == text else None


@lru_cache(maxsize=65_536)
def _canonical_ip(text: str) -> str:
    candidate = text.strip().split("%", 1)[0]
    if _DOTTED_QUAD.fullmatch(candidate):
        # `001.002.003.004`: read as decimal, the way the log or header that wrote it meant
        candidate = ".".join(str(int(part)) for part in candidate.split("."))
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)
