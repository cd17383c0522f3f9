"""nginx/Apache access logs: `common` (`%h %l %u %t "%r" %>s %b`) and `combined` (plus
`"%{Referer}i" "%{User-agent}i"`), with any trailing fields tolerated.

Speed comes from letting DuckDB's CSV reader split each line at every `"` (quoting off, so no
line can swallow the next): a combined line is then seven pieces, and only the short ones need
work. The head `ip ident user [time zone] ` is split at spaces (four times cheaper than a
regular expression); status and bytes take one small pattern (RE2 stays on its fast one-pass
engine up to four groups); `METHOD TARGET PROTOCOL` is split at spaces. Both splits are bounded
(`split_upto`): a run of spaces is not turned into a list of thousands. A line without that
clean shape (escaped quotes, an unterminated quote, junk) takes the slow path: one full pattern
over the rebuilt line, then the same with the final quote closed (which recovers a line cut
inside the user agent), then the common shape with anything after the bytes.

The request keeps its raw text as `path` when it is not `METHOD TARGET [PROTOCOL]` (binary
junk, `-`, a lone word): those lines are still events, as CrowdSec's fixtures expect. Escapes
written by the server (`\\x16`, `\\"`) are kept as logged. `%b` of `-` means no body: 0 bytes;
a negative size or an impossible UTC offset (`+9900`) makes the line malformed.
"""

from __future__ import annotations

from typing import ClassVar

from scrapeguard.sources.base import (
    LogFormat,
    ParseOptions,
    Reader,
    Relation,
    bad_offset,
    register,
    split_upto,
    sql_str,
)

_QUOTED = r'"((?:[^"\\]|\\.)*)"'
_BASE_RE = r"^([^ ]+) [^ ]+ ([^ ]+) \[([^\]]*)\] " + _QUOTED + r" (\d{3}|-) (\d+|-)"
_PAIR = " " + _QUOTED + " " + _QUOTED
PAIRED_RE = _BASE_RE + "(" + _PAIR + r")(.*)$"
"""A whole combined line, escape-aware; for the slow path only (over four groups is slow)."""
FULL_RE = _BASE_RE + "((?:" + _PAIR + r")?)((?: .*)?)$"
"""The same with the referer/UA pair optional: a common line, or anything after the bytes."""
FIELDS = ["ip", "user", "ts", "req", "status", "bytes", "pair", "ref", "ua", "rest"]

MID_RE = r"^ (\d{3}|-) (\d+|-)( .*)?$"
"""The piece between the request and the referer: status, bytes, and what follows."""

