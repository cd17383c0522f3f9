"""Hostile log lines: every parser stays linear in its input, and every bad line is counted
with its location rather than crashing the load or vanishing (issue #11)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from scrapeguard.sources import load_events

HEAD = '203.0.113.7 - - [17/May/2015:10:05:03 +0200] "GET /a HTTP/1.1" 200 512 "-" '
LINE = HEAD + '"curl/8"'

_PEAK = """
import sys, duckdb
from scrapeguard.sources import load_events
from fuzzing import peak_mb
report = load_events(duckdb.connect(), [sys.argv[1]], fmt=sys.argv[2] or None,
                     trusted_proxies=sys.argv[3:])
print(report.lines, report.events, int(peak_mb() * 1024))
"""
"""Peak as this interpreter's own high-water mark (`fuzzing.peak_mb`), not `ru_maxrss`, which
a child inherits from its parent on Linux."""


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def write(path: Path, *lines: str | bytes, end: bytes = b"\n") -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + end for x in lines))
    return path


def peak(path: Path, fmt: str = "", proxies: tuple[str, ...] = ()) -> tuple[int, int, int]:
    """(lines, events, peak RSS in KiB) of loading `path` (as `fmt`, else detected; behind
    `proxies`) in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, str(path), fmt, *proxies], capture_output=True, text=True,
        check=True,
        timeout=120, env={"PYTHONPATH": ":".join(sys.path)},
    ).stdout.split()
    lines, events, rss = (int(x) for x in out)
    return lines, events, rss


def test_a_run_of_escaped_quotes_costs_no_more_memory_than_a_clean_line(tmp_path: Path) -> None:
    """Each `\\"` used to cost DuckDB's CSV reader a stored copy of the whole line: 8 KB of
    them took 100 MB, so this file of 40 such lines needed about 4 GB."""
    n, run = 40, 4096
    quotes = write(tmp_path / "q.log", *[HEAD + '"' + '\\"' * run + '"' for _ in range(n)])
    clean = write(tmp_path / "c.log", *[HEAD + '"' + "ab" * run + '"' for _ in range(n)])
    assert quotes.stat().st_size == clean.stat().st_size
    q_lines, q_events, q_rss = peak(quotes)
    c_lines, c_events, c_rss = peak(clean)
    assert (q_lines, q_events, c_lines, c_events) == (n, n, n, n)
    assert q_rss < 2 * c_rss, (q_rss, c_rss)


