"""Lines that parse into legal-looking events with hostile values, through every command.

The loaders' own fuzzing (`test_fuzz.py`) stops at the events table; these are what the
end-to-end fuzzer (docs/reliability.md, "After loading") found past it: each input is a few
inline lines, each test fails on the code before its fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from scrapeguard.cli import app
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.service.events import BadEvent, contract_event, nginx_line
from scrapeguard.sources import load_events
from scrapeguard.types import ACTIONS

GOOD = ('203.0.113.7 - - [06/Dec/2026:21:07:{s:02d} +0000] "GET /user/{n} HTTP/1.1" 200 5 "-" '
        '"curl/8"')


def _combined(tmp_path: Path, *odd: str) -> Path:
    lines = [GOOD.format(s=n, n=n) for n in range(30)] + list(odd)
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


OUT_OF_RANGE = [
    '203.0.113.8 - - [06/Dec/0000:21:07:19 +0000] "GET /a HTTP/1.1" 200 5 "-" "x"',
    '203.0.113.8 - - [31/Dec/9999:23:59:59 +0000] "GET /a HTTP/1.1" 200 5 "-" "x"',
    '203.0.113.8 - - [01/Jan/1969:00:00:00 +0000] "GET /a HTTP/1.1" 200 5 "-" "x"',
]


def test_times_out_of_range_are_malformed_with_their_reason(tmp_path: Path) -> None:
    """Year 0 came out of DuckDB as the text '0001-12-06 (BC) …', which the report took
    for a time and `watch` could not parse: both crashed. Every format's events pass the
    same check, on the fast quote-split path and the whole-line path alike."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    report = load_events(con, [str(_combined(tmp_path, *OUT_OF_RANGE))], fmt="combined")
    assert (report.lines, report.events, report.malformed) == (33, 30, 3)
    assert [s.line for s in report.samples] == [31, 32, 33]
    assert all("time out of range" in s.reason for s in report.samples)
    low, high = con.execute("SELECT min(ts), max(ts) FROM events").fetchone()
    assert low.year == high.year == 2026


@pytest.mark.parametrize("ts", ["0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "infinity",
                                -1, 1e300])
def test_a_json_time_out_of_range_is_malformed(tmp_path: Path, ts: object) -> None:
    path = tmp_path / "events.jsonl"
    good = {"ts": "2026-12-06T21:07:19Z", "ip": "192.0.2.1", "path": "/x"}
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "ts": ts}) + "\n")
    con = duckdb.connect()
    report = load_events(con, [str(path)], fmt="jsonl")
    assert (report.lines, report.events, report.malformed) == (2, 1, 1)


def test_analyze_with_report_and_watch_take_a_year_zero_line(tmp_path: Path) -> None:
    log = _combined(tmp_path, *OUT_OF_RANGE)
    runner = CliRunner()
    done = runner.invoke(app, ["analyze", str(log), "--report-json", str(tmp_path / "r.json"),
                               "--decisions", str(tmp_path / "d.jsonl"),
                               "--max-malformed", "100%"])
    assert done.exit_code == 0, done.output
    assert "3 malformed" in done.stderr + done.stdout
    done = runner.invoke(app, ["watch", str(log), "--once", "-q",
                               "--state", str(tmp_path / "w.state")])
    assert done.exit_code == 0, done.output
    assert "time out of range" in done.stderr


def test_the_service_refuses_the_times_the_log_readers_refuse() -> None:
    """Both engines count the same events: a time a log reader calls malformed is refused
    by the ingest endpoint too, not counted live only."""
    base = {"ts": "2026-12-06T21:07:19Z", "ip": "192.0.2.1", "path": "/x"}
    assert contract_event(base)["ts"].year == 2026
    for ts in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "1969-12-31T23:59:59Z", -1,
               10**14):
        with pytest.raises(BadEvent, match="out of range"):
            contract_event({**base, "ts": ts})


def test_a_lone_surrogate_is_refused_before_the_live_engine_sees_it() -> None:
    """JSON may escape a lone surrogate; the live engine's UTF-8 regular expressions raised
    UnicodeEncodeError on it, losing the whole ingest batch (or syslog datagram)."""
    base = {"ts": "2026-12-06T21:07:19Z", "ip": "192.0.2.1", "path": "/x"}
    for field, value in (("path", "/\ud800"), ("ua", "a\udfff"), ("subjects", ["\ud800"])):
        with pytest.raises(BadEvent, match=field):
            contract_event(json.loads(json.dumps({**base, field: value})))
    for field in ("path", "ua", "x_subjects", "client_cookie"):  # nginx's lines, by syslog
        with pytest.raises(BadEvent, match=field):
            nginx_line(json.loads(json.dumps({**base, field: "/\ud800"})))
    StreamEngine(None, "memory://", secret=b"t").record_many([contract_event(base)])


