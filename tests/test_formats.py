"""Formats real servers write: each sample in tests/data/formats is detected and read right,
and a file mostly unreadable in its format is an error, never a quiet near-empty result."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from scrapeguard.cli import app
from scrapeguard.errors import SourceError
from scrapeguard.sources import load_events
from scrapeguard.sources.detect import detect
from scrapeguard.sources.malformed import parse_share
from scrapeguard.sources.nginx import log_format_from_conf, nginx_format, translate

DATA = Path(__file__).parent / "data" / "formats"
CONF = DATA / "nginx.conf"
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
REF = "https://shop.example/search?q=anna"
COMBINED = ('203.0.113.7 - u_889 [17/May/2015:10:05:03 +0200] "GET /user/42?x=1 HTTP/1.1" 200 '
            '512 "-" "curl/8"')
COLUMNS = "ip, ts, method, path, status, bytes, ua, referer"


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def at(second: int, micro: int = 0) -> datetime:
    return datetime(2026, 12, 6, 21, 7, second, micro, tzinfo=UTC)


def first(con: Any) -> tuple[Any, ...]:
    row = con.execute(f"SELECT {COLUMNS} FROM events ORDER BY ts LIMIT 1").fetchone()
    return tuple(row)


# file, detected format, lines, the earliest event (ip, ts, method, path, status, bytes, ua, ref)
SAMPLES = [
    ("apache-vhost_combined.log", "vhost_combined", 6,
     ("127.0.0.1", at(19), "GET", "/user/42?x=1&y=2", 404, 397, FIREFOX, REF)),
    ("nginx-host.log", "vhost_combined", 14,
     ("127.0.0.1", at(19), "GET", "/user/42?x=1&y=2", 200, 3, FIREFOX, REF)),
    ("nginx-syslog.log", "syslog_combined", 14,
     ("127.0.0.1", at(19), "GET", "/user/42?x=1&y=2", 200, 3, FIREFOX, REF)),
    ("nginx-syslog5424.log", "syslog_combined", 14,
     ("127.0.0.1", at(19), "GET", "/user/42?x=1&y=2", 200, 3, FIREFOX, REF)),
    ("haproxy.log", "haproxy", 6,
     ("127.0.0.1", at(19, 830_000), "GET", "/user/42?x=1&y=2", 200, 125, None, None)),
    ("caddy.log", "caddy", 5,
     ("127.0.0.1", at(19, 978_869), "GET", "/user/42?x=1&y=2", 200, 2, FIREFOX, REF)),
    ("traefik.log", "traefik", 4,
     ("203.0.113.7", at(19, 123_456), "GET", "/user/42?x=1&y=2", 200, 512, FIREFOX, REF)),
    ("alb.log", "alb", 4,
     ("203.0.113.7", at(19, 186_641), "GET", "/user/42?x=1&y=2", 200, 366, "curl/7.46.0", None)),
    ("cloudfront.log", "cloudfront", 5,
     ("198.51.100.23", at(19), "GET", "/records/search?q=smith%20jones&page=2", 200, 3126,
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36", "https://www.shop.example/")),
    ("gcp-lb.log", "gcp", 5,
     ("198.51.100.23", at(19, 123_456), "GET", "/records/search?q=smith%20jones&page=2", 200,
      3126, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36", "https://www.shop.example/")),
    ("envoy.log", "envoy", 5,
     ("198.51.100.23", at(19, 123_000), "GET", "/records/search?q=smith%20jones&page=2", 200,
      3126, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36", None)),
    ("istio.log", "istio", 5,
     ("198.51.100.23", at(19, 123_000), "GET", "/records/search?q=smith%20jones&page=2", 200,
      3126, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36", None)),
    ("cloudflare.log", "cloudflare", 5,
     ("198.51.100.23", at(19, 123_456), "GET", "/records/search?q=smith%20jones&page=2", 200,
      3126, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36", "https://www.shop.example/")),
]


@pytest.mark.parametrize(("name", "fmt", "lines", "event"), SAMPLES, ids=[s[1] + ":" + s[0]
                                                                           for s in SAMPLES])
def test_sample_is_detected_and_read(
    con: Any, name: str, fmt: str, lines: int, event: tuple[Any, ...]
) -> None:
    report = load_events(con, [str(DATA / name)], max_malformed=0.0)
    assert report.files[0].format == fmt
    assert (report.lines, report.events, report.malformed) == (lines, lines, 0)
    assert first(con) == event


def test_each_sample_detects_from_its_first_lines_alone(con: Any) -> None:
    for name, fmt, _, _ in SAMPLES:
        sample = (DATA / name).read_text().splitlines()[:3]
        found = detect(con, sample).fmt
        assert found is not None, name
        assert found.name == fmt, name
    combined = detect(con, [COMBINED]).fmt
    assert combined is not None
    assert combined.name == "combined"  # no new format claims a plain combined line


def test_a_quoted_user_agent_stays_whole(con: Any) -> None:
    load_events(con, [str(DATA / "apache-vhost_combined.log")])
    assert con.execute("SELECT ua FROM events WHERE status = 404 AND path = '/missing?id=7'"
                       ).fetchall() == [('Scraper \\"quoted\\" agent',)]
    load_events(con, [str(DATA / "caddy.log")])
    assert con.execute("SELECT ua FROM events WHERE status = 404").fetchall() == [
        ('Scraper "quoted" agent',)]


def test_haproxy_without_syslog_header_and_alb_other_schemes(con: Any, tmp_path: Path) -> None:
    raw = tmp_path / "raw.log"
    raw.write_text("".join(line.split(": ", 1)[1] + "\n"
                           for line in (DATA / "haproxy.log").read_text().splitlines()))
    report = load_events(con, [str(raw)])
    assert (report.files[0].format, report.events) == ("haproxy", 6)
    load_events(con, [str(DATA / "alb.log")])
    assert con.execute("SELECT path, status FROM events ORDER BY ts").fetchall() == [
        ("/user/42?x=1&y=2", 200), ("/", 200), ("/api/login", 404), ("/ws?room=7", 101)]


# ------------------------------------------------------------------ nginx log_format


def test_nginx_log_format_from_conf_reads_cookie_xff_and_upstream(con: Any) -> None:
    fmt = nginx_format(log_format_from_conf(CONF, "custom"))
    report = load_events(con, [str(DATA / "nginx-custom.log")], fmt=fmt, max_malformed=0.0)
    assert (report.files[0].format, report.events, report.malformed) == ("nginx", 14, 0)
    assert first(con) == ("127.0.0.1", at(19), "GET", "/user/42?x=1&y=2", 200, 3, FIREFOX, REF)
    assert con.execute("SELECT session FROM events WHERE session IS NOT NULL").fetchall() == [
        ("s_41f2",), ("s_41f2",)]  # the direct request and its HAProxy-relayed twin
    load_events(con, [str(DATA / "nginx-custom.log")], fmt=fmt, trusted_proxies=["127.0.0.1"])
    ips = con.execute("SELECT DISTINCT ip FROM events ORDER BY ip").fetchall()
    assert ips == [("127.0.0.1",), ("198.51.100.23",)]


def test_nginx_iso_time_request_uri_and_bytes_sent(con: Any) -> None:
    fmt = nginx_format(log_format_from_conf(CONF, "iso"))
    report = load_events(con, [str(DATA / "nginx-iso.log")], fmt=fmt, max_malformed=0.0)
    assert report.events == 14
    assert first(con) == ("127.0.0.1", at(19), "GET", "/user/42?x=1&y=2", 200, 150, FIREFOX,
                          None)


def test_nginx_msec_and_uri_with_args(con: Any) -> None:
    """`$uri?$args` rebuilds the path (`-` args: none); `$msec` gives the millisecond; the
    variables `$time_iso8601` and `$request_uri` here are read through unknown names."""
    fmt = nginx_format('$x_time $msec $remote_addr $request_method $x_uri uri=$uri args=$args '
                       '$status $bytes_sent $request_time "$http_user_agent"')
    load_events(con, [str(DATA / "nginx-iso.log")], fmt=fmt, max_malformed=0.0)
    rows = con.execute("SELECT ts, path FROM events ORDER BY ts LIMIT 2").fetchall()
    assert rows == [(at(19, 541_000), "/user/42?x=1&y=2"), (at(19, 569_000), "/")]


def test_translate_roles_and_shapes() -> None:
    pattern, roles = translate('$host:$server_port $remote_addr [$time_local] "$request" '
                               '$status $body_bytes_sent $bytes_sent $upstream_addr '
                               '$cookie_a $cookie_b')
    assert roles == ("ip", "ts_clf", "request", "status", "bytes", "session")
    assert pattern.count("(?:") >= 5  # host, port, bytes_sent, upstream, the second cookie
    assert translate("$remote_addr$remote_user$request_time")[0] == "(.*?)(.*?)(?:[0-9.]+|-)"


def test_nginx_conf_parsing(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text("""http {
      # log_format commented '$nothing';
      log_format  main  escape=json '{"ip":"$remote_addr",'
                                    "\\"t\\":\\"$time_iso8601\\"}";
      access_log /var/log/nginx/access.log main;
    }""")
    assert log_format_from_conf(conf) == '{"ip":"$remote_addr","t":"$time_iso8601"}'
    assert log_format_from_conf(conf, "combined").startswith("$remote_addr - $remote_user")
    with pytest.raises(SourceError, match="no log_format 'other'"):
        log_format_from_conf(conf, "other")
    with pytest.raises(SourceError, match="lacks a time"):
        nginx_format("$remote_addr $status")


def test_cli_log_format_and_nginx_conf(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    run = CliRunner().invoke(app, ["analyze", str(DATA / "nginx-iso.log"), "-q", "--summary-json",
                                   str(out), "--nginx-conf", str(CONF), "--log-format", "iso"])
    assert run.exit_code == 0, run.output
    summary = out.read_text()
    assert '"format": "nginx"' in summary
    assert '"malformed": 0' in summary
    for args, error in (
        (["--nginx-conf", str(CONF)], "defines several log_format"),
        (["--log-format", "$remote_addr $status"], "lacks a time"),
        (["--log-format", COMBINED, "--format", "combined"], "not both"),
    ):
        run = CliRunner().invoke(app, ["analyze", str(DATA / "nginx-iso.log"), "-q", *args])
        assert run.exit_code == 2, args
        assert error in run.output, args


# ------------------------------------------------------------------ the malformed-line limit


def _mixed(tmp_path: Path, good: int, bad: int) -> Path:
    lines = [COMBINED] * good
    for i in range(bad):
        lines.insert(2 + i * 3, f"[/bold] junk {i}")  # markup-like text must print as text
    path = tmp_path / "mixed.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_more_than_the_share_of_malformed_lines_is_an_error(con: Any, tmp_path: Path) -> None:
    log = _mixed(tmp_path, 100, 6)
    with pytest.raises(SourceError) as caught:
        load_events(con, [str(log)], max_malformed=0.05)
    message = str(caught.value)
    assert "6 of 106 lines (6%) do not parse as combined, more than the 5% allowed" in message
    assert f"{log}:3: not a combined log line: [/bold] junk 0" in message
    assert load_events(con, [str(log)], max_malformed=0.06).malformed == 6
    assert load_events(con, [str(_mixed(tmp_path, 100, 5))], max_malformed=0.05).events == 100


def test_an_unknown_format_is_an_error_not_zero_events(con: Any, tmp_path: Path) -> None:
    log = tmp_path / "odd.log"
    log.write_text("".join(f"{i} something else entirely\n" for i in range(30)))
    with pytest.raises(SourceError, match=r"(?s)30 of 30 lines .* no known format reads"):
        load_events(con, [str(log)], max_malformed=0.05)


def test_cli_max_malformed(tmp_path: Path) -> None:
    log = str(_mixed(tmp_path, 100, 6))
    run = CliRunner().invoke(app, ["analyze", log, "-q"])
    assert run.exit_code == 2
    assert "6 of 106 lines" in run.output
    assert "[/bold] junk 0" in run.output
    assert CliRunner().invoke(app, ["analyze", log, "-q", "--max-malformed", "10%"]
                              ).exit_code == 0
    run = CliRunner().invoke(app, ["analyze", log, "-q", "--max-malformed", "10"])
    assert run.exit_code == 2
    assert "outside 0" in run.output


def test_parse_share() -> None:
    assert parse_share("5%") == pytest.approx(0.05)
    assert parse_share("0.2") == pytest.approx(0.2)
    assert parse_share("100%") == 1.0
    for bad in ("5", "-1%", "lots"):
        with pytest.raises(SourceError):
            parse_share(bad)


def test_policy_names_the_log_format(tmp_path: Path) -> None:
    from scrapeguard.analysis import analyze
    from scrapeguard.policy.load import load_policy

    pack = tmp_path / "pack.yaml"
    lf = log_format_from_conf(CONF, "iso").replace("'", "''")
    pack.write_text(f"extends: default\nlog_format: '{lf}'\n")
    policy = load_policy(pack)
    assert policy.log_format == log_format_from_conf(CONF, "iso")
    result = analyze([str(DATA / "nginx-iso.log")], policy=policy, max_malformed=0.0)
    assert (result.load.files[0].format, result.load.events) == ("nginx", 14)


def test_syslog_and_haproxy_header_variants(con: Any, tmp_path: Path) -> None:
    """Headers other relays write: the raw datagram (PRI, no host), rsyslog's RFC 3339 time,
    journalctl's zero-padded day, RFC 5424 with structured data; HAProxy from IPv6 with
    captured headers."""
    body = (DATA / "nginx-syslog.log").read_text().splitlines()[0].split(": ", 1)[1]
    heads = ["<190>Dec  6 21:07:19 nginx: ", "2026-12-06T21:07:19.123456+00:00 vm nginx[12]: ",
             "Dec 06 21:07:19 vm nginx[12]: ",
             '<190>1 2026-12-06T21:07:19Z vm nginx 12 - [origin ip="10.0.0.1"][x@1 a="\\]"] ']
    log = tmp_path / "syslog.log"
    log.write_text("".join(head + body + "\n" for head in heads))
    report = load_events(con, [str(log)], max_malformed=0.0)
    assert (report.files[0].format, report.events) == ("syslog_combined", 4)
    assert con.execute("SELECT DISTINCT ua FROM events").fetchall() == [(FIREFOX,)]
    haproxy = tmp_path / "haproxy.log"
    haproxy.write_text(
        "<134>Dec  6 21:07:19 haproxy[8363]: 2001:db8::7:41036 [06/Dec/2026:21:07:19.830] "
        "shop app/nginx1 0/0/0/0/0 200 125 - - ---- 1/1/0/0/0 0/0 {Mozilla/5.0|-} {} "
        '"GET /a?b=1 HTTP/1.1"\n')
    assert load_events(con, [str(haproxy)], max_malformed=0.0).files[0].format == "haproxy"
    assert first(con)[:5] == ("2001:db8::7", at(19, 830_000), "GET", "/a?b=1", 200)


def test_the_limit_is_per_file(con: Any, tmp_path: Path) -> None:
    good = tmp_path / "good.log"
    good.write_text((COMBINED + "\n") * 200)
    bad = _mixed(tmp_path, 20, 3)
    with pytest.raises(SourceError) as caught:
        load_events(con, [str(good), str(bad)], max_malformed=0.05)
    assert str(caught.value).startswith(f"{bad}: 3 of 23 lines")
    assert str(good) not in str(caught.value)


def test_policy_check_reports_an_unusable_log_format(tmp_path: Path) -> None:
    from scrapeguard.policy.load import check_policy

    pack = tmp_path / "pack.yaml"
    pack.write_text("extends: default\nlog_format: '$remote_addr \"$request\" $status'\n")
    [issue] = check_policy(pack)
    assert issue.severity == "error"
    assert "log_format: the log_format" in str(issue)
    assert "lacks a time" in str(issue)
    assert str(issue).startswith(f"{pack}:2:")


def test_haproxy_messages_that_are_not_requests_say_so(con: Any, tmp_path: Path) -> None:
    log = tmp_path / "haproxy.log"
    lines = (DATA / "haproxy.log").read_text().splitlines()
    lines.insert(1, "Dec  6 21:07:19 localhost haproxy[8363]: 127.0.0.1:50033 "
                    "[06/Dec/2026:21:07:19.123] shop/1: SSL handshake failure")
    lines.insert(2, "Dec  6 21:07:19 localhost haproxy[8363]: Proxy shop started.")
    log.write_text("\n".join(lines) + "\n")
    report = load_events(con, [str(log)])
    assert (report.events, report.malformed) == (6, 2)
    assert [(s.line, s.reason[:20]) for s in report.samples] == [
        (2, "a connection message"), (3, "a HAProxy status mes")]


def test_report_affected_takes_the_log_format_too(tmp_path: Path) -> None:
    decisions = tmp_path / "d.jsonl"
    decisions.write_text("")
    run = CliRunner().invoke(app, ["report", "affected", str(DATA / "nginx-iso.log"),
                                   "--decisions", str(decisions), "--out",
                                   str(tmp_path / "a.csv"), "--nginx-conf", str(CONF),
                                   "--log-format", "nope"])
    assert run.exit_code == 2
    assert "has no log_format 'nope'" in run.output
