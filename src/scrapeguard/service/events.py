"""Events into the service: contract JSON lines (`POST /v1/events`) and nginx's log lines.

Both become the event contract (docs/design.md, 'One contract') before the engine sees them, and
both are checked field by field: a bad line is refused with its number and the field at
fault, never half-read. Silently dropping `subjects` would turn personal data into 'no
personal data'.

nginx cannot write a JSON list, nor tell an empty header from an absent one, so its lines
(the `scrapeguard` log_format in examples/nginx/) carry the upstream's `X-Subjects` as text:
empty means the upstream said nothing (the policy's routes still apply, as for any access
log), `-` means a lookup that found nobody (`[]`), anything else is a comma-separated list of
keyed hashes. Lines for requests scrapeguard refused (`sg_action` set) are skipped, as the
middleware skips its own refusals: they exposed nobody.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from scrapeguard.allowlist import parse_ip
from scrapeguard.decisions import parse_ts
from scrapeguard.enforce.client_cookie import CLIENT_COOKIE
from scrapeguard.enforce.exchange import items
from scrapeguard.engines.live_rows import EventRows
from scrapeguard.events import TIME_RANGE_REASON, TS_END, TS_FIRST

_TEXT = ("method", "path", "ua", "referer", "account", "session", "hdr", "tls")
_LISTS = ("subjects", "fields")
MAX_LINE = 64 * 1024
_LARGEST = {"status": 2**31 - 1, "bytes": 2**63 - 1}
"""The largest value of the event columns' types (`EVENT_SQL_TYPES`: INTEGER, BIGINT): the
JSON lines reader calls a larger one malformed, so ingest refuses it too."""


class BadEvent(ValueError):
    """A line that is not an event; the message names the field."""


@dataclass(frozen=True)
class LineError:
    line: int
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, "error": self.error}


def _time(value: Any) -> datetime:
    if isinstance(value, bool):
        raise BadEvent("ts: not a time")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise BadEvent("ts: not a time")
        seconds = value / 1000 if abs(value) >= 1e11 else value
        try:
            return _in_range(datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):
            raise BadEvent(f"ts: {TIME_RANGE_REASON}") from None
    if isinstance(value, str):
        try:
            moment = parse_ts(value)
        except ValueError:
            raise BadEvent("ts: not an RFC 3339 time") from None
        return _in_range(moment)
    raise BadEvent("ts: missing" if value is None else "ts: not a time")


def _in_range(moment: datetime) -> datetime:
    """The time if the log readers would take it too (`events.TS_FIRST`): both engines
    count the same events."""
    if not TS_FIRST <= moment < TS_END:
        raise BadEvent(f"ts: {TIME_RANGE_REASON}")
    return moment


def _int(record: dict[str, Any], name: str, default: int) -> int:
    value = record.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadEvent(f"{name}: not a whole number")
    try:
        number = int(value)
    except ValueError:
        raise BadEvent(f"{name}: not a whole number") from None
    if number < 0:
        raise BadEvent(f"{name}: negative")
    if number > _LARGEST[name]:
        raise BadEvent(f"{name}: larger than {_LARGEST[name]:,}")
    return number


def _ip(value: Any) -> str:
    if not isinstance(value, str) or parse_ip(value) is None:
        raise BadEvent("ip: missing or not an address")
    return value


def contract_event(record: Any) -> dict[str, Any]:
    """One contract event from a decoded JSON line (other keys are ignored)."""
    if not isinstance(record, dict):
        raise BadEvent("not a JSON object")
    event: dict[str, Any] = {"ts": _time(record.get("ts")), "ip": _ip(record.get("ip")),
                             "status": _int(record, "status", 200),
                             "bytes": _int(record, "bytes", 0)}
    for name in _TEXT:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise BadEvent(f"{name}: not text")
        if value is not None and not _unicode(value):
            raise BadEvent(f"{name}: holds a lone surrogate, not Unicode text")
        event[name] = value
    event["method"] = event["method"] or "GET"
    if not event["path"]:
        raise BadEvent("path: missing")
    for name in _LISTS:
        value = record.get(name)
        if value is not None and not (isinstance(value, list)
                                      and all(isinstance(v, str) and _unicode(v)
                                              for v in value)):
            raise BadEvent(f"{name}: not a list of text")
        event[name] = value
    return event


def _unicode(text: str) -> bool:
    """Whether `text` is UTF-8 encodable: JSON may escape a lone surrogate (`"\\ud800"`),
    which no log file can hold and the engine's UTF-8 regular expressions refuse."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def decode(raw: bytes | str) -> Any:
    """A JSON value from one line; a line past `MAX_LINE` bytes is refused, not parsed."""
    if len(raw) > MAX_LINE:
        raise BadEvent(f"line longer than {MAX_LINE} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadEvent(f"not JSON: {exc}") from None


@dataclass(frozen=True)
class NginxLine:
    """An nginx `scrapeguard` log line, read but not yet resolved to a client."""

    event: dict[str, Any]
    remote: str
    xff: str | None
    cookie: str | None
    """The guard's client cookie the request carried, else the one its answer issued."""
    refused: bool


def _text(record: dict[str, Any], name: str) -> str | None:
    value = record.get(name)
    if value is None or value in ("", "-"):
        return None
    if not isinstance(value, str):
        raise BadEvent(f"{name}: not text")
    if not _unicode(value):
        raise BadEvent(f"{name}: holds a lone surrogate, not Unicode text")
    return value


def nginx_line(record: Any) -> NginxLine:
    """Read one line of the `scrapeguard` log_format (examples/nginx/scrapeguard-log.conf)."""
    if not isinstance(record, dict):
        raise BadEvent("not a JSON object")
    remote = _ip(record.get("ip"))
    subjects_text = record.get("x_subjects", "")
    if not isinstance(subjects_text, str) or not _unicode(subjects_text):
        raise BadEvent("x_subjects: not text")
    subjects = None if subjects_text == "" else [] if subjects_text == "-" else items(
        subjects_text)
    fields = _text(record, "x_fields")
    event = {"ts": _time(record.get("ts")), "ip": remote,
             "method": _text(record, "method") or "GET", "path": _text(record, "path"),
             "status": _int(record, "status", 0), "bytes": _int(record, "bytes", 0),
             "ua": _text(record, "ua"), "referer": _text(record, "referer"),
             "account": _text(record, "account"), "session": None,
             "subjects": subjects, "fields": items(fields) if fields else None,
             "hdr": _text(record, "hdr"), "tls": _text(record, "tls")}
    if not event["path"]:
        raise BadEvent("path: missing")
    cookie = _text(record, "client_cookie") or _issued(_text(record, "issued_cookie"))
    return NginxLine(event, remote, _text(record, "xff"), cookie,
                     refused=_text(record, "sg_action") is not None)


def _issued(set_cookie: str | None) -> str | None:
    """The cookie value in the guard's `Set-Cookie` (a client's first answer)."""
    if not set_cookie:
        return None
    name, _, rest = set_cookie.partition("=")
    return rest.split(";", 1)[0] if name.strip() == CLIENT_COOKIE else None


def syslog_payload(datagram: bytes) -> bytes:
    """The message of an RFC 3164 datagram as nginx sends it (`<190>Dec  7 ... tag: {...}`)."""
    start = datagram.find(b"{")
    if start < 0:
        raise BadEvent("no JSON object in the syslog message")
    return datagram[start:].rstrip(b"\r\n\0")


COUNTED_KINDS = ("ip", "net", "asn", "prefix", "account", "session", "fp", "hdr", "tls")
"""The actor kinds a counted event is followed under; campaigns are named from members."""


class Counted(NamedTuple):
    """One event as the record lane counted it, for whoever follows the traffic (the
    dashboard's timelines): built from the rows the engine derived, so a follower needs no
    derivation of its own, and small, since the record process sends it back by pipe."""

    seconds: float
    actors: tuple[str, ...]
    """`kind:value` of each actor the event counts under (`COUNTED_KINDS`)."""
    records: int
    """People's records the response carried, as the engine counts exposure."""
    ua: str | None
    path: str
    template: str | None
    """The route template, when the event was a lookup on a personal-data route."""
    identity: str


def counted(rows: EventRows) -> Counted:
    return Counted(
        rows.ts.timestamp(),
        tuple(f"{kind}:{value}" for kind in COUNTED_KINDS if (value := rows.keys.get(kind))),
        sum(row.item_weight for row in rows.rows if row.item is not None),
        rows.ua, rows.path, rows.template if rows.is_lookup else None, rows.identity)
