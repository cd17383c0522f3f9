"""Masking what names a person in the lines a report quotes: ids, phone numbers, e-mails.

A report travels (to a security team, a regulator, a ticket), so it must not become a second
copy of the leak (docs/design.md, ground rules). Evidence lines keep their shape, which is what an
analyst needs to recognise a harvest, and lose the values that identify the people in them:
`/user/812342` becomes `/user/8****2`, `phone=+8613812345621` becomes `phone=+86*********21`.
What is masked is decided by the shape of a value, not by a list of known parameters, so a
parameter nobody declared is masked too; only short numbers under paging keys survive.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from scrapeguard.policy.model import Policy

HARMLESS_KEYS = frozenset({"page", "per_page", "limit", "offset", "size", "sort", "order",
                           "lang", "locale", "format", "fmt", "v"})
"""Query keys whose short numeric values are paging or presentation, not people."""

_PHONE = re.compile(r"^\+?[0-9][0-9 ()./-]{6,}$")
_PLACEHOLDER = re.compile(r"^\{\w+\}$")
_VERSION = re.compile(r"^v\d{1,3}$")


def mask(value: str) -> str:
    """Keep enough of a value to tell two apart at a glance, never enough to look one up."""
    if not value:
        return value
    text = unquote(value)
    if "@" in text:
        local, _, domain = text.rpartition("@")
        labels = domain.split(".")
        masked = [mask(label) for label in labels[:-1]] + labels[-1:]
        return f"{mask(local)}@{'.'.join(masked)}"
    if _PHONE.match(text) and sum(c.isdigit() for c in text) >= 7:
        keep = 3 if text.startswith("+") else 2
        return text[:keep] + "*" * (len(text) - keep - 2) + text[-2:]
    if len(text) <= 2:
        return "*" * len(text)
    if len(text) <= 4:
        return text[0] + "*" * (len(text) - 1)
    return text[0] + "*" * (len(text) - 2) + text[-1]


class Redactor:
    """Masks subject ids, phones and e-mails in request paths, query strings and referers.

    Path segments are masked when they hold two digits or an `@` (ids, phones, e-mails) or sit
    where a declared route has a placeholder (`/u/{handle}` masks the handle, whatever it
    is); a lone digit (`/page/2`) is not an id worth hiding.
    Every query value is masked, except short numbers under `HARMLESS_KEYS`.
    """

    def __init__(self, policy: Policy | None = None) -> None:
        self._routes: list[tuple[re.Pattern[str], set[int]]] = []
        for route in policy.routes if policy else []:
            parts = route.path.strip("/").split("/")
            positions = {i for i, part in enumerate(parts) if _PLACEHOLDER.match(part)}
            pattern = "^/" + "/".join("[^/]+" if i in positions else re.escape(p)
                                      for i, p in enumerate(parts)) + "/?$"
            if positions:
                self._routes.append((re.compile(pattern), positions))

    def path(self, path: str | None) -> str | None:
        """A request path with its query string, masked."""
        if not path:
            return path
        base, sep, query = path.partition("?")
        return self._path_only(base) + (sep + self.query(query) if sep else "")

    def url(self, url: str | None) -> str | None:
        """A referer: scheme and host kept, path and query masked like a request path."""
        if not url or url == "-":
            return url
        match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*://[^/?#]*)(.*)$", url)
        if not match:
            return self.path(url)
        return match.group(1) + (self.path(match.group(2)) or "")

    def query(self, query: str) -> str:
        pairs = []
        for pair in query.split("&"):
            name, eq, value = pair.partition("=")
            if not eq:
                pairs.append(mask(name) if _identifying(name) else name)
            elif name.lower() in HARMLESS_KEYS and value.isdigit() and len(value) <= 4:
                pairs.append(pair)
            else:
                pairs.append(f"{name}={mask(value)}")
        return "&".join(pairs)

    def _path_only(self, path: str) -> str:
        segments = path.split("/")
        declared: set[int] = set()
        for pattern, positions in self._routes:
            if pattern.match(path):
                declared |= {i + 1 for i in positions}  # segment 0 is before the first slash
        return "/".join(
            mask(s) if i in declared or _identifying(s) else s for i, s in enumerate(segments)
        )


def _identifying(segment: str) -> bool:
    """Two digits or more (an id, a phone) or an e-mail; an API version (`v2`) is not."""
    if "@" in segment or "%40" in segment:
        return True
    return sum(c.isdigit() for c in segment) >= 2 and not _VERSION.match(segment)
