"""W3C Extended logs (Microsoft IIS): detected with no flag, each block read with its own
`#Fields:` line, damaged lines counted where they are, and analysed as combined would be."""

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

from logbuilder import Log
from scrapeguard.analysis import analyze
from scrapeguard.cli import app
from scrapeguard.engines.calibration import save_calibration
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.errors import SourceError
from scrapeguard.sources import load_events
from scrapeguard.sources.detect import detect
from scrapeguard.watch.run import Watcher

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "formats" / "iis-w3c.log"
POLICY = str(DATA / "sample_policy.yaml")
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/131.0.0.0 Safari/537.36")
COLUMNS = "ip, ts, method, path, status, bytes, ua, referer, account"
IIS_FIELDS = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
              "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes "
              "time-taken")
HEADER = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
          "#Date: 2026-03-02 08:00:00", "#Fields: " + IIS_FIELDS]


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def at(hour: int, minute: int, second: int) -> datetime:
    return datetime(2026, 12, 1, hour, minute, second, tzinfo=UTC)


def rows(con: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in con.execute(f"SELECT {COLUMNS} FROM events ORDER BY ts").fetchall()]


def test_the_sample_is_detected_and_every_field_lands(con: Any) -> None:
    report = load_events(con, [str(SAMPLE)])
    found = report.files[0]
    assert found.format == "w3c"
    # directive lines are neither requests nor malformed: 7 request lines, one cut short
    assert (found.lines, found.events, found.malformed) == (7, 6, 1)
    assert rows(con) == [
        ("198.51.100.23", at(9, 14, 2), "GET", "/default.aspx", 200, None, CHROME, None, None),
        ("198.51.100.23", at(9, 14, 3), "GET", "/records/search.aspx?q=smith&page=2", 200,
         None, CHROME, "https://www.agency.example/records/", None),
        ("203.0.113.7", at(9, 14, 5), "POST", "/login.aspx", 302, None, "curl/8.5.0", None,
         "AGENCY\\jdoe"),
        ("192.0.2.44", at(9, 14, 9), "GET", "/records/person.aspx?id=4711", 404, None,
         "python-requests/2.32.3", None, None),
        # the second block names more fields, in other places: c-ip is the 11th, not the 9th
        ("10.0.0.9", at(11, 2, 40), "GET", "/records/person.aspx?id=4712", 200, 5120,
         CHROME + " Edg/131.0.0.0", "https://www.agency.example/records/search.aspx?q=smith",
         None),
        ("192.0.2.44", at(11, 2, 41), "HEAD", "/robots.txt", 200, 231, "python-requests/2.32.3",
         None, None),
    ]
    [cut] = found.samples
    assert (cut.line, cut.reason) == (9, "6 values where the #Fields: line names 15")
    assert cut.text == "2026-12-01 09:14:11 10.0.0.5 GET /records/person.aspx id=47"


def test_a_byte_order_mark_before_the_header(con: Any, tmp_path: Path) -> None:
    log = tmp_path / "bom.log"
    log.write_bytes(b"\xef\xbb\xbf" + SAMPLE.read_bytes())
    report = load_events(con, [str(log)])
    assert (report.files[0].format, report.events, report.malformed) == ("w3c", 6, 1)


def test_detected_from_the_first_lines_alone(con: Any) -> None:
    found = detect(con, SAMPLE.read_text().splitlines()[:5])
    assert found.fmt is not None
    assert found.fmt.name == "w3c"
    assert detect(con, SAMPLE.read_text().splitlines()[4:8]).fmt is None  # no header: no format


def test_the_forwarded_client_behind_a_trusted_proxy(con: Any) -> None:
    load_events(con, [str(SAMPLE)], trusted_proxies=["10.0.0.0/8"])
    assert con.execute("SELECT ip FROM events WHERE path = '/records/person.aspx?id=4712'"
                       ).fetchall() == [("203.0.113.50",)]
    load_events(con, [str(SAMPLE)], trusted_proxies=["192.0.2.0/24"])  # not the peer
    assert con.execute("SELECT ip FROM events WHERE path = '/records/person.aspx?id=4712'"
                       ).fetchall() == [("10.0.0.9",)]


