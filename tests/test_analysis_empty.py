"""A log with no events to judge skips the engine (`analysis._nothing_read`): its result must
be the one the whole pipeline gives, and it must not pay for importing Ibis."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from logbuilder import START, Log
from scrapeguard.analysis import Analysis, analyze


def _same(skipped: Analysis, built: Analysis) -> None:
    assert skipped.decisions == built.decisions == []
    assert skipped.enrich == built.enrich
    assert skipped.calibration == built.calibration
    assert skipped.totals == built.totals
    assert skipped.load == built.load


def test_an_empty_log_gives_what_the_pipeline_gives(tmp_path: Path) -> None:
    path = Log().write(tmp_path / "empty.log")
    skipped = analyze([str(path)])
    built = analyze([str(path)], keep_connection=True)  # a report reads the tables: built
    _same(skipped, built)
    # The shipped pack reads p99(subjects): the comparison covers measured percentiles.
    assert skipped.calibration.percentiles
    assert built.connection is not None
    assert skipped.connection is None


def test_a_window_that_leaves_nothing_gives_what_the_pipeline_gives(tmp_path: Path) -> None:
    log = Log()
    for n in range(10):
        log.hit(n * 60.0, "198.51.100.7", f"/product/{n}")
    path = log.write(tmp_path / "a.log")
    since = START + timedelta(days=1)
    skipped = analyze([str(path)], since=since)
    built = analyze([str(path)], since=since, keep_connection=True)
    _same(skipped, built)
    assert skipped.totals["events"] == 0
    assert any("10 events outside" in note for note in skipped.load.notes)


@pytest.mark.parametrize("lines", [0, 1])
def test_only_a_log_with_events_imports_the_engine(tmp_path: Path, lines: int) -> None:
    log = Log()
    for n in range(lines):
        log.hit(float(n), "198.51.100.7", "/product/1")
    path = log.write(tmp_path / "a.log")
    code = ("import sys\nfrom scrapeguard.cli import run\nsys.argv = ['scrapeguard', 'analyze',"
            f" {str(path)!r}, '-q']\ntry:\n    run()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('ibis', 'pyarrow', 'sqlglot') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={"PYTHONPATH": str(Path(__file__).parents[1] / "src"),
                                           "SCRAPEGUARD_CACHE_DIR": ""})
    loaded = done.stdout.strip().splitlines()[-1]
    assert loaded == ("[]" if lines == 0 else "['ibis', 'pyarrow', 'sqlglot']")
