"""The events table keeps the log's own order: every engine breaks ties between lines
stamped in the same second by it (`eid`), as the stream engine reads the file."""

from __future__ import annotations

from pathlib import Path

from scrapeguard.analysis import connect
from scrapeguard.sources import load_events

LINES = 120_000
"""Enough bytes (about 14 MB) for DuckDB to read the file in parallel on two threads."""


def _log(path: Path) -> None:
    """A log whose every line names its number; a thousand lines share each second."""
    with path.open("w") as out:
        for n in range(LINES):
            second = n // 1000
            out.write(f"198.51.100.{n % 200} - - [11/Mar/2024:00:{second // 60:02d}:"
                      f"{second % 60:02d} +0000] \"GET /item/{n}?q=order HTTP/1.1\" 200 512 "
                      f"\"-\" \"Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/123.0\"\n")


def test_events_are_loaded_in_file_order(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    _log(log)
    for _ in range(2):  # the same order on every run, and it is the file's
        con = connect(threads=2)
        report = load_events(con, [str(log)])
        assert report.files[0].events == LINES
        numbers = [int(row[0]) for row in con.execute(
            "SELECT split_part(split_part(path, '/', 3), '?', 1) FROM events ORDER BY rowid"
        ).fetchall()]
        assert numbers == list(range(LINES))
        con.close()
