"""`analyze --since/--until`: only the events in the window reach the rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from logbuilder import START, Log
from scrapeguard.analysis import analyze
from scrapeguard.cli import app
from scrapeguard.errors import SourceError
from scrapeguard.timebounds import parse_bound


def test_bounds_iso_and_relative() -> None:
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert parse_bound("--since", "2h", now) == now - timedelta(hours=2)
    assert parse_bound("--since", "2026-12-06T21:00Z") == datetime(2026, 12, 6, 21, tzinfo=UTC)
    assert parse_bound("--until", "2026-12-06 21:00") == datetime(2026, 12, 6, 21, tzinfo=UTC)
    assert parse_bound("--until", "2026-12-06T22:00+01:00") == datetime(2026, 12, 6, 21,
                                                                        tzinfo=UTC)
    with pytest.raises(SourceError, match="--since 'yesterday'"):
        parse_bound("--since", "yesterday")


def test_window_keeps_only_its_events(tmp_path: Path) -> None:
    log = Log()
    for n in range(60):  # one request a minute for an hour
        log.hit(n * 60.0, "198.51.100.7", f"/product/{n}")
    path = log.write(tmp_path / "a.log")
    since, until = START + timedelta(minutes=10), START + timedelta(minutes=20)
    result = analyze([str(path)], since=since, until=until)
    assert result.totals["events"] == 10
    assert any("50 events outside" in note for note in result.load.notes)


def test_cli_refuses_a_bad_bound_with_exit_2(tmp_path: Path) -> None:
    path = Log().write(tmp_path / "empty.log")
    result = CliRunner().invoke(app, ["analyze", str(path), "-q", "--since", "soon"])
    assert result.exit_code == 2
    assert "--since 'soon'" in result.output
