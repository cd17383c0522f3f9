"""Mutation fuzzing of every registered log format and the policy loader (see `fuzzing`):
a short run on every test run, the million-input run under the `slow` marker."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from fuzzing import make_file

HARNESS = Path(__file__).with_name("fuzzing.py")


def fuzz(inputs: int, seed: int, lines: int, timeout: float) -> dict[str, Any]:
    """Run the harness in a fresh interpreter, so its peak memory is the fuzzing's own."""
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--inputs", str(inputs), "--seed", str(seed),
         "--lines", str(lines)],
        capture_output=True, text=True, timeout=timeout,
        env={"PYTHONPATH": ":".join(sys.path)},
    )
    assert done.stdout, done.stderr[-5000:]
    figures: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    figures["stderr"] = done.stderr[-5000:]
    return figures


def check(figures: dict[str, Any], inputs: int) -> None:
    assert figures["inputs"] >= inputs
    assert figures["crashes_sources"] == 0, figures["stderr"]
    assert figures["slowest_load_s"] <= 120, figures
    assert figures["peak_mb"] <= figures["limit_mb"], figures
    assert figures["crashes_policy"] == 0, figures["stderr"]


def test_a_short_fuzz_run_finds_no_crash() -> None:
    check(fuzz(2_000, seed=7, lines=400, timeout=120), 2_000)


def test_a_seed_makes_the_same_files_at_any_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failing run is reproduced from its seed only if the files are the same bytes:
    gzip wrote the clock into each member it made, so two runs made different files."""

    def files() -> tuple[str, int]:
        r, digest, gzipped = random.Random(3), hashlib.sha256(), 0
        for _ in range(60):
            data = make_file(r, tmp_path / "f.log", 20)[0].read_bytes()
            digest.update(data)
            gzipped += data[:2] == b"\x1f\x8b"
        return digest.hexdigest(), gzipped

    first = files()
    monkeypatch.setattr(time, "time", lambda: 2e9)  # another day, as a later run would be
    assert first[1] > 0
    assert files() == first


@pytest.mark.slow
def test_a_million_fuzzed_inputs_find_no_crash_hang_or_blowup() -> None:
    """Three to seven minutes on two shared cores; the figures go in docs/reliability.md."""
    check(fuzz(1_000_000, seed=1, lines=20_000, timeout=15 * 60), 1_000_000)
