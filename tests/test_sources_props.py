"""Properties of `load_events`: whatever the bytes, nothing raises and every line is counted;
and the fast path (quote-split pieces) reads each line exactly as the slow path would."""

from __future__ import annotations

import codecs
import ipaddress
import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from scrapeguard.sources import REGISTRY, load_events, xff
from scrapeguard.sources.base import ParseOptions
from scrapeguard.sources.scan import checked, sample_lines

LINE = ('203.0.113.7 - u_1 [17/May/2015:10:05:03 +0200] "GET /user/42?x=1 HTTP/1.1" 200 512 '
        '"https://example.com/" "Mozilla/5.0 (X11)"')
COLUMNS = "ts, ip, method, path, status, bytes, ua, referer, account, session, subjects, fields"
SETTINGS = settings(max_examples=100, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def load(con: Any, content: bytes, **kwargs: Any) -> Any:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.log"
        path.write_bytes(content)
        return load_events(con, [str(path)], **kwargs)


def counted_lines(content: bytes) -> int:
    """Lines that must be counted: all but empty ones (one trailing CR is a line ending,
    any other CR a line break)."""
    parts = content.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    if parts:
        parts[0] = parts[0].removeprefix(codecs.BOM_UTF8)
    return sum(1 for p in parts for piece in p.removesuffix(b"\r").split(b"\r") if piece)


junk_line = st.binary(max_size=300).filter(lambda b: b"\n" not in b)
# near-valid lines: a real line with random characters dropped, replaced or inserted,
# from an alphabet of the characters the parser cares about
_ALPHABET = '"\\ []-:/+0123456789GETHTPabc\x00\té\u2028\U0001f600'


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = list(LINE)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["drop", "swap", "insert"]))
        char = draw(st.sampled_from(_ALPHABET))
        if op == "insert" or i == len(text):
            text.insert(i, char)
        elif op == "drop":
            del text[i]
        else:
            text[i] = char
    return "".join(text)


@SETTINGS
@given(lines=st.lists(st.one_of(junk_line, mutated().map(str.encode)), min_size=1, max_size=6),
       first=st.booleans())