def test_routes_prints_malformed_samples_without_markup(tmp_path: Path) -> None:
    """`routes` printed the load summary through Rich markup: an `ip` of `[bold]X` lost its
    tag (and `[/]` would have raised MarkupError)."""
    path = tmp_path / "events.jsonl"
    good = {"ts": "2026-12-06T21:07:19Z", "ip": "192.0.2.1", "path": "/x"}
    bad = [{**good, "ip": "[bold]MARK"}, {**good, "ip": "[/]"}]
    path.write_text("".join(json.dumps(e) + "\n" for e in [good] * 40 + bad))
    done = CliRunner().invoke(app, ["routes", str(path), "--format", "jsonl"])
    assert done.exit_code == 0, done.output
    assert '"[bold]MARK"' in done.stderr
    assert '"[/]"' in done.stderr


def test_the_service_refuses_numbers_the_json_reader_refuses(tmp_path: Path) -> None:
    """A status past INTEGER or a byte count past BIGINT is malformed in a JSON lines file;
    ingest took it and counted an event the batch engine never sees."""
    base = {"ts": "2026-12-06T21:07:19Z", "ip": "192.0.2.1", "path": "/x"}
    for field, value in (("status", 2**31), ("status", 99999999999), ("bytes", 2**63),
                         ("bytes", "18446744073709551616")):
        path = tmp_path / "one.jsonl"
        path.write_text(json.dumps({**base, field: value}) + "\n")
        assert load_events(duckdb.connect(), [str(path)], fmt="jsonl").malformed == 1
        with pytest.raises(BadEvent, match=f"{field}: larger than"):
            contract_event({**base, field: value})
    assert contract_event({**base, "status": 2**31 - 1, "bytes": 2**63 - 1})["bytes"] == 2**63 - 1


DECISION = {"actor": "ip:192.0.2.1", "kind": "ip", "action": "block", "score": 0.9,
            "first_action_ts": "2026-12-06T21:07:19.000Z", "requests": 3, "subjects": 2,
            "subjects_before_action": 1, "rules": ["r"], "reasons": ["why"]}


@pytest.mark.parametrize(("line", "says"), [
    (json.dumps({**DECISION, "actor": 5}).encode(), "actor is not text"),
    (json.dumps({**DECISION, "actor": "nocolon"}).encode(), "is not kind:key"),
    (json.dumps({**DECISION, "first_action_ts": 1e300}).encode(), "first_action_ts is not text"),
    (json.dumps({**DECISION, "action": "[bold]x"}).encode(), "is none of"),
    (json.dumps({**DECISION, "members": "ip:1.2.3.4"}).encode(), "members is not a list"),
    (json.dumps({**DECISION, "rules": [{"a": 1}]}).encode(), "rules is not a list"),
    (b'{"actor": "ip:\xff\xfe"}', "can't decode byte 0xff"),
    (b"[1, 2]", "not a JSON object"),
])
def test_a_damaged_decisions_file_is_a_located_error_for_every_reader(
    tmp_path: Path, line: bytes, says: str
) -> None:
    """`report affected`, `eval` and `export` read decisions files other tools may write:
    a wrong type raised AttributeError or IndexError, bytes that are not UTF-8
    UnicodeDecodeError, each a traceback."""
    from scrapeguard.decisions import read_decisions
    from scrapeguard.errors import SourceError
    from scrapeguard.exports.source import read_bans

    path = tmp_path / "d.jsonl"
    path.write_bytes(json.dumps(DECISION).encode() + b"\n" + line + b"\n")
    with pytest.raises(SourceError, match=rf"d\.jsonl:2: not a decision: .*{says}"):
        list(read_decisions(path))
    with pytest.raises(SourceError, match=rf"d\.jsonl:2: not a decision: .*{says}"):
        read_bans([path], dict.fromkeys(ACTIONS, 3600))


def test_a_decisions_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    from scrapeguard.decisions import read_decisions

    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(DECISION).encode() + b"\n")
    assert [d.actor for d in read_decisions(path)] == ["ip:192.0.2.1"]


@pytest.mark.parametrize(("field", "value"), [("offset", "abc"), ("offset", -5), ("offset", 1.5),
                                              ("chunk_end", None), ("line", "x")])
