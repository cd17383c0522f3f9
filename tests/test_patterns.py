"""Policy patterns run in linear time: a hostile trap or route cannot stall the event loop."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from scrapeguard.engines.live_rows import Deriver
from scrapeguard.policy.load import check_policy
from scrapeguard.policy.model import Policy

HOSTILE = {
    "traps": ["/*/*/*/*/*/trap"],
    "routes": [{"name": "glued", "path": "/u/{a}{b}{c}{d}{e}/x", "subject": "a"},
               {"name": "lookup", "path": "/find", "query": "q"}],
    "allowlist": {"search_engines": True},
}


def _seconds(deriver: Deriver, size: int, runs: int = 7) -> float:
    """The least time over `runs` to derive one event whose `size`-byte path comes close to
    the trap at every slash (a fresh path each run, so no cache answers)."""
    best = float("inf")
    for run in range(runs):
        path = ("/a" * (size // 2))[: size - 6] + f"/t{run:03d}"
        event = {"ts": datetime(2024, 1, 1, tzinfo=UTC), "ip": "192.0.2.1", "path": path,
                 "status": 200, "ua": "Mozilla/5.0"}
        start = time.perf_counter()
        rows = deriver.derive(event)
        best = min(best, time.perf_counter() - start)
        assert rows.rows[0].flags["is_trap"] == 0
    return best


def test_a_hostile_trap_matches_a_long_path_in_linear_time() -> None:
    deriver = Deriver(Policy.model_validate(HOSTILE))
    _seconds(deriver, 1024, runs=1)  # loads the user-agent parser, once per process
    # A path 16 times longer: linear is 16x, quadratic 256x, a backtracking matcher far more.
    # The bound sits between them, wide because a loaded machine and the step a path makes
    # when it leaves the CPU caches both move single timings by 4x or more.
    short = _seconds(deriver, 64 * 1024)
    long = _seconds(deriver, 1024 * 1024)
    assert short < 0.050, f"64 KB path took {short * 1000:.1f} ms"
    assert long <= 64 * max(short, 0.0005), (short, long)


def test_trap_and_route_patterns_still_match_what_they_name() -> None:
    deriver = Deriver(Policy.model_validate(HOSTILE))
    base = {"ts": datetime(2024, 1, 1, tzinfo=UTC), "ip": "192.0.2.1", "status": 200}
    assert deriver.derive({**base, "path": "/a/b/c/d/e/trap"}).rows[0].flags["is_trap"] == 1
    assert deriver.derive({**base, "path": "/a/b/trap"}).rows[0].flags["is_trap"] == 0
    glued = deriver.derive({**base, "path": "/u/abcdef/x"})
    assert glued.template == "/u/{a}{b}{c}{d}{e}/x"
    assert glued.rows[0].item == "glued:ab"  # greedy, as DuckDB takes it
    assert deriver.derive({**base, "path": "/find?x=1&q=7"}).rows[0].item == "lookup:7"


def test_a_pattern_re2_cannot_compile_is_a_located_error(tmp_path: Path) -> None:
    policy = tmp_path / "p.yaml"
    policy.write_text("traps:\n  - /ok\n  - /" + "*x" * 200_000 + "\n", encoding="utf-8")
    issues = check_policy(policy)
    errors = [i for i in issues if i.severity == "error"]
    assert errors, issues
    assert errors[0].location.line == 3
    assert "traps[1]" in errors[0].message
