"""Structured (JSON lines) access logs of servers: Caddy and Traefik.

Each format names, per event column, the JSON paths that may hold it (the first present wins)
and a `marker` path every line of its own has, so detection and parsing agree on whose line it
is. Times are RFC 3339 text or epoch numbers (seconds; 10^11 or more is milliseconds, as in
`jsonl`). Header values Caddy logs as lists (`"User-Agent": ["curl/8"]`) are read at `[0]`.
"""

from __future__ import annotations

from typing import ClassVar

from scrapeguard.sources.base import LogFormat, ParseOptions, Relation, register, sql_str

_COLUMNS = ("ts", "ip", "xff", "method", "path", "status", "bytes", "ua", "referer", "account")
_NUMBER = r"-?[0-9]+(\.[0-9]*)?([eE][+-]?[0-9]+)?"


class JsonAccess(LogFormat):
    paths: ClassVar[dict[str, tuple[str, ...]]]
    marker: ClassVar[str]

    def select(self, rel: Relation, opts: ParseOptions) -> str:
        line = rel.line_sql()
        flat = [self.marker]
        where: dict[str, list[int]] = {}
        for column in _COLUMNS:
            for path in self.paths.get(column, ()):
                flat.append(path)
                where.setdefault(column, []).append(len(flat))

        def get(column: str) -> str:
            found = [f"NULLIF(NULLIF(_s[{i}], ''), '-')" for i in where.get(column, [])]
            if not found:
                return "NULL::VARCHAR"
            return found[0] if len(found) == 1 else f"coalesce({', '.join(found)})"

        ip = get("ip")
        if opts.resolve_xff and "xff" in where:
            ip = f"_sg_client({ip}, {get('xff')})"
        t = get("ts")
        ts = f"""CASE WHEN regexp_full_match({t}, {sql_str(_NUMBER)}) THEN
              CASE WHEN abs(TRY_CAST({t} AS DOUBLE)) >= 1e11
                   THEN try(to_timestamp(TRY_CAST({t} AS DOUBLE) / 1000))
                   ELSE try(to_timestamp(TRY_CAST({t} AS DOUBLE))) END
            ELSE TRY_CAST({t} AS TIMESTAMPTZ) END"""
        paths = ", ".join(sql_str(p) for p in flat)
        return f"""
        SELECT _ts AS ts, _ip AS ip, {get('method')} AS method, {get('path')} AS path,
          TRY_CAST({get('status')} AS INTEGER) AS status,
          TRY_CAST({get('bytes')} AS BIGINT) AS bytes,
          {get('ua')} AS ua, {get('referer')} AS referer, {get('account')} AS account,
          NULL::VARCHAR AS session, NULL::VARCHAR[] AS subjects, NULL::VARCHAR[] AS fields,
          NULL::VARCHAR AS hdr, NULL::VARCHAR AS tls,
          CASE WHEN _why IS NULL THEN 0 ELSE 2 END AS _kind, _why, _line
        FROM (
          SELECT *, CASE
              WHEN _s IS NULL THEN 'not a JSON object'
              WHEN _s[1] IS NULL THEN {sql_str(f"not a {self.name} access log line")}
              WHEN _ts IS NULL THEN 'missing or unreadable time'
              WHEN _ip IS NULL THEN 'no client address' END AS _why
          FROM (
            SELECT *, {ts} AS _ts, {ip} AS _ip
            FROM (
              SELECT {line} AS _line,
                     CASE WHEN try(json_type({line})) = 'OBJECT'
                          THEN try(json_extract_string({line}, [{paths}])) END AS _s
              FROM {rel.sql})))"""


class Caddy(JsonAccess):
    name = "caddy"
    description = "Caddy's JSON access log (log { format json })"
    priority = 30
    marker = "$.request.uri"
    paths: ClassVar[dict[str, tuple[str, ...]]] = {
        "ts": ("$.ts",),
        "ip": ("$.request.client_ip", "$.request.remote_ip"),
        "method": ("$.request.method",),
        "path": ("$.request.uri",),
        "status": ("$.status",),
        "bytes": ("$.size",),
        "ua": ('$.request.headers."User-Agent"[0]',),
        "xff": ('$.request.headers."X-Forwarded-For"[0]',),
        "referer": ("$.request.headers.Referer[0]",),
        "account": ("$.user_id",),
    }


class Traefik(JsonAccess):
    name = "traefik"
    description = "Traefik's JSON access log (accessLog.format: json)"
    priority = 30
    marker = "$.RequestMethod"
    paths: ClassVar[dict[str, tuple[str, ...]]] = {
        "ts": ("$.StartUTC", "$.time"),
        "ip": ("$.ClientHost",),
        "xff": ('$."request_X-Forwarded-For"',),
        "method": ("$.RequestMethod",),
        "path": ("$.RequestPath",),
        "status": ("$.DownstreamStatus",),
        "bytes": ("$.DownstreamContentSize",),
        "ua": ('$."request_User-Agent"',),
        "referer": ("$.request_Referer",),
        "account": ("$.ClientUsername",),
    }


register(Caddy())
register(Traefik())
