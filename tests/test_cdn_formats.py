"""Logs that CDNs and cloud load balancers write themselves: CloudFront, Google Cloud Logging,
Cloudflare Logpush, Envoy and Istio. Each sample in tests/data/formats is written in the vendor's
documented shape (see that folder's README); here every field must land in its column, the
format must be detected with no flag, and a line that misses what the format needs is
malformed with a reason."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from scrapeguard.cli import app
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.sources import load_events
from scrapeguard.sources.detect import detect
from scrapeguard.watch.run import Watcher

DATA = Path(__file__).parent / "data" / "formats"
POLICY = str(Path(__file__).parent / "data" / "sample_policy.yaml")
COLUMNS = "ip, ts, method, path, status, bytes, ua, referer, account"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def at(second: int, micro: int = 0) -> datetime:
    return datetime(2026, 12, 6, 21, 7, second, micro, tzinfo=UTC)


def rows(con: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in con.execute(f"SELECT {COLUMNS} FROM events ORDER BY ts, ip"
                                          ).fetchall()]


def load_lines(con: Any, tmp_path: Path, lines: list[str], fmt: str | None = None) -> Any:
    log = tmp_path / "t.log"
    log.write_text("\n".join(lines) + "\n")
    return load_events(con, [str(log)], fmt=fmt, max_malformed=1.0)


def reasons(report: Any) -> list[tuple[int | None, str]]:
    return [(s.line, s.reason) for s in report.samples]


# ------------------------------------------------------------------ CloudFront

CLOUDFRONT = DATA / "cloudfront.log"


def test_cloudfront_every_field_lands(con: Any) -> None:
    report = load_events(con, [str(CLOUDFRONT)], max_malformed=0.0)
    assert (report.files[0].format, report.lines, report.events) == ("cloudfront", 5, 5)
    assert rows(con) == [
        # the user agent double-encoded, the query's own %20 logged as %2520: read as sent
        ("198.51.100.23", at(19), "GET", "/records/search?q=smith%20jones&page=2", 200, 3126,
         CHROME, "https://www.shop.example/", None),
        ("198.51.100.23", at(20), "GET", "/caf%C3%A9/menu", 200, 1893, CHROME,
         "https://www.shop.example/records/search?q=smith%20jones", None),
        # encoded once; its `+` stays a plus (IIS would have meant a space)
        ("66.249.66.1", at(21), "GET", "/robots.txt", 200, 5120, GOOGLEBOT, None, None),
        ("2001:db8:85a3::8a2e:370:7334", at(22), "POST", "/api/login", 403, 0, "curl/8.5.0",
         None, None),
        ("192.0.2.200", at(23), "GET", "/user/42?x=1", 404, 842, "python-requests/2.32.3",
         None, None),
    ]


def test_cloudfront_forwarded_client_behind_a_trusted_proxy(con: Any) -> None:
    load_events(con, [str(CLOUDFRONT)], trusted_proxies=["192.0.2.200"])
    assert con.execute("SELECT ip FROM events WHERE status = 404").fetchall() == [
        ("203.0.113.9",)]


def test_cloudfront_and_iis_are_told_apart(con: Any) -> None:
    found = detect(con, CLOUDFRONT.read_text().splitlines()[:3]).fmt
    assert found is not None
    assert found.name == "cloudfront"
    found = detect(con, (DATA / "iis-w3c.log").read_text().splitlines()[:6]).fmt
    assert found is not None
    assert found.name == "w3c"


def test_cloudfront_short_lines_and_undecodable_text(con: Any, tmp_path: Path) -> None:
    head = CLOUDFRONT.read_text().splitlines()[:2]
    good = CLOUDFRONT.read_text().splitlines()[2].split("\t")
    cut = "\t".join(good[:9])
    odd = list(good)
    odd[10] = "bad%FF%2520agent"  # encodes bytes that are no UTF-8: kept as logged
    nobody = list(good)
    nobody[4] = "-"
    overlong = list(good)  # a slash as two bytes: no UTF-8, kept encoded
    overlong[10] = "a%25C0%25AFb"
    surrogate = list(good)  # valid in shape, refused by url_decode: kept too
    surrogate[10] = "s%25ED%25A0%2580t"
    report = load_lines(con, tmp_path, [*head, cut, "\t".join(odd), "\t".join(nobody),
                                        "\t".join(overlong), "\t".join(surrogate)],
                        fmt="cloudfront")
    assert (report.events, report.malformed) == (3, 2)
    assert reasons(report) == [(3, "9 values where the #Fields: line names 33"),
                               (5, "no client address (c-ip)")]
    assert con.execute("SELECT ua FROM events ORDER BY ua").fetchall() == [
        ("a%C0%AFb",), ("bad%FF%2520agent",), ("s%ED%A0%80t",)]



@pytest.mark.parametrize(("name", "header", "events", "malformed"), [
    ("cloudfront.log", 2, 5, 0), ("iis-w3c.log", 4, 6, 1)])
def test_watch_starts_on_a_log_holding_only_its_header(
    tmp_path: Path, name: str, header: int, events: int, malformed: int
) -> None:
    """A W3C log watched from its creation can be read when the server has written only its
    header: no format can be detected on that, and its directives are no requests, so they
    must wait for the lines after them instead of counting as malformed combined lines."""
    lines = (DATA / name).read_bytes().splitlines(keepends=True)
    log = tmp_path / name
    engine = StreamEngine(POLICY, "memory://", secret=b"test")
    problems: list[str] = []
    counted = bad = 0
    for upto in (header, len(lines)):
        log.write_bytes(b"".join(lines[:upto]))
        watcher = Watcher(log, engine, tmp_path / "state.json", grace=0.0,
                          on_problem=lambda s: problems.append(f"{s.line} {s.reason}"))
        stats = watcher.run(threading.Event(), once=True)
        watcher.close()
        counted, bad = counted + stats.events, bad + stats.malformed
    assert (counted, bad) == (events, malformed)
    assert not any("combined" in p for p in problems), problems


# ------------------------------------------------------------------ Google Cloud Logging

GCP = DATA / "gcp-lb.log"


def test_gcp_every_field_lands(con: Any) -> None:
    report = load_events(con, [str(GCP)], max_malformed=0.0)
    assert (report.files[0].format, report.lines, report.events) == ("gcp", 5, 5)
    assert rows(con) == [
        # the absolute requestUrl keeps its path and query; nanoseconds cut to microseconds
        ("198.51.100.23", at(19, 123_456), "GET", "/records/search?q=smith%20jones&page=2", 200,
         3126, CHROME, "https://www.shop.example/", None),
        ("198.51.100.23", at(20, 500_000), "GET", "/", 200, 1893, CHROME,
         "https://www.shop.example/records/search?q=smith%20jones", None),
        ("66.249.66.1", at(21), "HEAD", "/robots.txt", 200, 231, GOOGLEBOT, None, None),
        ("2001:db8:85a3::8a2e:370:7334", at(22, 1), "POST", "/api/login", 403, 4386,
         "curl/8.5.0", None, None),
        # remoteIp "may include port information": the port is dropped
        ("192.0.2.44", at(23, 250_000), "GET", "/user/42?x=1", 404, 842,
         "python-requests/2.32.3", None, None),
    ]


def test_gcp_entries_without_what_a_request_needs(con: Any, tmp_path: Path) -> None:
    good = GCP.read_text().splitlines()[0]

    def without(*keys: str) -> str:
        entry = json.loads(good)
        for key in keys:
            where = entry
            *parents, last = key.split(".")
            for parent in parents:
                where = where[parent]
            del where[last]
        return json.dumps(entry)

    audit = json.dumps({"protoPayload": {"methodName": "SetIamPolicy"}, "severity": "NOTICE",
                        "timestamp": "2026-12-06T21:07:19Z"})
    report = load_lines(con, tmp_path, [good, audit, without("httpRequest.remoteIp"),
                                        without("timestamp"), without("httpRequest.requestUrl"),
                                        "[" + good + "]"], fmt="gcp")
    assert (report.events, report.malformed) == (1, 5)
    assert reasons(report) == [
        (2, "not a gcp access log line (no httpRequest)"),
        (3, "no client address (httpRequest.remoteIp)"),
        (4, "missing or unreadable time (timestamp)"),
        (5, "no httpRequest.requestUrl"),
        (6, "not a JSON object"),
    ]



# ------------------------------------------------------------------ Cloudflare Logpush

CLOUDFLARE = DATA / "cloudflare.log"


def test_cloudflare_every_field_lands(con: Any) -> None:
    report = load_events(con, [str(CLOUDFLARE)], max_malformed=0.0)
    assert (report.files[0].format, report.lines, report.events) == ("cloudflare", 5, 5)
    assert rows(con) == [
        ("198.51.100.23", at(19, 123_456), "GET", "/records/search?q=smith%20jones&page=2", 200,
         3126, CHROME, "https://www.shop.example/", None),
        ("198.51.100.23", at(20), "GET", "/caf%C3%A9/menu", 200, 1893, CHROME,
         "https://www.shop.example/records/search?q=smith%20jones", None),
        # Logpush writes an absent referer as ""
        ("66.249.66.1", at(21, 500_000), "HEAD", "/robots.txt", 200, 231, GOOGLEBOT, None, None),
        ("2001:db8:85a3::8a2e:370:7334", at(22, 1), "POST", "/api/login", 403, 4386,
         "curl/8.5.0", None, None),
        ("192.0.2.44", at(23, 250_000), "GET", "/user/42?x=1", 404, 842,
         "python-requests/2.32.3", None, None),
    ]


@pytest.mark.parametrize(("stamp", "expected"), [
    ("1796591239123456789", at(19, 123_456)),  # unixnano, the default
    ("1796591239", at(19)),  # unix
    ('"2026-12-06T21:07:19Z"', at(19)),  # rfc3339
    ('"2026-12-06T21:07:19.123Z"', at(19, 123_000)),  # rfc3339ms
    ("1796591239123", at(19, 123_000)),  # milliseconds
])
def test_cloudflare_every_logpush_time_format(con: Any, tmp_path: Path, stamp: str,
                                               expected: datetime) -> None:
    line = ('{"ClientIP":"192.0.2.1","ClientRequestURI":"/","EdgeStartTimestamp":' + stamp + "}")
    report = load_lines(con, tmp_path, [line])
    assert (report.files[0].format, report.events) == ("cloudflare", 1)
    assert con.execute("SELECT ts FROM events").fetchall() == [(expected,)]


def test_cloudflare_lines_without_what_a_request_needs(con: Any, tmp_path: Path) -> None:
    lines = ['{"ClientIP":"192.0.2.1","ClientRequestURI":"/","EdgeStartTimestamp":1796591239}',
             '{"ClientIP":"192.0.2.1","EdgeStartTimestamp":1796591239,"RayID":"8f0a"}',
             '{"ClientRequestURI":"/","EdgeStartTimestamp":1796591239}',
             '{"ClientIP":"192.0.2.1","ClientRequestURI":"/","EdgeStartTimestamp":"yesterday"}',
             '{"ClientIP":"","ClientRequestURI":"/","EdgeStartTimestamp":1796591239}']
    report = load_lines(con, tmp_path, lines, fmt="cloudflare")
    assert (report.events, report.malformed) == (1, 4)
    assert reasons(report) == [
        (2, "not a cloudflare access log line (no ClientRequestURI)"),
        (3, "no client address (ClientIP)"),
        (4, "missing or unreadable time (EdgeStartTimestamp)"),
        (5, "no client address (ClientIP)"),
    ]


def test_json_formats_are_told_apart(con: Any) -> None:
    for sample, name in ((GCP, "gcp"), (CLOUDFLARE, "cloudflare")):
        found = detect(con, sample.read_text().splitlines()[:2]).fmt
        assert found is not None
        assert found.name == name



# ------------------------------------------------------------------ Envoy

ENVOY = DATA / "envoy.log"


def envoy_rows() -> list[tuple[Any, ...]]:
    """The five requests of `envoy.log`, and of `istio.log`, which logs the same ones."""
    return [
        ("198.51.100.23", at(19, 123_000), "GET", "/records/search?q=smith%20jones&page=2", 200,
         3126, CHROME, None, None),
        ("198.51.100.23", at(20, 500_000), "GET", "/caf%C3%A9/menu", 200, 1893, CHROME, None,
         None),
        ("66.249.66.1", at(21), "HEAD", "/robots.txt", 200, 0, GOOGLEBOT, None, None),
        ("2001:db8:85a3::8a2e:370:7334", at(22), "POST", "/api/login", 403, 19, "curl/8.5.0",
         None, None),
        ("192.0.2.44", at(23, 250_000), "GET", "/user/42?x=1", 404, 842,
         "python-requests/2.32.3", None, None),
    ]


def test_envoy_every_field_lands(con: Any) -> None:
    report = load_events(con, [str(ENVOY)], max_malformed=0.0)
    assert (report.files[0].format, report.lines, report.events) == ("envoy", 5, 5)
    # the client is the right-most X-Forwarded-For entry, which an edge Envoy appends
    assert rows(con) == envoy_rows()


def test_envoy_forwarded_chain_as_every_format_reads_it(con: Any) -> None:
    """Behind a trusted balancer the client is the right-most untrusted entry; an entry the
    client wrote further left is never taken while the one Envoy appended is untrusted."""
    load_events(con, [str(ENVOY)], trusted_proxies=["192.0.2.0/24"])
    assert con.execute("SELECT ip FROM events WHERE status = 404").fetchall() == [
        ("203.0.113.9",)]
    assert con.execute("SELECT count(*) FROM events WHERE ip = '198.51.100.23'"
                       ).fetchone() == (2,)


def test_envoy_lines_it_cannot_read_say_why(con: Any, tmp_path: Path) -> None:
    stamp = "[2026-12-06T21:07:19.123Z]"
    tail = '"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "www.shop.example" "10.44.1.27:8080"'
    lines = [
        f'{stamp} "GET / HTTP/1.1" 200 - 0 12 1 1 "203.0.113.9, 192.0.2.44" "curl/8" {tail}',
        # a client's X-Forwarded-For of `6.6.6.6" "x` must not pass for the client
        f'{stamp} "GET / HTTP/1.1" 200 - 0 12 1 1 "6.6.6.6" "x, 192.0.2.44" "curl/8" {tail}',
        f'{stamp} "GET / HTTP/1.1" 200 - 0 12 1 1 "-" "curl/8" {tail}',
        f'{stamp} "- - -" 0 - 517 3926 20 - "-" "-" "-" "-" "10.44.1.27:5432"',  # TCP proxy
        '10.0.0.1 - - [06/Dec/2026:21:07:19 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8"',
        ISTIO.read_text().splitlines()[0],
    ]
    report = load_lines(con, tmp_path, lines, fmt="envoy")
    assert (report.events, report.malformed) == (1, 5)
    quotes = ("more double quotes than the format writes: a header held one, and Envoy does "
              "not escape them, so the fields cannot be told apart")
    no_xff = ("no X-Forwarded-For, the only place Envoy's default format logs the client (a TCP "
              "connection, or an Envoy that neither is the edge nor is behind a proxy)")
    assert reasons(report) == [(2, quotes), (3, no_xff), (4, no_xff), (5, "not an envoy line"),
                               (6, "not an envoy line")]
    assert con.execute("SELECT ip FROM events").fetchall() == [("192.0.2.44",)]


# ------------------------------------------------------------------ Istio

ISTIO = DATA / "istio.log"


def test_istio_every_field_lands(con: Any) -> None:
    report = load_events(con, [str(ISTIO)], max_malformed=0.0)
    assert (report.files[0].format, report.lines, report.events) == ("istio", 5, 5)
    # the client is DOWNSTREAM_REMOTE_ADDRESS without its port: the same five requests
    assert rows(con) == envoy_rows()
    load_events(con, [str(ISTIO)], trusted_proxies=["192.0.2.0/24"])
    assert con.execute("SELECT ip FROM events WHERE status = 404").fetchall() == [
        ("203.0.113.9",)]


def test_istio_lines_it_cannot_read_say_why(con: Any, tmp_path: Path) -> None:
    good = ISTIO.read_text().splitlines()[0]
    quoted = good.replace('"198.51.100.23"', '"6.6.6.6" "x, 198.51.100.23"')
    unset = good.replace("198.51.100.23:53120", "-")
    socket = good.replace("198.51.100.23:53120", "/var/run/ingress.sock")
    report = load_lines(con, tmp_path, [good, quoted, unset, socket,
                                        ENVOY.read_text().splitlines()[0]], fmt="istio")
    assert (report.events, report.malformed) == (1, 4)
    assert reasons(report) == [
        (2, "more double quotes than the format writes: a header held one, and Envoy does not "
            "escape them, so the fields cannot be told apart"),
        (3, "DOWNSTREAM_REMOTE_ADDRESS is no IP address (a connection over a Unix socket)"),
        (4, "DOWNSTREAM_REMOTE_ADDRESS is no IP address (a connection over a Unix socket)"),
        (5, "not an istio line"),
    ]


def test_envoy_and_istio_are_told_apart(con: Any) -> None:
    for sample, name in ((ENVOY, "envoy"), (ISTIO, "istio")):
        found = detect(con, sample.read_text().splitlines()[:2]).fmt
        assert found is not None
        assert found.name == name


# ------------------------------------------------------------------ analyze, end to end


@pytest.mark.parametrize("sample", [CLOUDFRONT, GCP, CLOUDFLARE, ENVOY, ISTIO],
                         ids=lambda p: p.stem)
def test_analyze_acts_alike_on_every_sample(sample: Path, tmp_path: Path) -> None:
    """The samples hold the same five requests in five vendors' shapes, so `analyze`
    must decide the same on each: the one refused login is challenged, nothing else. Every
    line of each sample reads, so no `--max-malformed` is needed."""
    out = tmp_path / "d.jsonl"
    run = CliRunner().invoke(app, ["analyze", str(sample), "--decisions", str(out)])
    assert run.exit_code == 0, run.output
    assert "5 lines, 5 events, 0 malformed" in run.output
    found = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(d["actor"], d["action"], d["rules"]) for d in found] == [
        ("ip:2001:db8:85a3::8a2e:370:7334", "challenge", ["login-refused"])]
