"""`analyze` reads well at 80 columns and in a pipe: no line wider than the terminal, and every
acted-on actor shown with its action, records, first action and rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop-access.log.gz"


def _analyze(tmp_path: Path, columns: str | None) -> tuple[str, list[dict[str, object]]]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR")}
    if columns:
        env["COLUMNS"] = columns
    decisions = tmp_path / "d.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", "from scrapeguard.cli import app; app()", "analyze",
         str(EXAMPLE), "--decisions", str(decisions), "--top", "50"],
        capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, [json.loads(line) for line in decisions.read_text().splitlines()]


@pytest.mark.parametrize("columns", [None, "80", "200"], ids=["pipe", "80", "200"])
def test_every_acted_on_actor_is_listed_within_the_width(tmp_path: Path,
                                                         columns: str | None) -> None:
    out, decisions = _analyze(tmp_path, columns)
    width = int(columns or 80)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    acting = [d for d in decisions if d["action"] != "allow"]
    assert acting
    why = lines.index("Why, for the first listed:") + 1
    after = next(i for i in range(why, len(lines)) if not lines[i].startswith("  "))
    assert " requests, " in lines[after]  # no reason folded back to column 0 before it
    assert lines[why] == f"  {decisions_by_harm(decisions)[0]}:"
    flat = " ".join(line.strip() for line in lines)
    for d in acting:
        assert str(d["actor"]).split("{", 1)[0] in flat, d["actor"]
        for rule in d["rules"]:  # type: ignore[attr-defined]
            assert rule in flat


def decisions_by_harm(decisions: list[dict[str, object]]) -> list[str]:
    """Actors in the order `analyze` lists them: most records first."""
    from scrapeguard.decisions import Decision
    from scrapeguard.report.rank import by_harm

    return [d.actor for d in by_harm([Decision.from_json(r) for r in decisions])]
