"""`scrapeguard.sources`: log files in, a table of events out, every line accounted for."""

from __future__ import annotations

import gzip
import io
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from realdata import CROWDSEC, ELASTIC
from scrapeguard.allowlist import FORWARDED_HOPS, TrustedProxies
from scrapeguard.errors import SourceError
from scrapeguard.events import EVENT_SQL_TYPES
from scrapeguard.sources import REGISTRY, LoadReport, get_format, load_events

LINE = ('203.0.113.7 - u_889 [17/May/2015:10:05:03 +0200] "GET /user/42?x=1 HTTP/1.1" 200 512 '
        '"-" "curl/8"')


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def write(path: Path, *lines: str | bytes, end: bytes = b"\n") -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + end for x in lines))
    return path


def rows(con: duckdb.DuckDBPyConnection, sql: str = "SELECT * FROM events") -> list[Any]:
    return con.execute(sql).fetchall()


def balanced(report: LoadReport) -> bool:
    """Every line is an event or a counted malformed line, per file and in total."""
    files = all(f.lines == f.events + f.malformed for f in report.files)
    return files and report.lines == report.events + report.malformed


# ------------------------------------------------------------------ real data


def test_elastic_log_is_read_whole_and_the_cut_user_agent_is_recovered(con: Any) -> None:
    report = load_events(con, [str(ELASTIC)])
    assert (report.lines, report.events, report.malformed, report.recovered) == (
        10_000, 10_000, 0, 1)
    assert report.recovered_reasons == {"closed an unterminated final quote": 1}
    [sample] = report.recovered_samples
    assert (sample.file, sample.line) == (str(ELASTIC), 8899)
    assert report.files[0].format == "combined"
    assert rows(con, "SELECT count(*) FROM events")[0][0] == 10_000
    ua = rows(con, "SELECT ua FROM events WHERE ip = '46.118.127.106' AND bytes = 235 "
                   "AND path = '/scripts/grok-py-test/configlib.py'")
    assert ua == [("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html",)]
    assert "recovered 1: closed an unterminated final quote" in report.summary()


def test_table_has_exactly_the_contract_columns(con: Any) -> None:
    con.execute("CREATE TABLE events AS SELECT 1 AS old")
    load_events(con, [str(ELASTIC)])
    described = rows(con, "DESCRIBE events")
    assert [(r[0], r[1]) for r in described] == [
        (name, "TIMESTAMP WITH TIME ZONE" if t == "TIMESTAMPTZ" else t)
        for name, t in EVENT_SQL_TYPES.items()
    ]
    assert rows(con, "SELECT count(*) FROM events WHERE ts IS NULL OR ip IS NULL") == [(0,)]


def test_crowdsec_malformed_requests_stay_events_with_the_raw_request_as_path(con: Any) -> None:
    log = CROWDSEC / "nginx-http-malformed" / "nginx_http-logs.log"
    report = load_events(con, [str(log)])
    assert (report.lines, report.events, report.malformed) == (12, 12, 0)
    got = rows(con, "SELECT method, path, status FROM events WHERE path IN ('HELP', 'batman')")
    assert sorted(got) == [(None, "HELP", 400), (None, "batman", 400)]
    junk = rows(con, "SELECT count(*) FROM events WHERE method IS NULL AND path LIKE '%\\x%'")
    assert junk[0][0] >= 8  # binary junk kept as logged, escapes and all


@pytest.mark.parametrize("fixture", sorted(p.name for p in CROWDSEC.iterdir() if p.is_dir()))
def test_every_crowdsec_fixture_line_is_counted(con: Any, fixture: str) -> None:
    logs = sorted(str(p) for p in (CROWDSEC / fixture).glob("*.log"))
    if not logs:
        pytest.skip("no log in this fixture")
    report = load_events(con, logs)
    nonblank = sum(
        1 for log in logs for raw in Path(log).read_bytes().split(b"\n") if raw.rstrip(b"\r"))
    assert report.lines == nonblank
    assert balanced(report)
    assert rows(con, "SELECT count(*) FROM events")[0][0] == report.events


