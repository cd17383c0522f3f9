"""The user's own nginx `log_format`, turned into a pattern format (as GoAccess and lnav do).

Each variable becomes a capture group with a role (see `pattern`) or, for variables the event
contract has no column for (`$request_time`, `$host`, `$upstream_*`, anything unknown), a group
that only has to match. A variable's text is matched by its known shape (`$status` is three
digits), else, between double quotes, by anything up to an unescaped quote, else by anything
up to the next literal character. nginx writes an empty variable as `-`. The first `$cookie_*`
becomes the session; `$http_x_forwarded_for` is used with `trusted_proxies` as in combined.

`log_format_from_conf` reads a named `log_format` out of an nginx configuration file (its own
text only: `include` is not followed).
"""

from __future__ import annotations

import re
from pathlib import Path

from scrapeguard.errors import SourceError
from scrapeguard.sources.pattern import CLF_TIME, QUOTED, PatternFormat

COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)
"""nginx's predefined `combined`."""

_VARIABLE = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")
_ROLES = {
    "remote_addr": "ip", "remote_user": "account", "time_local": "ts_clf",
    "time_iso8601": "ts_iso", "msec": "ts_epoch", "request": "request",
    "request_method": "method", "request_uri": "uri", "uri": "upath", "document_uri": "upath",
    "args": "args", "query_string": "args", "status": "status",
    "body_bytes_sent": "bytes", "bytes_sent": "bytes", "http_referer": "referer",
    "http_user_agent": "ua", "http_x_forwarded_for": "xff",
    # The TLS fingerprint: a header the terminator in front of nginx set (X-JA4, X-JA3), or
    # the variables of nginx's own JA4/JA3 modules.
    "http_x_ja4": "tls", "http_x_ja3": "tls", "http_ssl_ja4": "tls", "http_ssl_ja3_hash": "tls",
    "http_ssl_ja3": "tls",
}
_SHAPES = {
    "time_local": CLF_TIME,
    "time_iso8601": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})",
    "msec": r"\d+(?:\.\d+)?",
    "status": r"\d{3}|-",
    "body_bytes_sent": r"\d+|-",
    "bytes_sent": r"\d+|-",
    "request_time": r"[0-9.]+|-",
}


def _role(variable: str) -> str | None:
    if variable.startswith("cookie_"):
        return "session"
    return _ROLES.get(variable)


def _shape(variable: str, before: str, after: str, last: bool) -> str:
    """What a variable's text looks like, from its name and the literal text around it."""
    if variable in _SHAPES:
        return _SHAPES[variable]
    if before.endswith('"') and after.startswith('"'):
        return QUOTED[1:-1]  # the group's inside, without its parentheses
    if variable.startswith("upstream_"):
        return ".*?"  # several upstreams: "0.001, 0.002 : 0.003"
    if after:
        return "[^" + re.escape(after[0]) + "]*"
    return ".*" if last else ".*?"  # `$a$b`: nothing tells where `$a` ends; take the least


def translate(log_format: str) -> tuple[str, tuple[str, ...]]:
    """(pattern, roles) for an nginx `log_format` string; the first use of a role wins."""
    pieces = _VARIABLE.split(log_format)
    # pieces: literal, (braced, bare), literal, (braced, bare), ..., literal
    literals = pieces[0::3]
    names = [braced or bare for braced, bare in zip(pieces[1::3], pieces[2::3], strict=True)]
    pattern = re.escape(literals[0])
    roles: list[str] = []
    for i, name in enumerate(names):
        before, after = literals[i], literals[i + 1]
        shape = _shape(name, before, after, i == len(names) - 1)
        role = _role(name)
        if role == "bytes" and name == "bytes_sent" and "body_bytes_sent" in names:
            role = None  # the body alone, as combined counts it
        if role is not None and role not in roles:
            roles.append(role)
            pattern += f"({shape})"
        else:
            pattern += f"(?:{shape})"
        pattern += re.escape(after)
    return pattern, tuple(roles)


def nginx_format(log_format: str, name: str = "nginx") -> PatternFormat:
    """A format (not registered) for lines written by this `log_format`."""
    pattern, roles = translate(log_format)
    missing = [what for what, need in (
        ("a time ($time_local, $time_iso8601 or $msec)", ("ts_clf", "ts_iso", "ts_epoch")),
        ("the client address ($remote_addr)", ("ip",)),
    ) if not any(r in roles for r in need)]
    if missing:
        raise SourceError(f"the log_format {log_format!r} lacks {' and '.join(missing)}")
    cls = type("NginxLogFormat", (PatternFormat,), {
        "name": name,
        "description": f"nginx log_format {log_format}",
        "pattern": pattern,
        "roles": roles,
    })
    fmt = cls()
    assert isinstance(fmt, PatternFormat)
    return fmt


def _directives(text: str) -> list[list[str]]:
    """nginx configuration as directives of unquoted words (blocks flattened)."""
    out: list[list[str]] = []
    words: list[str] = []
    for match in re.finditer(
        r"#[^\n]*|'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|([;{}])|([^\s;{}'\"#]+)", text
    ):
        single, double, end, word = match.groups()
        if single is not None or double is not None:
            words.append(re.sub(r"\\(.)", r"\1", single if single is not None else double))
        elif end is not None:
            if words:
                out.append(words)
            words = []
        elif word is not None:
            words.append(word)
    return out


def log_format_from_conf(path: Path, name: str | None = None) -> str:
    """The `log_format` called `name` in an nginx configuration file; without a name, the only
    one it defines (or `combined` if it defines none)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SourceError(f"cannot read nginx configuration {path}: {exc}") from exc
    found: dict[str, str] = {"combined": COMBINED}
    for words in _directives(text):
        if words[0] == "log_format" and len(words) >= 3:
            parts = [w for w in words[2:] if not w.startswith("escape=")]
            found[words[1]] = "".join(parts)
    if name is None:
        defined = [n for n in found if n != "combined"]
        if len(defined) > 1:
            raise SourceError(f"{path} defines several log_format ({', '.join(defined)}); "
                              "name one with --log-format NAME")
        name = defined[0] if defined else "combined"
    if name not in found:
        raise SourceError(f"{path} has no log_format {name!r}; it has {', '.join(found)}")
    return found[name]
