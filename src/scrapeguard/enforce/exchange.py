"""Reading the parts of an exchange that ASGI and WSGI carry alike: cookies, headers, subjects.

The app tells the middleware whose data a response carried with `X-Subjects: id1,id2` (and
optionally `X-Subject-Fields: name,phone`). Those headers are for the middleware only: they
name people, so they are always stripped before the response leaves, whether read or not.
"""

from __future__ import annotations

from collections.abc import Iterable

SUBJECTS_HEADER = "x-subjects"
FIELDS_HEADER = "x-subject-fields"
PRIVATE_HEADERS = frozenset({SUBJECTS_HEADER, FIELDS_HEADER})

_BLANKED = frozenset({"cookie", "authorization", "proxy-authorization"})
"""Passed to the engine by name only: the header's presence shapes a client, its value is a
credential the engine has no business holding."""

def parse_cookies(header: str | None) -> dict[str, str]:
    """`a=1; b=2` → {'a': '1', 'b': '2'}; lenient like browsers, first value of a name wins."""
    cookies: dict[str, str] = {}
    if not header:
        return cookies
    for part in header.split(";"):
        name, eq, value = part.strip().partition("=")
        if eq and name and name not in cookies:
            cookies[name] = value.strip().strip('"')
    return cookies


def engine_headers(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Request headers as the engine sees them: lower-case names, in order, credentials blank."""
    return tuple((name, "" if name in _BLANKED else value) for name, value in pairs)


def items(value: str) -> list[str]:
    """`a, b,,c` → ['a', 'b', 'c']; an empty header is an empty list (a lookup that missed)."""
    return [item.strip() for item in value.split(",") if item.strip()]


def take_subjects(
    headers: list[tuple[str, str]],
) -> tuple[list[str] | None, list[str] | None, list[tuple[str, str]]]:
    """(subjects, fields, the headers without the private ones); names compared lower-case."""
    subjects = fields = None
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered == SUBJECTS_HEADER:
            subjects = (subjects or []) + items(value)
        elif lowered == FIELDS_HEADER:
            fields = (fields or []) + items(value)
        else:
            kept.append((name, value))
    return subjects, fields, kept
