"""Where a policy's patterns become regular expressions, and the engine that runs them.

Trap globs, route templates and query names are written by operators but matched against
paths that clients write. Python's `re` backtracks: the trap `/*/*/*/*/*/trap` as
`^.*/.*/.*/.*/.*/trap$` took 8.5 s on a 280-byte path, on the event loop, while every other
request waited. RE2 never backtracks and runs in time linear in the text, so every pattern
here is written for RE2 once and runs on RE2 in both engines: DuckDB's regexp functions in the
batch engine, `google-re2` in the stream engine and the allowlist. A pattern RE2 cannot
compile is an error `policy check` reports at its line (`validators.PatternCompiles`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import re2

from scrapeguard.policy.model import Policy, Route

Loc = tuple[str | int, ...]


class Match(Protocol):
    def group(self, index: int = 0, /) -> str | Any: ...


class Matcher(Protocol):
    """What the engines use of a compiled RE2 pattern (the `re.Pattern` subset)."""

    def search(self, text: str) -> Match | None: ...

    def match(self, text: str) -> Match | None: ...

    def sub(self, replacement: str, text: str) -> str: ...


class PatternError(ValueError):
    """A pattern RE2 refuses (too large, or not RE2 syntax)."""


def compile_pattern(pattern: str, *, ignore_case: bool = False) -> Matcher:
    """`pattern` compiled by RE2: matching takes time linear in the text, whatever it is."""
    options = re2.Options()
    options.log_errors = False  # RE2 would print to stderr; the error is raised instead
    options.case_sensitive = not ignore_case
    try:
        matcher: Matcher = re2.compile(pattern, options)
    except re2.error as exc:
        raise PatternError(_text(exc)) from None
    return matcher


def _text(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else exc
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)


def glob_regex(glob: str) -> str:
    """A trap glob as an anchored pattern: `*` is any run of characters, `/` included."""
    return "^" + ".*".join(re.escape(part) for part in glob.split("*")) + "$"


def route_regex(route: Route) -> str:
    """A route's path template as an anchored pattern; the subject placeholder is group 1."""
    pattern = "^"
    position = 0
    for match in re.finditer(r"\{(\w+)\}", route.path):
        pattern += re.escape(route.path[position : match.start()])
        pattern += "([^/]+)" if match.group(1) == route.subject else "(?:[^/]+)"
        position = match.end()
    return pattern + re.escape(route.path[position:]) + "/?$"


def query_regex(name: str) -> str:
    """The value of query parameter `name` in a path with its query string, as group 1."""
    return rf"[?&]{re.escape(name)}=([^&#]*)"


def static_regex(extensions: Sequence[str]) -> str:
    """Paths ending in one of the static-asset extensions (matched on the lower-cased path)."""
    return rf"\.(?:{'|'.join(re.escape(e) for e in extensions)})$"


def policy_patterns(policy: Policy) -> Iterator[tuple[Loc, str]]:
    """Every pattern a policy's text becomes, with the place in the policy it comes from."""
    yield ("settings", "static_extensions"), static_regex(policy.settings.static_extensions)
    for number, glob in enumerate(policy.traps):
        yield ("traps", number), glob_regex(glob)
    for number, route in enumerate(policy.routes):
        yield ("routes", number, "path"), route_regex(route)
        if route.query is not None:
            yield ("routes", number, "query"), query_regex(route.query)