@pytest.mark.parametrize("fmt", ["combined", "common"])
def test_runs_of_separators_cost_memory_linear_in_the_file(tmp_path: Path, fmt: str) -> None:
    """Splitting a field at its spaces built a list of 32 bytes per space for 2,048 lines at
    once: 4 MB of lines with 2 KB space runs took about 950 MB. The bound is the fuzzing
    one, 200 MB plus ten times the input; every line is still an event or counted."""
    n, run = 600, 2048
    shapes = [
        "203.0.113.7" + " " * run + '- - [17/May/2015:10:05:03 +0200] "GET / HTTP/1.1" 200 5',
        HEAD.replace("/a ", "/a" + " " * run + "b ") + '"curl/8"',
        HEAD + '"' + "\\" * (run // 2),  # a user agent of backslashes, cut short
    ]
    path = write(tmp_path / "s.log", *[shapes[i % 3] for i in range(n)])
    lines_, events, rss = peak(path, fmt)
    assert lines_ == n
    assert n // 3 <= events < n
    bound_kib = (200 + 10 * path.stat().st_size / 2**20) * 1024
    assert rss <= bound_kib, (rss // 1024, bound_kib // 1024)


def test_a_forwarded_for_of_thousands_of_hops_costs_memory_linear_in_the_file(
    tmp_path: Path,
) -> None:
    """Behind trusted proxies each hop became list entries and an address parse: 5 MB of
    lines with 1,000 hops each took 390 MB (and 16 MB took 1.1 GB)."""
    n = 2500
    path = write(tmp_path / "x.log", *[LINE + ' "' + "1," * 1000 + '198.51.100.9"'] * n)
    lines_, events, rss = peak(path, "combined", ("203.0.113.0/24",))
    assert (lines_, events) == (n, n)
    bound_kib = (200 + 10 * path.stat().st_size / 2**20) * 1024
    assert rss <= bound_kib, (rss // 1024, bound_kib // 1024)


def test_more_quotes_than_the_sample_had_still_parse(con: Any, tmp_path: Path) -> None:
    many = HEAD + '"' + 'x" "y' * 40 + '"'
    report = load_events(con, [str(write(tmp_path / "m.log", LINE, many, LINE))])
    assert (report.lines, report.events, report.malformed) == (3, 3, 0)
    assert con.execute("SELECT count(*) FROM events WHERE path = '/a'").fetchone() == (3,)


def _json(**fields: Any) -> str:
    return json.dumps({"ts": "2024-10-10T10:00:00Z", "ip": "192.0.2.1", **fields},
                      ensure_ascii=False)


@pytest.mark.parametrize(
    ("name", "bad", "reason"),
    [
        ("ip.jsonl", _json(ip="not-an-ip"), "ip is not an IP address"),
        ("bytes.jsonl", _json(bytes=-5), "negative bytes"),
        ("tz.jsonl", _json(ts="2024-10-10T10:00:00+99:00"), "unreadable ts"),
        ("bytes.log", LINE.replace(" 512 ", " -5 "), "not a combined log line"),
        ("tz.log", LINE.replace("+0200", "+9900"), "unreadable time"),
    ],
)
def test_impossible_values_are_malformed_with_their_line(
    con: Any, tmp_path: Path, name: str, bad: str, reason: str
) -> None:
    good = _json() if name.endswith(".jsonl") else LINE
    report = load_events(con, [str(write(tmp_path / name, good, bad, good))])
    assert (report.lines, report.events, report.malformed) == (3, 2, 1)
    [sample] = report.samples
    assert (sample.line, sample.reason.startswith(reason)) == (2, True), sample


def test_a_line_of_tens_of_megabytes_is_counted_not_dropped(con: Any, tmp_path: Path) -> None:
    """DuckDB drops a line this long without recording a reject."""
    huge = HEAD + '"' + "u" * 41_000_000 + '"'
    report = load_events(con, [str(write(tmp_path / "h.log", LINE, huge, LINE))])
    assert (report.lines, report.events, report.malformed) == (3, 2, 1)
    [sample] = report.samples
    assert sample.line == 2
    assert sample.reason.startswith("line of 41,000,")


def test_a_bare_carriage_return_is_a_line_break_reported_on_its_line(
    con: Any, tmp_path: Path
) -> None:
    """Both records of a line joined by a bare CR are read, and the join is reported with
    the line number editors show; an invalid line after it keeps its own number."""
    bad = LINE.replace("/a", "/\xe9").encode("latin-1")
    joined = LINE.encode() + b"\r" + LINE.replace("/a", "/b").encode()
    report = load_events(con, [str(write(tmp_path / "cr.log", LINE, joined, b"junk", bad))])
    assert (report.lines, report.events, report.malformed) == (5, 4, 1)
    assert report.recovered_reasons == {
        "bare carriage return read as a line break": 2,
        "invalid UTF-8 decoded with replacement": 1,
    }
    assert [s.line for s in report.recovered_samples] == [2, 2, 4]
    assert [(s.line, s.text) for s in report.samples] == [(3, "junk")]
    assert any("1 bare carriage return" in n for n in report.notes)
    assert con.execute("SELECT count(*) FROM events WHERE path = '/b'").fetchone() == (1,)


def test_a_run_of_the_line_delimiter_is_repaired_in_linear_memory(tmp_path: Path) -> None:
    """U+10FFFF is the whole-line reader's delimiter, as `"` was the quote reader's: a run
    of it must cost no more than any other text."""
    n, run = 40, 2048
    odd = write(tmp_path / "d.log", *[_json(ua="\U0010ffff" * run) for _ in range(n)])
    clean = write(tmp_path / "c.log", *[_json(ua="abcd" * run) for _ in range(n)])
    lines_, events, rss = peak(odd)
    assert (lines_, events) == (n, n)
    assert rss < 2 * peak(clean)[2]