def test_a_damaged_watch_state_is_a_located_error(tmp_path: Path, field: str, value: object
                                                  ) -> None:
    """A state file whose head still matches the log reached `pread` with its damaged
    offset (OSError, TypeError: a traceback); bytes that are not UTF-8 raised
    UnicodeDecodeError."""
    import hashlib
    import os

    log = _combined(tmp_path)
    info = os.stat(log)
    head = log.read_bytes()[:1024]
    good = {"device": info.st_dev, "inode": info.st_ino, "head_len": len(head),
            "head": hashlib.sha256(head).hexdigest(), "offset": 100, "chunk_end": 100,
            "line": 1, "seq": 1, "fmt": "combined", "run": "r"}
    state = tmp_path / "w.state"
    runner = CliRunner()
    for body in (json.dumps({**good, field: value}).encode(), b"\xff{}"):
        state.write_bytes(body)
        done = runner.invoke(app, ["watch", str(log), "--once", "-q", "--state", str(state)])
        assert done.exit_code == 2, done.output
        assert "not a watch state file" in done.stderr


def test_an_actor_named_with_control_characters_gets_a_report(tmp_path: Path) -> None:
    """An account of `\\x1b]0;x\\x07` acted on became a chart label, and vl-convert's text
    measuring panicked on it: the process aborted (exit 134, no Python error to catch), so
    in a subprocess. The page itself quoted the log's ESC and BEL raw."""
    import re
    import subprocess
    import sys

    account = "[bold]MARK\x1b]0;x\x07[/]"
    log = tmp_path / "access.log"
    log.write_text("".join(
        f'203.0.113.9 - {account} [06/Dec/2026:21:{i // 60:02d}:{i % 60:02d} +0000] '
        f'"GET /user/{i} HTTP/1.1" 200 512 "-" "curl/8 \x1b[31m"\n' for i in range(200)))
    page = tmp_path / "r.html"
    done = subprocess.run(
        [sys.executable, "-m", "scrapeguard", "analyze", str(log), "-q", "--report", str(page)],
        capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": ":".join(sys.path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-2000:]
    html = page.read_text(encoding="utf-8")
    assert "account:[bold]MARK\\x1b]0;x\\x07[/]" in html
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f]", html)


@pytest.mark.parametrize(("store", "says"), [
    ("redis://127.0.0.1:1/0", "cannot reach Redis"),
    ("redis://[zz/0", "is not a URI"),
    ("redis://127.0.0.1:99999/0", "not a Redis URL"),
])
def test_watch_into_a_dead_or_misnamed_redis_is_an_error_not_a_traceback(
    tmp_path: Path, store: str, says: str
) -> None:
    """`watch` reads its marks from the store itself: a Redis that was not running raised
    ConnectionError, a broken URL ValueError, each a traceback."""
    secret = tmp_path / "secret"
    secret.write_bytes(b"k" * 32)
    secret.chmod(0o600)
    done = CliRunner().invoke(app, ["watch", str(_combined(tmp_path)), "--once", "-q",
                                    "--store", store, "--secret-file", str(secret),
                                    "--state", str(tmp_path / "w.state")])
    assert done.exit_code == 2, done.output
    assert says in done.stderr


def test_decisions_and_report_json_escape_what_a_terminal_acts_on(tmp_path: Path) -> None:
    """`json.dumps(ensure_ascii=False)` escapes C0 but leaves C1 (U+009B is a CSI), DEL and
    the direction overrides raw: `cat decisions.jsonl` reordered or drove the terminal."""
    import re

    account = "u\u202eevil\u009b31m\x7f"
    log = tmp_path / "access.log"
    log.write_text("".join(
        f'203.0.113.9 - {account} [06/Dec/2026:21:{i // 60:02d}:{i % 60:02d} +0000] '
        f'"GET /user/{i} HTTP/1.1" 200 512 "-" "curl/8"\n' for i in range(200)),
        encoding="utf-8")
    out, page = tmp_path / "d.jsonl", tmp_path / "r.json"
    done = CliRunner().invoke(app, ["analyze", str(log), "-q", "--decisions", str(out),
                                    "--report-json", str(page)])
    assert done.exit_code == 0, done.output
    for path in (out, page):
        written = path.read_text(encoding="utf-8")
        assert not re.search("[\x7f-\x9f\u202a-\u202e]", written), path
    actors = [json.loads(line)["actor"] for line in out.read_text().splitlines()]
    assert f"account:{account}" in actors  # the value itself is unchanged