def test_each_block_is_read_in_its_own_order(con: Any, tmp_path: Path) -> None:
    log = tmp_path / "u_ex261201.log"
    log.write_text("\n".join([
        "#Fields: date time c-ip cs-method cs-uri-stem sc-status",
        "2026-12-01 00:00:01 192.0.2.1 GET /a 200",
        "#Fields: sc-status cs-uri-stem cs-method c-ip time date",
        "404 /b POST 192.0.2.2 00:00:02 2026-12-01",
        "#Remark: the same fields again, spelt in capitals and with a full URI",
        "#Fields: DATE TIME C-IP CS-METHOD CS-URI SC-STATUS CS(REFERRER)",
        "2026-12-01 00:00:03 192.0.2.3 GET https://www.agency.example/c?d=1 301 /a",
        "2026-12-01 00:00:04 192.0.2.3 GET http://www.agency.example 200 -",
    ]) + "\n")
    report = load_events(con, [str(log)], max_malformed=0.0)
    assert (report.files[0].format, report.lines, report.events) == ("w3c", 4, 4)
    assert con.execute("SELECT ip, method, path, status, referer FROM events ORDER BY ts"
                       ).fetchall() == [("192.0.2.1", "GET", "/a", 200, None),
                                        ("192.0.2.2", "POST", "/b", 404, None),
                                        ("192.0.2.3", "GET", "/c?d=1", 301, "/a"),
                                        ("192.0.2.3", "GET", "/", 200, None)]


def test_blocks_stay_in_file_order_over_many_lines(con: Any, tmp_path: Path) -> None:
    """The running window must see lines in file order where DuckDB reads a file in parallel
    (files over its 32 MB buffer: a plain scan of this one returns blocks out of order):
    blocks alternate between two orders, and every line says which block it is in."""
    con.execute("SET threads = 4")
    lines = []
    for block in range(8):
        swap = block % 2
        lines.append("#Fields: " + ("c-ip date time" if swap else "date time c-ip"))
        for n in range(150_000):
            ip = f"10.{block}.{n // 256}.{n % 256}"
            lines.append(f"{ip} 2026-12-01 10:00:00" if swap else f"2026-12-01 10:00:00 {ip}")
    log = tmp_path / "big.log"
    log.write_text("\n".join(lines) + "\n")
    report = load_events(con, [str(log)], max_malformed=0.0)
    assert (report.events, report.malformed) == (1_200_000, 0)
    assert con.execute("SELECT count(DISTINCT ip), count(*) FILTER (WHERE ip LIKE '10.%') "
                       "FROM events").fetchone() == (1_200_000, 1_200_000)


def test_lines_before_any_fields_line_say_so(con: Any, tmp_path: Path) -> None:
    log = tmp_path / "cut.log"
    body = SAMPLE.read_text().splitlines()
    log.write_text("\n".join(body[4:8] + body[:8]) + "\n")  # a file that starts mid-block
    report = load_events(con, [str(log)])
    assert (report.files[0].format, report.events, report.malformed) == ("w3c", 4, 4)
    assert [(s.line, s.reason) for s in report.samples] == [
        (n, "before any #Fields: line, which names the columns") for n in range(1, 5)]


def test_a_repaired_line_is_read_with_its_block(con: Any, tmp_path: Path) -> None:
    """Python mends a line of invalid UTF-8 apart from the rest: it must still be read with
    the second block's fields, not the first's, nor as a line before any header."""
    lines = SAMPLE.read_bytes().split(b"\r\n")
    last = lines[14].replace(b"python-requests", b"python\xff-requests")
    log = tmp_path / "bad.log"
    log.write_bytes(b"\r\n".join([*lines[:14], last]) + b"\r\n")
    report = load_events(con, [str(log)])
    assert (report.events, report.malformed, report.recovered) == (6, 1, 1)
    assert report.files[0].recovered_samples[0].line == 15
    assert con.execute("SELECT ip, path, bytes, ua FROM events WHERE bytes = 231").fetchall() == [
        ("192.0.2.44", "/robots.txt", 231, "python\ufffd-requests/2.32.3")]


def test_iis_lines_without_their_header_are_the_usual_error(tmp_path: Path) -> None:
    log = tmp_path / "headless.log"
    log.write_text("\n".join(SAMPLE.read_text().splitlines()[4:8]) + "\n")
    run = CliRunner().invoke(app, ["analyze", str(log), "-q"])
    assert run.exit_code == 2
    assert "4 of 4 lines (100%) do not parse as combined" in run.output
    assert "no known format reads its first 4 lines" in run.output
    run = CliRunner().invoke(app, ["analyze", str(log), "-q", "--format", "w3c"])
    assert run.exit_code == 2
    assert "do not parse as w3c" in run.output
    assert f"{log}:1: before any #Fields: line" in run.output
    with pytest.raises(SourceError, match="before any #Fields: line"):
        load_events(duckdb.connect(), [str(log)], fmt="w3c", max_malformed=0.05)


def test_analyze_on_the_sample(tmp_path: Path) -> None:
    """One cut line in seven is over the default 5%: named as w3c's, then allowed."""
    run = CliRunner().invoke(app, ["analyze", str(SAMPLE), "-q"])
    assert run.exit_code == 2
    assert "1 of 7 lines (14%) do not parse as w3c" in run.output
    out = tmp_path / "d.jsonl"
    run = CliRunner().invoke(app, ["analyze", str(SAMPLE), "--max-malformed", "20%",
                                   "--decisions", str(out)])
    assert run.exit_code == 0, run.output
    assert "7 lines, 6 events, 1 malformed" in run.output
    assert f"wrote {out}: 0 decisions" in run.output
    assert out.exists()