def test_ipv6_clients_are_kept_in_canonical_form(con: Any, tmp_path: Path) -> None:
    load_events(con, [str(CROWDSEC / "ipv6-postoverflow" / "ipv6-postoverflow.log")])
    assert rows(con, "SELECT DISTINCT ip FROM events") == [("2001:db8:85a3::8a2e:370:7334",)]
    log = write(tmp_path / "v6.log", LINE.replace("203.0.113.7", "::ffff:203.0.113.9"),
                LINE.replace("203.0.113.7", "2001:DB8::0001"), LINE.replace("203.0.113.7", "::1"))
    load_events(con, [str(log)])
    assert sorted(r[0] for r in rows(con, "SELECT ip FROM events")) == [
        "2001:db8::1", "203.0.113.9", "::1"]


# ------------------------------------------------------------------ fields


def test_time_zone_is_converted_to_utc_and_fields_mapped(con: Any, tmp_path: Path) -> None:
    load_events(con, [str(write(tmp_path / "a.log", LINE))])
    [row] = rows(con)
    assert row == (
        datetime(2015, 5, 17, 8, 5, 3, tzinfo=UTC), "203.0.113.7", "GET", "/user/42?x=1", 200,
        512, "curl/8", None, "u_889", None, None, None, None, None)


def test_common_log_and_dashes(con: Any, tmp_path: Path) -> None:
    common = '198.51.100.4 - - [01/Jan/2024:00:00:00 -0130] "HEAD / HTTP/1.0" 304 -'
    log = write(tmp_path / "c.log", common)
    report = load_events(con, [str(log)])
    assert report.files[0].format == "common"
    assert rows(con, "SELECT ts, account, bytes, ua, referer FROM events") == [
        (datetime(2024, 1, 1, 1, 30, tzinfo=UTC), None, 0, None, None)]


def test_request_that_is_not_method_path_protocol(con: Any, tmp_path: Path) -> None:
    log = write(
        tmp_path / "r.log",
        LINE.replace("GET /user/42?x=1 HTTP/1.1", "-"),
        LINE.replace("GET /user/42?x=1 HTTP/1.1", "PROPPATCH /dav/x HTTP/1.1"),
        LINE.replace("GET /user/42?x=1 HTTP/1.1", "GET /a b HTTP/1.1"),
        LINE.replace("GET /user/42?x=1 HTTP/1.1", "GET /old"),
        LINE.replace("GET /user/42?x=1 HTTP/1.1", r"GET /q?x=\"y\" HTTP/1.1"),
    )
    report = load_events(con, [str(log)])
    assert report.events == 5
    assert sorted(rows(con, "SELECT method, path FROM events"), key=str) == sorted([
        (None, "-"), ("PROPPATCH", "/dav/x"), ("GET", "/a b"), ("GET", "/old"),
        ("GET", r"/q?x=\"y\""),
    ], key=str)


def test_trailing_fields_are_tolerated(con: Any, tmp_path: Path) -> None:
    log = write(tmp_path / "t.log", LINE + " 0.004 0.003 -", LINE + ' "x" "y" "z" "w" "v" "u" "t"')
    report = load_events(con, [str(log)])
    assert (report.events, report.malformed) == (2, 0)
    assert rows(con, "SELECT DISTINCT ua, path FROM events") == [("curl/8", "/user/42?x=1")]


# ------------------------------------------------------------------ X-Forwarded-For

XFF_LINES = [
    LINE.replace("203.0.113.7", "10.0.0.1") + ' "198.51.100.9, 10.0.0.2"',
    LINE.replace("203.0.113.7", "10.0.0.1") + ' "10.0.0.5, 10.0.0.2"',
    LINE.replace("203.0.113.7", "10.0.0.1") + ' "-"',
    LINE.replace("203.0.113.7", "198.51.100.50") + ' "192.0.2.1"',
    LINE.replace("203.0.113.7", "10.0.0.1").replace("/user/42", r"/a\"b") + ' "2001:db8::7"',
]


def test_xff_is_used_only_behind_a_trusted_proxy(con: Any, tmp_path: Path) -> None:
    log = str(write(tmp_path / "x.log", *XFF_LINES))
    load_events(con, [log], trusted_proxies=["10.0.0.0/8"])
    assert sorted(r[0] for r in rows(con, "SELECT ip FROM events")) == sorted(
        ["198.51.100.9", "10.0.0.5", "10.0.0.1", "198.51.100.50", "2001:db8::7"])
    load_events(con, [log])
    assert sorted(r[0] for r in rows(con, "SELECT ip FROM events")) == sorted(
        ["10.0.0.1"] * 4 + ["198.51.100.50"])
    assert rows(con, "SELECT count(*) FROM duckdb_functions() WHERE function_name LIKE '_sg%'") == [
        (0,)]


