"""The W3C Extended Log File Format: what Microsoft IIS writes, and its dialect that Amazon
CloudFront writes (standard logs).

Unlike the other line formats, the columns are not fixed: a `#Fields:` directive names them,
space-separated, for the lines that follow, and a file may hold several blocks whose field
lists differ (IIS writes its header again on every restart, and after a change of
configuration the list changes). So each line is read with the last `#Fields:` line before
it. DuckDB carries that one forward with a running window (`last_value … IGNORE NULLS` over
the rows so far), which it evaluates as a streaming window in file order; the field list is
split only on directive lines, into the position of each field we read.

Values hold no spaces (IIS writes `+` for one in the user agent and cookie, read back as a
space), `-` is empty, `date` and `time` are UTC. Read: `c-ip`, `date` + `time`, `cs-method`,
`cs-uri-stem` + `cs-uri-query` (else `cs-uri`), `sc-status`, `sc-bytes`, `cs(User-Agent)`,
`cs(Referer)`, `cs-username` as the account (as combined's `$remote_user`), and the
X-Forwarded-For header as `cs(X-Forwarded-For)` or as IIS's custom field named
`X-Forwarded-For`, used with `trusted_proxies` as in combined. `cs(Cookie)` is not read: it is
the whole Cookie header, and which cookie (if any) is the session is the site's choice, which
nginx users make by naming `$cookie_NAME`. Other fields are skipped.

Directive lines (`#…`) are neither requests nor malformed and are not counted as lines;
a line before any `#Fields:` cannot be read and is malformed, saying so.

CloudFront (`cloudfront`) differs in two things only, so it is this reader with two settings:
values are separated by a TAB (its `#Fields:` line still by spaces), and text values are
URL-encoded instead of `+` for a space: `%20` for a space, and `%` itself as `%25`, so a path
the client sent as `/a%2Cb` is logged `/a%252Cb`. Decoding once gives the text as the client
sent it, as combined logs it. The user agent is decoded twice: in practice CloudFront writes it
encoded twice (`Mozilla/5.0%2520(…`, as Matomo's importer found), and a real user agent holds
no `%` of its own. Text that does not decode to UTF-8 is kept as logged.
"""

from __future__ import annotations

from typing import ClassVar

from scrapeguard.sources.base import (
    LogFormat,
    ParseOptions,
    Relation,
    register,
    split_upto,
    sql_str,
)

DIRECTIVE = "#"
FIELDS = "#Fields:"
MAX_FIELDS = 128
"""A line of more values is not split (see `split_upto`) and is malformed; IIS has 22
standard fields, and custom ones add at most a few."""

NAMES: dict[str, tuple[str, ...]] = {
    "date": ("date",),
    "time": ("time",),
    "ip": ("c-ip",),
    "method": ("cs-method",),
    "stem": ("cs-uri-stem",),
    "query": ("cs-uri-query",),
    "uri": ("cs-uri",),
    "status": ("sc-status",),
    "bytes": ("sc-bytes",),
    "ua": ("cs(user-agent)",),
    "referer": ("cs(referer)", "cs(referrer)"),
    "account": ("cs-username",),
    "xff": ("cs(x-forwarded-for)", "x-forwarded-for"),
}
"""Where each value is found: W3C field names, lower-cased (field names are matched
case-insensitively); the first one the `#Fields:` line names wins."""


def _positions(line: str) -> str:
    """SQL: for a `#Fields:` line, a struct of `n` (how many fields) and the 1-based position
    of each field in `NAMES` (NULL when the line does not name it)."""
    names = (f"list_filter(string_split(lower(trim(replace(substr({line}, {len(FIELDS) + 1}), "
             f"chr(9), ' '))), ' '), lambda x: x <> '')")
    found = []
    for role, spellings in NAMES.items():
        tries = [f"list_position(_n, {sql_str(s)})" for s in spellings]
        found.append(f"{sql_str(role)}: " + (tries[0] if len(tries) == 1
                                              else f"coalesce({', '.join(tries)})"))
    struct = "{'n': len(_n), " + ", ".join(found) + "}"
    return f"list_transform([{names}], lambda _n: {struct})[1]"


def _value(role: str) -> str:
    """SQL: the line's value of `role`, NULL when absent or logged as `-`."""
    return f"NULLIF(NULLIF(_v[_f.{role}], '-'), '')"


