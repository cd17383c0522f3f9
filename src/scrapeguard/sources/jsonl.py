"""JSON lines carrying the event contract's fields (other keys are ignored).

`ts` is an RFC 3339 string (without an offset it is UTC: the loader runs with the session time
zone set to UTC) or epoch seconds or milliseconds (10^11 or more is milliseconds: that many
seconds is the year 5138). `subjects` and `fields` keep null (the route carries no personal
data) apart from `[]` (a lookup that found nobody). A line that is not an object, lacks `ts`
or `ip`, or has a field of the wrong type (a list where text belongs, text where a list
belongs) or value (an `ip` that is no address, negative `bytes`, a UTC offset over 14 hours)
is malformed rather than half-read: silently nulling `subjects` would turn personal
data into "no personal data".
"""

from __future__ import annotations

from scrapeguard.sources.base import (
    LogFormat,
    ParseOptions,
    Relation,
    bad_offset,
    register,
    sql_str,
)

_KEYS = (
    "ts", "ip", "method", "path", "status", "bytes",
    "ua", "referer", "account", "session", "subjects", "fields", "hdr", "tls",
)
_TEXT = ("ip", "method", "path", "ua", "referer", "account", "session", "hdr", "tls")
_INTS = {"status": "INTEGER", "bytes": "BIGINT"}


def _i(key: str) -> int:
    return _KEYS.index(key) + 2  # _t[1] is the type of the whole line


_IP_RE = (
    r"(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])"
    r"|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*"
)
"""An IPv4 address, or text of IPv6's alphabet with a colon (the loader canonicalises it)."""

_AS_JSON = ("ts", "subjects", "fields")
"""Fields read as JSON: the epoch number and the two lists (the rest are text)."""


def _j(key: str) -> str:
    """The field as JSON (for the epoch number and the lists)."""
    return f"_j[{_AS_JSON.index(key) + 1}]"


def _s(key: str) -> str:
    """The field as text."""
    return f"_s[{_i(key) - 1}]"


def _t(key: str) -> str:
    """The field's JSON type (NULL when absent, 'NULL' when null)."""
    return f"_t[{_i(key)}]"


def _absent(key: str) -> str:
    return f"coalesce({_t(key)} = 'NULL', true)"


def _value(key: str) -> str:
    """The field as its SQL type; NULL when absent or of the wrong type."""
    if key in _TEXT:
        return f"CASE WHEN {_t(key)} <> 'OBJECT' AND {_t(key)} <> 'ARRAY' THEN {_s(key)} END"
    if key in _INTS:
        ok = " OR ".join(f"{_t(key)} = '{t}'" for t in ("UBIGINT", "BIGINT", "VARCHAR"))
        return f"CASE WHEN {ok} THEN TRY_CAST({_s(key)} AS {_INTS[key]}) END"
    return f"CASE WHEN {_t(key)} = 'ARRAY' THEN TRY_CAST({_j(key)} AS VARCHAR[]) END"


def _ts() -> str:
    raw, text, kind = _j("ts"), _s("ts"), _t("ts")
    return f"""CASE
      WHEN {kind} = 'VARCHAR' THEN
        CASE WHEN NOT {bad_offset(text)} THEN TRY_CAST({text} AS TIMESTAMPTZ) END
      WHEN {kind} = 'UBIGINT' OR {kind} = 'BIGINT' THEN
        CASE WHEN abs(TRY_CAST({raw} AS DOUBLE)) >= 1e11
             THEN try(timezone('UTC', epoch_ms(TRY_CAST({raw} AS BIGINT))))
             ELSE try(to_timestamp(TRY_CAST({raw} AS DOUBLE))) END
      WHEN {kind} = 'DOUBLE' THEN
        CASE WHEN abs(TRY_CAST({raw} AS DOUBLE)) >= 1e11
             THEN try(to_timestamp(TRY_CAST({raw} AS DOUBLE) / 1000))
             ELSE try(to_timestamp(TRY_CAST({raw} AS DOUBLE))) END
    END"""


def _why() -> str:
    """The first reason a line is malformed, or NULL."""
    checks = [
        ("_t[1] IS DISTINCT FROM 'OBJECT'", "not a JSON object"),
        (_absent("ts"), "missing ts"),
        ("_ts IS NULL", "unreadable ts"),
        (f"{_absent('ip')} OR _v_ip = ''", "missing ip"),
    ]
    for key in _KEYS[1:]:
        checks.append((f"NOT {_absent(key)} AND _v_{key} IS NULL", f"{key} has the wrong type"))
    checks += [
        (f"NOT regexp_full_match(_v_ip, {sql_str(_IP_RE)})", "ip is not an IP address"),
        ("_v_bytes < 0", "negative bytes"),
    ]
    whens = " ".join(f"WHEN {cond} THEN {sql_str(reason)}" for cond, reason in checks)
    return f"CASE {whens} END"


class JsonLines(LogFormat):
    name = "jsonl"
    description = "JSON lines with the event contract's fields (ts, ip, method, path, …)"
    priority = 30

    def select(self, rel: Relation, opts: ParseOptions) -> str:
        """Three parses of each line in all: the fields as JSON, as text, and their types.
        `json_valid` screens lines first: `try` on a line that is not JSON catches an
        exception, which costs a thousand times a check (a junk file took minutes)."""
        line = rel.line_sql()
        paths = ", ".join(sql_str(f"$.{k}") for k in _KEYS)
        as_json = ", ".join(sql_str(f"$.{k}") for k in _AS_JSON)
        values = ", ".join(f"{_value(k)} AS _v_{k}" for k in _KEYS[1:])
        columns = ", ".join(f"_v_{k} AS {k}" for k in _KEYS[1:])
        return f"""
        SELECT _ts AS ts, {columns},
               CASE WHEN _why IS NULL THEN 0 ELSE 2 END AS _kind, _why, _line
        FROM (
          SELECT *, {_why()} AS _why
          FROM (
            SELECT *, {_ts()} AS _ts, {values}
            FROM (
              SELECT _line,
                     CASE WHEN _ok THEN try(json_type(_line, ['$', {paths}])) END AS _t,
                     CASE WHEN _ok THEN try(json_extract(_line, [{as_json}])) END AS _j,
                     CASE WHEN _ok THEN try(json_extract_string(_line, [{paths}])) END AS _s
              FROM (SELECT {line} AS _line, json_valid({line}) AS _ok FROM {rel.sql}))))"""


register(JsonLines())
