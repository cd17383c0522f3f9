"""Formats read by one regular expression whose capture groups each play a *role*.

Servers that write fields in a fixed order (Apache `vhost_combined`, combined behind a syslog
prefix, HAProxy, AWS ALB, any nginx `log_format`) differ only in their pattern and in which
group holds what, so each is a subclass naming `pattern` and `roles`; this module turns them
into the SELECT every format yields. One RE2 full match per line (DuckDB's engine: linear time,
no backtracking on attacker text). Slower than combined's quote-split fast path, but these
logs are rarer.

Roles: `ip`, `xff`, `account`, `session`, `ua`, `referer`, `status`, `bytes`, `tls` (the TLS
fingerprint a terminator logged or passed on: JA4 or JA3), the time as
`ts_clf` (`10/Oct/2000:13:55:36 -0700`), `ts_iso` (RFC 3339), `ts_epoch` (seconds, with a
fraction) or `ts_ms` (HAProxy's `10/Oct/2000:13:55:36.123`, no offset: read as UTC, like every
time without one), and the request as `request` (`METHOD TARGET PROTOCOL`), or `method` with
`uri` (path and query) or `upath` and `args` (nginx's `$uri` and `$args`).
"""

from __future__ import annotations

import re
from typing import ClassVar

from scrapeguard.sources.base import LogFormat, ParseOptions, Relation, sql_str

ROLES = frozenset({
    "ip", "xff", "account", "session", "ua", "referer", "status", "bytes", "tls",
    "ts_clf", "ts_iso", "ts_epoch", "ts_ms", "request", "method", "uri", "upath", "args",
})
TIMES = ("ts_clf", "ts_iso", "ts_epoch", "ts_ms")

QUOTED = r'((?:[^"\\]|\\.)*)'
"""The text between two double quotes, where the server escaped quotes as `\\"`."""
CLF_TIME = r"\d{2}/[A-Za-z]{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}"
COMBINED_BODY = (
    r"(\S+) \S+ (\S+) \[(" + CLF_TIME + r")\] \"" + QUOTED + r"\" (\d{3}|-) (\d+|-)"
    r"(?: \"" + QUOTED + r"\" \"" + QUOTED + r"\")?"
)
"""A combined (or common) line; with `ANY_TAIL`, any trailing fields, as `clf` reads it."""
ANY_TAIL = r"(?: .*)?"
COMBINED_ROLES = ("ip", "account", "ts_clf", "request", "status", "bytes", "referer", "ua")

_REQUEST_RE = r"^([A-Z][A-Z0-9_-]*) (\S+)(?: [A-Za-z]+/[0-9.]+)?$"


def _text(value: str) -> str:
    """A logged text field: `-` and empty mean absent."""
    return f"NULLIF(NULLIF({value}, '-'), '')"