def test_only_the_right_most_forwarded_hops_are_read_as_by_the_middleware(
    con: Any, tmp_path: Path
) -> None:
    """Every hop of a forged header of thousands used to be parsed; past FORWARDED_HOPS from
    the right, entries are the client's own writing, and the log reader and the middleware
    stop at the same place."""
    trusted = ["10.0.0.0/8"]
    headers = [
        "1," * 3000 + "198.51.100.9, 10.0.0.2",  # a forged run, then the real chain
        "198.51.100.7, " + "10.0.0.9, " * 20 + "10.0.0.2",  # more trusted hops than are read
        "198.51.100.7, " + "10.0.0.9, " * (FORWARDED_HOPS - 2) + "10.0.0.2",  # all are read
    ]
    peer = LINE.replace("203.0.113.7", "10.0.0.1")
    log = write(tmp_path / "x.log", *[f'{peer} "{h}"' for h in headers])
    load_events(con, [str(log)], trusted_proxies=trusted)
    live = TrustedProxies(trusted)
    assert [r[0] for r in rows(con, "SELECT ip FROM events ORDER BY ip")] == sorted(
        live.resolve("10.0.0.1", h) for h in headers)
    assert sorted(live.resolve("10.0.0.1", h) for h in headers) == [
        "10.0.0.9", "198.51.100.7", "198.51.100.9"]


def test_invalid_trusted_proxy_is_a_source_error(con: Any) -> None:
    with pytest.raises(SourceError, match="invalid trusted proxy"):
        load_events(con, [str(ELASTIC)], trusted_proxies=["10.0.0.0/33"])


# ------------------------------------------------------------------ damage


def test_invalid_utf8_is_recovered_with_its_line_number(con: Any, tmp_path: Path) -> None:
    bad = LINE.replace("/user/42", "/caf\xe9").encode("latin-1")
    report = load_events(con, [str(write(tmp_path / "u.log", LINE, LINE, bad, LINE))])
    assert (report.lines, report.events, report.malformed, report.recovered) == (4, 4, 0, 1)
    [sample] = report.recovered_samples
    assert (sample.line, sample.reason) == (3, "invalid UTF-8 decoded with replacement")
    assert rows(con, "SELECT count(*) FROM events WHERE path = '/caf\ufffd?x=1'") == [(1,)]


def test_gzip_is_read(con: Any, tmp_path: Path) -> None:
    path = tmp_path / "a.log.gz"
    path.write_bytes(gzip.compress((LINE + "\n").encode() * 1000))
    report = load_events(con, [str(path)])
    assert (report.events, report.notes) == (1000, [])