def test_any_bytes_are_an_event_or_a_counted_malformed_line(
    con: Any, lines: list[bytes], first: bool
) -> None:
    good = LINE.encode()
    body = [*lines, good] if first else [good, *lines, good]
    content = b"\n".join(body) + b"\n"
    assume(not content.startswith((b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")))  # xz, zstd: refused
    report = load(con, content, fmt="combined")
    assert report.lines == counted_lines(content)
    assert report.lines == report.events + report.malformed
    assert report.recovered <= report.events
    assert sum(report.recovered_reasons.values()) == report.recovered
    assert con.execute("SELECT count(*) FROM events").fetchone()[0] == report.events
    assert con.execute(
        "SELECT count(*) FROM events WHERE path = '/user/42?x=1' AND ip = '203.0.113.7'"
    ).fetchone()[0] >= body.count(good)


def slow_path(con: Any, texts: list[str]) -> tuple[list[tuple[Any, ...]], int]:
    """The line-by-line reading of the same lines: (events, malformed count), with the
    checks every format shares (a time out of range is malformed)."""
    select = checked(REGISTRY["combined"], sample_lines(), ParseOptions())
    sql = f"SELECT {COLUMNS}, _kind FROM ({select})"
    got = con.execute(sql, {"lines": texts}).fetchall()
    events = [(r[0], xff.canonical(r[1]) or r[1], *r[2:-1]) for r in got if r[-1] < 2]
    return sorted(events, key=repr), sum(r[-1] == 2 for r in got)


@SETTINGS
@given(texts=st.lists(mutated(), min_size=1, max_size=8))
@example(texts=['203.0.113.7 - u_1 [17/May/2015:10:05:03 +0200] "GET /user/42?x=1 HTTP/1.1" '
                '200 512 "https://example.com\\" "Mozilla/5.0 (X11)"'])
def test_fast_path_agrees_with_the_slow_path(con: Any, texts: list[str]) -> None:
    texts = [t for t in texts if t.strip() and "\r" not in t]
    content = "".join(t + "\n" for t in [LINE, *texts]).encode()
    report = load(con, content, fmt="combined")
    fast = sorted(con.execute(f"SELECT {COLUMNS} FROM events").fetchall(), key=repr)
    slow, malformed = slow_path(con, [LINE, *texts])
    assert (fast, report.malformed) == (slow, malformed)


_text = st.text(st.characters(codec="utf-8", exclude_characters="\U0010ffff"), max_size=12)
_lists = st.one_of(st.none(), st.lists(_text, max_size=4))
_ips = st.ip_addresses().filter(
    lambda a: a.version == 4 or a.ipv4_mapped is None).map(str)  # as the loader spells them
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_times = st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC, microsecond=d.microsecond // 1000 * 1000))


@st.composite
def json_event(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """A JSON line and the row it must become."""
    ts = draw(_times)
    style = draw(st.sampled_from(["rfc3339", "offset", "seconds", "millis"]))
    if style == "rfc3339":
        stamp: Any = ts.isoformat().replace("+00:00", "Z")
    elif style == "offset":
        stamp = ts.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    elif style == "seconds":
        ts = ts.replace(microsecond=0)
        stamp = int(ts.timestamp())
    else:
        stamp = (ts - EPOCH) // timedelta(milliseconds=1)  # exact; float * 1000 can round down
    fields = {"ts": stamp, "ip": draw(_ips), "method": draw(st.none() | _text),
              "path": draw(st.none() | _text), "status": draw(st.none() | st.integers(100, 599)),
              "bytes": draw(st.none() | st.integers(0, 2**40)), "ua": draw(st.none() | _text),
              "referer": draw(st.none() | _text), "account": draw(st.none() | _text),
              "session": draw(st.none() | _text), "subjects": draw(_lists),
              "fields": draw(_lists)}
    dropped = draw(st.sets(st.sampled_from(sorted(set(fields) - {"ts", "ip"}))))
    line = {k: v for k, v in fields.items() if k not in dropped} | {"extra": draw(_text)}
    row = tuple(ts if k == "ts" else (None if k in dropped else v) for k, v in fields.items())
    return line, row


@SETTINGS
@given(events=st.lists(json_event(), min_size=1, max_size=8))
def test_json_lines_round_trip(
    con: Any, events: list[tuple[dict[str, Any], tuple[Any, ...]]]
) -> None:
    content = "".join(json.dumps(line) + "\n" for line, _ in events).encode()
    report = load(con, content)
    assert (report.files[0].format, report.events, report.malformed) == ("jsonl", len(events), 0)
    got = sorted(con.execute(f"SELECT {COLUMNS} FROM events").fetchall(), key=repr)
    assert got == sorted((row for _, row in events), key=repr)


# ------------------------------------------------------------------ addresses

_addresses = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.text(alphabet="0123456789abcdefABCDEF:.", max_size=40),
)


def python_key(text: str) -> str | None:
    if "%" in text:
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if addr.version == 6 and "." in text:
        return None  # embedded IPv4 is not parsed by the SQL macros (documented)
    return xff.address_key(addr)


@SETTINGS
@given(texts=st.lists(_addresses, min_size=1, max_size=20))
def test_sql_address_keys_agree_with_ipaddress(con: Any, texts: list[str]) -> None:
    xff.install(con, [])
    try:
        got = con.execute("SELECT list_transform(?::VARCHAR[], lambda a: _sg_ipkey(a))",
                          [texts]).fetchone()[0]
    finally:
        xff.uninstall(con)
    assert got == [python_key(t) for t in texts]


def python_client(peer: str, header: str, nets: list[xff.Network]) -> str:
    """The reference rule: right-most hop that is not a trusted proxy."""

    def trusted(text: str) -> bool:
        key = python_key(text)
        return key is not None and any(
            xff.address_key(n.network_address) <= key <= xff.address_key(n.broadcast_address)
            for n in nets)

    import re

    if not trusted(peer) or not re.fullmatch(xff.ADDRESS_LIST_RE, header):
        return peer
    hops = [h.strip() for h in header.split(",")]
    chosen = next((h for h in reversed(hops) if not trusted(h)), hops[0])
    return chosen if python_key(chosen) is not None else peer


_hosts = st.sampled_from(["10.0.0.1", "10.1.2.3", "192.0.2.5", "2001:db8::1", "2001:db9::1",
                          "198.51.100.7", "bogus", "1.2.3", "::1"])


@SETTINGS
@given(peer=_hosts, hops=st.lists(_hosts, min_size=1, max_size=4),
       cidrs=st.lists(st.sampled_from(["10.0.0.0/8", "2001:db8::/32", "192.0.2.5", "::1/128"]),
                      max_size=3))
def test_client_address_agrees_with_the_reference(
    con: Any, peer: str, hops: list[str], cidrs: list[str]
) -> None:
    nets = xff.parse_networks(cidrs)
    header = ", ".join(hops)
    xff.install(con, nets)
    try:
        got = con.execute("SELECT _sg_client(?, ?)", [peer, header]).fetchone()[0]
    finally:
        xff.uninstall(con)
    assert got == python_client(peer, header, nets)