TS_FORMAT = "%d/%b/%Y:%H:%M:%S %z"
_XFF_RE = r'^ "([^"]*)"'
_METHODS = ("GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "PROPFIND")
_PROTOCOLS = ("HTTP/1.1", "HTTP/1.0", "HTTP/2.0")
_UNCLOSED = "closed an unterminated final quote"


def _slow(line: str) -> str:
    """Parse a rebuilt line: as combined, as combined with its final quote closed (a line cut
    inside the user agent), then as common with anything after the bytes."""
    names = "[" + ", ".join(sql_str(f) for f in FIELDS) + "]"
    closed = f"({line}) || '\"'"
    tries = [(line, PAIRED_RE, 0), (closed, PAIRED_RE, 1), (line, FULL_RE, 0)]
    whens = " ".join(
        f"WHEN regexp_full_match({text}, {sql_str(rx)}) "
        f"THEN struct_insert(regexp_extract({text}, {sql_str(rx)}, {names}), fix := {fix})"
        for text, rx, fix in tries
    )
    return f"CASE {whens} END"


def _fast(rel: Relation, pairs: bool, xff: bool) -> str:
    """The fast path over quote-split pieces. Rows it cannot read with certainty (escaped or
    unterminated quotes, an unusual request, junk) are deferred (`_kind` 3, `path` = the line)
    for the loader to parse again with `_slow`, so no per-row branching slows the others."""
    n = rel.columns or 0
    line = rel.line_sql()
    clean = (  # an escaped quote would end a piece with a backslash: c1 is guarded by the
        # request's split; the referer and the user agent need their own (a referer ending in
        # `\` before ` "` is an escaped quote to the escape-aware slow path)
        "len(_h) = 6 AND _h[1] <> '' AND _h[2] <> '' AND _h[3] <> '' AND _h[6] = '' "
        "AND _t IS NOT NULL AND _b.status <> '' "
        "AND (c3 IS NULL OR (c6 IS NOT NULL AND _b.tail = ' ' AND c4 = ' ' "
        "AND NOT ends_with(c3, '\\') AND NOT ends_with(c5, '\\'))) "
        f"AND len(_r) = 3 AND {_one_of(_METHODS, '_r[1]')} AND {_one_of(_PROTOCOLS, '_r[3]')}"
    )
    ip = "_h[1]"
    if xff and n >= 9:  # the first extra field, if quoted: c6 = ' ', c7 = its text
        ip = "_sg_client(_h[1], CASE WHEN c6 = ' ' AND c8 IS NOT NULL THEN c7 END)"
    # `_h[5]` is `+HHMM]` when try_strptime reads it; two string tests keep the offset
    # within ±14:59 at a fraction of a regular expression's cost
    offset_ok = "substr(_h[5], 2, 2) <= '14' AND substr(_h[5], 4, 1) <= '5'"
    ts = (f"CASE WHEN {offset_ok} THEN "
          f"try_strptime(_h[4] || _h[5], {sql_str('[' + TS_FORMAT.replace(' ', '') + ']')}) END")
    mid = f"regexp_extract(c2, {sql_str(MID_RE)}, ['status', 'bytes', 'tail'])"
    ua, ref = ("NULLIF(c5, '-')", "NULLIF(c3, '-')") if pairs else ("NULL", "NULL")
    return f"""
        SELECT
          _t AS ts,
          {ip} AS ip,
          _r[1] AS method,
          CASE WHEN _clean THEN _r[2] ELSE {line} END AS path,
          TRY_CAST(_b.status AS INTEGER) AS status,
          CASE WHEN _b.bytes = '-' THEN 0 ELSE TRY_CAST(_b.bytes AS BIGINT) END AS bytes,
          {ua}::VARCHAR AS ua,
          {ref}::VARCHAR AS referer,
          NULLIF(_h[3], '-') AS account,
          NULL::VARCHAR AS session,
          NULL::VARCHAR[] AS subjects,
          NULL::VARCHAR[] AS fields,
          NULL::VARCHAR AS hdr,
          NULL::VARCHAR AS tls,
          CASE WHEN _clean THEN 0 ELSE 3 END AS _kind,
          NULL::VARCHAR AS _why,
          {line} AS _line,
          c3 IS NOT NULL AS _pair
        FROM (
          SELECT *, coalesce({clean}, false) AS _clean
          FROM (
            SELECT *, {ts} AS _t, {split_upto("c1", " ", 3)} AS _r
            FROM (SELECT *, {split_upto("c0", " ", 6)} AS _h, {mid} AS _b FROM {rel.sql})))"""


def _one_of(values: tuple[str, ...], token: str) -> str:
    """`token` is one of `values`. Not `IN (...)` nor `list_contains`:
    the optimizer turns those into a hash join, and a join lets DuckDB return rows out of
    file order, which the samples' "first lines" rely on."""
    return "(" + " OR ".join(f"{token} = {sql_str(v)}" for v in values) + ")"


class _AccessLog(LogFormat):
    """Shared SQL of `common` and `combined`; they differ in using the referer/UA pair."""

    reader: ClassVar[Reader] = "quotes"
    pairs: ClassVar[bool]
    recovered_reason: ClassVar[str] = _UNCLOSED

    def select(self, rel: Relation, opts: ParseOptions) -> str:
        if rel.columns:
            return _fast(rel, self.pairs, opts.resolve_xff and self.pairs)
        parsed = f"SELECT {_slow('line')} AS m, line AS _line FROM {rel.sql}"
        ip = "m.ip"
        if opts.resolve_xff and self.pairs:
            ip = f"_sg_client(m.ip, regexp_extract(m.rest, {sql_str(_XFF_RE)}, 1))"
        paired = "m.pair <> ''" if self.pairs else "false"
        return f"""
        SELECT
          _ts AS ts,
          {ip} AS ip,
          CASE WHEN _ok THEN _r[1] ELSE _method END AS method,
          CASE WHEN _ok THEN _r[2]
               WHEN _method IS NULL THEN m.req
               ELSE regexp_replace(_rem, ' HTTP/[0-9.]+$', '') END AS path,
          TRY_CAST(m.status AS INTEGER) AS status,
          CASE WHEN m.bytes = '-' THEN 0 ELSE TRY_CAST(m.bytes AS BIGINT) END AS bytes,
          CASE WHEN {paired} THEN NULLIF(m.ua, '-') END AS ua,
          CASE WHEN {paired} THEN NULLIF(m.ref, '-') END AS referer,
          NULLIF(m.user, '-') AS account,
          NULL::VARCHAR AS session,
          NULL::VARCHAR[] AS subjects,
          NULL::VARCHAR[] AS fields,
          NULL::VARCHAR AS hdr,
          NULL::VARCHAR AS tls,
          CASE WHEN m IS NULL OR _ts IS NULL THEN 2 WHEN m.fix = 1 THEN 1 ELSE 0 END AS _kind,
          CASE WHEN m IS NULL THEN {sql_str(f"not a {self.name} log line")}
               WHEN _ts IS NULL THEN 'unreadable time ' || m.ts
               WHEN m.fix = 1 THEN {sql_str(_UNCLOSED)} END AS _why,
          _line,
          coalesce(m.pair <> '', false) AS _pair
        FROM (
          SELECT *,
            CASE WHEN regexp_full_match(_tok, '[A-Z][A-Z0-9_-]*')
                 THEN _tok END AS _method,
            CASE WHEN NOT _ok THEN substr(m.req, strpos(m.req, ' ') + 1) END AS _rem
          FROM (
            SELECT *, CASE WHEN NOT _ok AND strpos(m.req, ' ') > 1
                           THEN left(m.req, strpos(m.req, ' ') - 1) END AS _tok
            FROM (
              SELECT *, coalesce(len(_r) = 3 AND {_one_of(_METHODS, "_r[1]")}
                        AND {_one_of(_PROTOCOLS, "_r[3]")}, false) AS _ok
              FROM (
                SELECT m, _line, {split_upto("m.req", " ", 3)} AS _r,
                       CASE WHEN NOT {bad_offset('m.ts')}
                            THEN try_strptime(m.ts, {sql_str(TS_FORMAT)}) END AS _ts
                FROM ({parsed})))))"""


class Combined(_AccessLog):
    name = "combined"
    description = 'nginx/Apache combined: %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"'
    priority = 20
    pairs = True
    detect_filter = "_kind = 0 AND _pair"


class Common(_AccessLog):
    name = "common"
    description = 'Common Log Format: %h %l %u %t "%r" %>s %b (no referer or user agent)'
    priority = 10
    pairs = False
    detect_filter = "_kind = 0 AND NOT _pair"


register(Combined())
register(Common())