def test_broken_gzip_keeps_the_lines_before_the_break(con: Any, tmp_path: Path) -> None:
    data = gzip.compress("".join(LINE.replace("42", str(i)) + "\n" for i in range(20000)).encode())
    path = tmp_path / "cut.log.gz"
    path.write_bytes(data[: len(data) // 2])
    report = load_events(con, [str(path)])
    [note] = report.notes
    assert note.startswith(f"broken gzip at byte {len(data) // 2} of {path} after ")
    kept = int(note.split(" after ")[1].split()[0])
    assert 1000 < kept < 20000
    assert report.lines == kept
    assert balanced(report)
    assert report.events >= kept - 1  # only the line cut in half may be malformed
    assert rows(con, "SELECT count(*) FROM events WHERE path = '/user/0?x=1'") == [(1,)]


def test_damaged_gzip_is_not_trusted_silently(con: Any, tmp_path: Path) -> None:
    data = bytearray(gzip.compress((LINE + "\n").encode() * 5000))
    data[len(data) // 2] ^= 0x01
    path = tmp_path / "flip.log.gz"
    path.write_bytes(bytes(data))
    report = load_events(con, [str(path)])
    assert any(n.startswith("broken gzip") for n in report.notes)
    assert balanced(report)


def test_other_compressions_are_refused_with_a_way_forward(con: Any, tmp_path: Path) -> None:
    path = tmp_path / "a.log.xz"
    path.write_bytes(b"\xfd7zXZ\x00" + b"\x00" * 20)
    with pytest.raises(SourceError, match="xz -dc"):
        load_events(con, [str(path)])


def test_mixed_line_endings_and_bare_carriage_returns(con: Any, tmp_path: Path) -> None:
    cr = LINE.replace("/user", "/a\rb")  # a bare CR is a line break: two malformed halves
    log = write(tmp_path / "m.log", LINE, LINE.encode() + b"\r", cr, LINE)
    report = load_events(con, [str(log)])
    assert (report.lines, report.events, report.malformed) == (5, 3, 2)
    assert [s.line for s in report.samples] == [3, 3]
    assert any("read line by line" in n for n in report.notes)


def test_junk_blank_and_overlong_lines(con: Any, tmp_path: Path) -> None:
    log = write(tmp_path / "j.log", LINE, b"", b"   ", b"\x00\x01\xff", b"x" * 600_000,
                b"y" * 3_000_000, b"", LINE)
    report = load_events(con, [str(log)])
    assert (report.lines, report.events, report.malformed) == (6, 2, 4)
    assert [s.line for s in report.samples] == [3, 4, 5, 6]
    assert report.samples[3].reason == "line of 3,000,000 bytes is longer than 524,288"
    assert [len(s.text) for s in report.samples] == [3, 3, 200, 200]


def test_strict_mode_raises_with_file_and_line_and_keeps_the_old_table(
    con: Any, tmp_path: Path
) -> None:
    con.execute("CREATE TABLE events AS SELECT 42 AS old")
    log = write(tmp_path / "s.log", LINE, "not a log line", LINE)
    with pytest.raises(SourceError, match=rf"{log}:2: not a combined log line"):
        load_events(con, [str(log)], strict=True)
    assert rows(con) == [(42,)]
    assert load_events(con, [str(log)]).malformed == 1  # without strict: counted, not raised


# ------------------------------------------------------------------ inputs


def test_globs_are_expanded_sorted_and_missing_files_are_errors(con: Any, tmp_path: Path) -> None:
    for name in ["b.log", "a.log", "c.txt"]:
        write(tmp_path / name, LINE)
    report = load_events(con, [str(tmp_path / "*.log")])
    assert [f.name for f in report.files] == [str(tmp_path / "a.log"), str(tmp_path / "b.log")]
    with pytest.raises(SourceError, match="no such file"):
        load_events(con, [str(tmp_path / "nope.log")])
    with pytest.raises(SourceError, match="no files match"):
        load_events(con, [str(tmp_path / "*.nope")])
    with pytest.raises(SourceError, match="is a directory"):
        load_events(con, [str(tmp_path)])


def test_stdin(con: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    data = gzip.compress((LINE + "\n").encode() * 3)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    report = load_events(con, ["-"])
    assert (report.files[0].name, report.events) == ("<stdin>", 3)


def test_empty_file(con: Any, tmp_path: Path) -> None:
    report = load_events(con, [str(write(tmp_path / "e.log", b"", end=b""))])
    assert (report.lines, report.files[0].format) == (0, None)
    assert rows(con, "SELECT count(*) FROM events") == [(0,)]


def test_progress_reaches_the_total(con: Any, tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    load_events(con, [str(ELASTIC), str(write(tmp_path / "p.log", LINE))],
                progress=lambda done, total: seen.append((done, total)))
    total = ELASTIC.stat().st_size + len(LINE) + 1
    assert seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert rows(con, "SELECT current_setting('enable_progress_bar')") == [(False,)]


# ------------------------------------------------------------------ formats


def test_detection_and_override(con: Any, tmp_path: Path) -> None:
    combined = str(write(tmp_path / "c.log", LINE))
    jsonl = str(write(tmp_path / "j.jsonl", '{"ts": 1700000000, "ip": "192.0.2.1"}'))
    report = load_events(con, [combined, jsonl])
    assert [f.format for f in report.files] == ["combined", "jsonl"]
    assert report.events == 2
    report = load_events(con, [combined], fmt="common")
    assert report.files[0].format == "common"
    assert rows(con, "SELECT ua, referer FROM events") == [(None, None)]
    report = load_events(con, [jsonl], fmt="combined")
    assert (report.events, report.malformed) == (0, 1)
    with pytest.raises(SourceError, match=r"unknown log format 'nginx'.*combined, common, .*jsonl"):
        load_events(con, [combined], fmt="nginx")


def test_unrecognised_files_are_counted_not_dropped(con: Any, tmp_path: Path) -> None:
    report = load_events(con, [str(write(tmp_path / "x.log", "hello", "world"))])
    assert (report.lines, report.malformed) == (2, 2)
    assert "no known format" in report.notes[0]


def test_registry_declares_each_format() -> None:
    assert list(REGISTRY) == ["combined", "common", "caddy", "traefik", "gcp", "cloudflare",
                              "jsonl", "vhost_combined", "syslog_combined", "haproxy", "alb",
                              "envoy", "istio", "w3c", "cloudfront"]
    assert get_format("jsonl").name == "jsonl"
    assert all(fmt.description for fmt in REGISTRY.values())


def test_jsonl_keeps_null_apart_from_empty_and_checks_types(con: Any, tmp_path: Path) -> None:
    log = write(
        tmp_path / "e.jsonl",
        '{"ts": "2021-03-02T08:03:11.120Z", "ip": "192.0.2.1", "subjects": ["u1", "u2"], '
        '"fields": ["phone"], "account": "u_889", "extra": {"x": 1}}',
        '{"ts": 1614672191, "ip": "192.0.2.2", "subjects": [], "fields": null}',
        '{"ts": 1614672191123, "ip": "192.0.2.3", "status": "404", "bytes": 9}',
        '{"ts": "2021-03-02 10:03:11+02:00", "ip": "192.0.2.4", "subjects": null}',
        '{"ts": "2021-03-02T08:03:11", "ip": "192.0.2.5", "session": "s1"}',
        "",
        "[1, 2]", "{not json", '{"ip": "192.0.2.6"}', '{"ts": 1, "ip": ""}',
        '{"ts": 1, "ip": "x", "subjects": "u1"}', '{"ts": "soon", "ip": "x"}',
    )
    con.execute("SET TimeZone = 'America/New_York'")  # a naive time still means UTC
    report = load_events(con, [str(log)])
    assert rows(con, "SELECT current_setting('TimeZone')") == [("America/New_York",)]
    assert (report.lines, report.events, report.malformed) == (11, 5, 6)
    assert [s.reason for s in report.samples] == [
        "not a JSON object", "not a JSON object", "missing ts", "missing ip",
        "subjects has the wrong type", "unreadable ts"]
    got = rows(con, "SELECT ip, ts, subjects, fields, status, bytes FROM events ORDER BY ip")
    base = datetime(2021, 3, 2, 8, 3, 11, tzinfo=UTC)
    assert got == [
        ("192.0.2.1", base.replace(microsecond=120000), ["u1", "u2"], ["phone"], None, None),
        ("192.0.2.2", base, [], None, None, None),
        ("192.0.2.3", base.replace(microsecond=123000), None, None, 404, 9),
        ("192.0.2.4", base, None, None, None, None),
        ("192.0.2.5", base, None, None, None, None),
    ]


def test_summary_and_json_report(con: Any, tmp_path: Path) -> None:
    report = load_events(con, [str(write(tmp_path / "s.log", LINE, "oops"))])
    text = report.summary()
    assert "Read 1 file: 2 lines, 1 event, 1 malformed, 0 recovered." in text
    assert f"{tmp_path / 's.log'}:2: not a combined log line: oops" in text
    data = report.to_json()
    assert data["files"][0]["samples"][0] == {
        "file": str(tmp_path / "s.log"), "line": 2, "reason": "not a combined log line",
        "text": "oops"}


def test_samples_are_the_first_lines_even_in_a_parallel_scan(con: Any, tmp_path: Path) -> None:
    """Big enough for DuckDB to split the scan across threads, which may reorder rows."""
    good = (LINE + "\n").encode()
    bad = LINE.replace("/user", "/caf\xe9").encode("latin-1") + b"\n"
    body = b"".join(bad if i % 2 else good for i in range(200_000))
    body += b"".join(b"oops %d\n" % i if i % 5000 == 4999 else good for i in range(100_000))
    report = load_events(con, [str(write(tmp_path / "big.log", body, end=b""))])
    assert (report.events, report.malformed, report.recovered) == (299_980, 20, 100_000)
    assert [s.line for s in report.recovered_samples] == list(range(2, 22, 2))
    assert [s.line for s in report.samples] == [200_000 + 5000 * k for k in range(1, 11)]
    assert report.samples[0].text == "oops 4999"


@pytest.mark.parametrize("suffix", ["", "/"])
def test_a_directory_is_refused_with_a_pattern_that_works(tmp_path: Path, suffix: str) -> None:
    """`analyze logs/` (a shell completes a folder with its slash) suggested 'logs//*.log'."""
    from scrapeguard.sources.inputs import expand

    with pytest.raises(SourceError) as caught:
        expand([f"{tmp_path}{suffix}"])
    assert str(caught.value) == (f"{tmp_path}{suffix} is a directory; name the files, e.g. "
                                 f"'{tmp_path}/*.log'")