class W3C(LogFormat):
    name = "w3c"
    description = "W3C Extended Log File Format, as Microsoft IIS writes it (#Fields: header)"
    priority = 30
    context_prefix = FIELDS.encode()
    examples: ClassVar[tuple[str, ...]] = (
        "#Fields: date time c-ip cs-method cs-uri-stem cs-uri-query sc-status cs(User-Agent)\n"
        "2024-10-10 10:00:00 192.0.2.1 GET /user/7 x=1 200 Mozilla/5.0+(X11)",
    )
    """Seeds for `tests/fuzzing.py`: a header and its line, mutated together."""
    separator: ClassVar[str] = " "
    """What separates the values of a line (one byte: see `split_upto`)."""

    def text(self, role: str) -> str:
        """SQL: the text of `role` as the server received it (IIS writes `+` for a space in
        header values)."""
        if role in ("ua", "xff"):
            return f"replace({_value(role)}, '+', ' ')"
        return _value(role)

    def select(self, rel: Relation, opts: ParseOptions) -> str:
        line = rel.line_sql()
        ip = _value("ip")
        if opts.resolve_xff:
            ip = f"_sg_client({ip}, {self.text('xff')})"
        uri = self.text("uri")
        uri_path = f"regexp_replace({uri}, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*', '')"
        path = (f"coalesce({self.text('stem')} || coalesce('?' || {self.text('query')}, ''), "
                f"CASE WHEN {uri_path} = '' THEN '/' ELSE {uri_path} END)")
        ts = (f"timezone('UTC', TRY_CAST({_value('date')} || ' ' || {_value('time')} "
              "AS TIMESTAMP))")
        window = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
        return f"""
        SELECT _ts AS ts, _ip AS ip, {_value('method')} AS method, {path} AS path,
          TRY_CAST({_value('status')} AS INTEGER) AS status,
          _bytes AS bytes,
          {self.text('ua')} AS ua,
          {self.text('referer')} AS referer,
          {self.text('account')} AS account,
          NULL::VARCHAR AS session,
          NULL::VARCHAR[] AS subjects,
          NULL::VARCHAR[] AS fields,
          NULL::VARCHAR AS hdr,
          NULL::VARCHAR AS tls,
          CASE WHEN _why IS NULL THEN 0 ELSE 2 END AS _kind,
          _why,
          _line
        FROM (
          SELECT *, CASE
              WHEN _f IS NULL THEN 'before any #Fields: line, which names the columns'
              WHEN _v IS NULL OR len(_v) <> _f.n THEN
                CASE WHEN _v IS NULL THEN 'more' ELSE len(_v)::VARCHAR END
                || ' values where the #Fields: line names ' || _f.n::VARCHAR
              WHEN _f.date IS NULL OR _f.time IS NULL THEN
                'the #Fields: line names no date and time'
              WHEN _ts IS NULL THEN 'unreadable date and time'
              WHEN _ip IS NULL THEN 'no client address (c-ip)'
              WHEN _bytes < 0 THEN 'negative sc-bytes' END AS _why
          FROM (
            SELECT *, {ts} AS _ts, {ip} AS _ip, TRY_CAST({_value('bytes')} AS BIGINT) AS _bytes
            FROM (
              SELECT _line, _f, {split_upto(self._trimmed(), self.separator, MAX_FIELDS)} AS _v
              FROM (
                SELECT {line} AS _line,
                  last_value(CASE WHEN starts_with({line}, {sql_str(FIELDS)})
                                  THEN {_positions(line)} END IGNORE NULLS)
                    OVER ({window}) AS _f
                FROM {rel.sql})
              WHERE NOT starts_with(_line, {sql_str(DIRECTIVE)}))))"""


    def _trimmed(self) -> str:
        return "trim(_line)" if self.separator == " " else "_line"


_UTF8_ENCODED = (
    "%(?:[Cc][2-9A-Fa-f]|[Dd][0-9A-Fa-f])%[89ABab][0-9A-Fa-f]"
    "|%[Ee][0-9A-Fa-f](?:%[89ABab][0-9A-Fa-f]){2}|%[Ff][0-4](?:%[89ABab][0-9A-Fa-f]){3}"
)
"""A percent-encoded UTF-8 sequence of two to four bytes."""


def _url_decoded(text: str) -> str:
    """SQL: `text` URL-decoded (`+` stays a `+`), or as it is when the bytes it encodes are
    not UTF-8. DuckDB's `url_decode` raises on those, and `try` catching that cost 57 µs a
    line of a user agent decoded twice (17 s for 300,000 lines of Latin-1 user agents, which
    a client can send on every request); so a text whose high bytes are not all in UTF-8
    sequences is kept without calling it (0.2 s), and `try` is left for the rare rest
    (overlong or surrogate sequences). `text` is evaluated once."""
    bad = (f"regexp_matches(regexp_replace(_t, {sql_str(_UTF8_ENCODED)}, '', 'g'), "
           "'%[89A-Fa-f][0-9A-Fa-f]')")
    body = (f"CASE WHEN NOT contains(_t, '%') OR {bad} THEN _t "
            "ELSE coalesce(try(url_decode(_t)), _t) END")
    return f"list_transform([{text}], lambda _t: {body})[1]"


class CloudFront(W3C):
    name = "cloudfront"
    description = "Amazon CloudFront standard logs (W3C fields, TAB-separated, URL-encoded)"
    examples = (
        "#Version: 1.0\n#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) "
        "cs-uri-stem sc-status cs(Referer) cs(User-Agent) cs-uri-query\n"
        "2024-10-10\t10:00:00\tLAX1\t392\t192.0.2.1\tGET\td1.cloudfront.net\t/user/7\t200"
        "\t-\tMozilla/5.0%2520(X11)\tq=a%2520b",
    )
    separator = "\t"

    def text(self, role: str) -> str:
        """SQL: the text of `role` decoded as the client sent it (see the module's notes)."""
        value = _url_decoded(_value(role))
        return _url_decoded(value) if role == "ua" else value


register(W3C())
register(CloudFront())