def _as_iis(log: Log, path: Path) -> Path:
    """The same requests as IIS would log them with sc-bytes added."""
    out = list(HEADER)
    for e in sorted(log.events, key=lambda e: float(e["at"])):  # type: ignore[arg-type]
        stamp = datetime.fromisoformat(str(e["ts"])).strftime("%Y-%m-%d %H:%M:%S")
        stem, _, query = str(e["path"]).partition("?")
        out.append(" ".join([
            stamp, "10.0.0.5", str(e["method"]), stem, query or "-", "443",
            str(e["account"] or "-"), str(e["ip"]), str(e["ua"]).replace(" ", "+"),
            str(e["referer"] or "-"), str(e["status"]), "0", "0", str(e["bytes"]), "15"]))
    path.write_text("\r\n".join(out) + "\r\n")
    return path


def _decisions(log: Path, tmp_path: Path) -> list[tuple[Any, ...]]:
    out = tmp_path / f"{log.stem}.jsonl"
    run = CliRunner().invoke(app, ["analyze", str(log), "-q", "--decisions", str(out)])
    assert run.exit_code == 0, run.output
    found = [json.loads(line) for line in out.read_text().splitlines()]
    return sorted((d["actor"], d["action"], d["subjects"], tuple(d["rules"])) for d in found)


def test_analyze_acts_on_an_iis_log_as_on_the_same_combined_log(tmp_path: Path) -> None:
    log = _harvest()
    combined = _decisions(log.write(tmp_path / "combined.log"), tmp_path)
    iis = _decisions(_as_iis(log, tmp_path / "u_ex260302.log"), tmp_path)
    assert any(actor == "ip:203.0.113.66" for actor, *_ in iis)
    assert not any("198.51.100." in actor for actor, *_ in iis)
    assert iis == combined


def _harvest() -> Log:
    log = Log()
    log.person()
    log.person(ip="198.51.100.21", at=400.0, seed=2)
    for n in range(600):  # a harvester walking the people's records
        log.hit(30.0 + 2 * n, "203.0.113.66", f"/user/{1000 + n}", ua="python-requests/2.32.3",
                size=3100)
    return log


def test_watch_reads_chunks_and_restarts_past_the_header(tmp_path: Path) -> None:
    """Followed, an IIS log arrives in chunks that do not hold its header, and a restarted
    watch starts mid-file: both must read each line with the `#Fields:` line before it."""
    whole = _as_iis(_harvest(), tmp_path / "whole.log")
    batch = analyze([str(whole)], policy=POLICY)
    calibration = tmp_path / "calibration.json"
    save_calibration(batch.calibration, calibration)
    expected = {d.actor: (d.action, sorted(d.rules)) for d in batch.decisions}
    assert "ip:203.0.113.66" in expected
    engine = StreamEngine(POLICY, "memory://", calibration=calibration, secret=b"test")
    lines = whole.read_bytes().splitlines(keepends=True)
    log, state_path = tmp_path / "u_ex260302.log", tmp_path / "state.json"
    counted = malformed = 0
    for upto in (len(lines) // 3, len(lines)):  # the second run resumes after the header
        log.write_bytes(b"".join(lines[:upto]))
        watcher = Watcher(log, engine, state_path, grace=0.0)
        watcher.follower.chunk_bytes = 4096  # many chunks, all but the first headerless
        stats = watcher.run(threading.Event(), once=True)
        watcher.close()
        counted, malformed = counted + stats.events, malformed + stats.malformed
    assert (counted, malformed) == (len(lines) - len(HEADER), 0)
    found = {engine._ref(*actor.split(":", 1)): actor for actor in expected}
    live = {found.get(d.actor, d.actor): (d.action, sorted(d.rules))
            for d in engine.decisions()}
    assert live == expected


def test_watch_locates_a_cut_line_in_a_headerless_chunk(tmp_path: Path) -> None:
    log = tmp_path / "u_ex261201.log"
    log.write_bytes(SAMPLE.read_bytes())
    problems: list[str] = []
    engine = StreamEngine(POLICY, "memory://", secret=b"test")
    watcher = Watcher(log, engine, tmp_path / "s.json", grace=0.0,
                      on_problem=lambda s: problems.append(f"{s.where()} {s.reason}"))
    watcher.follower.chunk_bytes = 600  # two or three lines a chunk
    stats = watcher.run(threading.Event(), once=True)
    watcher.close()
    assert (stats.events, stats.malformed) == (6, 1)
    assert problems == [f"{log}:9 6 values where the #Fields: line names 15"]