class PatternFormat(LogFormat):
    """A line format given by `pattern` (RE2, matched against the whole line) and `roles`
    (one per capture group, in order; use `(?:...)` for groups that play none)."""

    pattern: ClassVar[str]
    roles: ClassVar[tuple[str, ...]]
    tail: ClassVar[str] = ""
    """Matched after `pattern` by no group: left out of the extraction, which then stops
    where the last group is known (capturing is what costs; halves the time of `alb`)."""
    others: ClassVar[tuple[tuple[str, str], ...]] = ()
    """(pattern, reason) of lines the server writes that are not requests, so the malformed
    count says what they are."""
    absolute_urls: ClassVar[bool] = False
    """Requests carry `scheme://host:port/path` (a load balancer's view): keep the path."""
    no_ip: ClassVar[str] = "no client address"
    """The reason for a line whose `ip` group is empty or `-`."""

    def __init__(self) -> None:
        groups = re.compile(self.pattern).groups
        unknown = set(self.roles) - ROLES
        if groups != len(self.roles) or unknown or len(set(self.roles)) != len(self.roles):
            raise ValueError(f"{self.name}: {groups} groups for roles {self.roles}")
        if not any(t in self.roles for t in TIMES) or "ip" not in self.roles:
            raise ValueError(f"{self.name}: a pattern needs a time and a client address")

    def select(self, rel: Relation, opts: ParseOptions) -> str:
        line = rel.line_sql()
        rx = sql_str(self.pattern + self.tail)
        extract = sql_str("^(?:" + self.pattern + ")" + ("" if self.tail else "$"))
        names = "[" + ", ".join(sql_str(r) for r in self.roles) + "]"
        has = set(self.roles)

        def m(role: str) -> str:
            return f"_m.{role}" if role in has else "NULL::VARCHAR"

        ip = _text(m("ip"))
        if opts.resolve_xff and "xff" in has:
            ip = f"_sg_client({ip}, {_text(m('xff'))})"
        return f"""
        SELECT _ts AS ts, _ip AS ip, _method AS method, {self._path(has)} AS path,
          TRY_CAST({m('status')} AS INTEGER) AS status,
          CASE WHEN {m('bytes')} = '-' THEN 0
               ELSE TRY_CAST(ltrim({m('bytes')}, '+') AS BIGINT) END AS bytes,
          {_text(m('ua'))} AS ua,
          {_text(m('referer'))} AS referer,
          {_text(m('account'))} AS account,
          {_text(m('session'))} AS session,
          NULL::VARCHAR[] AS subjects,
          NULL::VARCHAR[] AS fields,
          NULL::VARCHAR AS hdr,
          {_text(m('tls'))} AS tls,
          CASE WHEN _m IS NULL OR _ts IS NULL OR _ip IS NULL THEN 2 ELSE 0 END AS _kind,
          CASE {self._others()}
               WHEN _m IS NULL THEN {sql_str(f"not {_article(self.name)} {self.name} line")}
               WHEN _ts IS NULL THEN 'unreadable time'
               WHEN _ip IS NULL THEN {sql_str(self.no_ip)} END AS _why,
          _line
        FROM (
          SELECT *, {_ts(has)} AS _ts, {ip} AS _ip,
            coalesce({_text(m('method'))}, NULLIF(_r.m, '')) AS _method
          FROM (
            SELECT *, regexp_extract({m('request')}, {sql_str(_REQUEST_RE)}, ['m', 't']) AS _r
            FROM (
              SELECT CASE WHEN regexp_full_match({line}, {rx})
                          THEN regexp_extract({line}, {extract}, {names}) END AS _m,
                     {line} AS _line
              FROM {rel.sql})))"""

    def _others(self) -> str:
        return " ".join(
            f"WHEN _m IS NULL AND regexp_full_match(_line, {sql_str(rx)}) THEN {sql_str(why)}"
            for rx, why in self.others
        )

    def _path(self, has: set[str]) -> str:
        """The path with its query: `uri`, else `upath?args`, else the request's target, else
        the request as logged (junk stays visible, as in `clf`)."""
        tries = []
        if "uri" in has:
            tries.append(_text("_m.uri"))
        if "upath" in has:
            args = _text("_m.args") if "args" in has else "NULL"
            tries.append(f"{_text('_m.upath')} || coalesce('?' || {args}, '')")
        if "request" in has:
            target = "NULLIF(_r.t, '')"
            if self.absolute_urls:
                target = f"regexp_replace({target}, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*', '')"
                target = f"CASE WHEN {target} = '' THEN '/' ELSE {target} END"
            tries += [target, _text("_m.request")]
        return f"coalesce({', '.join(tries)})" if tries else "NULL::VARCHAR"


def _article(name: str) -> str:
    """`an` before a name said with a vowel first (alb, envoy, haproxy is `a`), else `a`."""
    return "an" if name[:1] in "aeio" else "a"


def _ts(has: set[str]) -> str:
    reads = {
        "ts_clf": "try_strptime(_m.ts_clf, '%d/%b/%Y:%H:%M:%S %z')",
        "ts_iso": "TRY_CAST(_m.ts_iso AS TIMESTAMPTZ)",
        "ts_epoch": "try(to_timestamp(TRY_CAST(_m.ts_epoch AS DOUBLE)))",
        "ts_ms": "try_strptime(_m.ts_ms, '%d/%b/%Y:%H:%M:%S.%g')::TIMESTAMPTZ",
    }
    found = [reads[t] for t in TIMES if t in has]
    return found[0] if len(found) == 1 else f"coalesce({', '.join(found)})"
