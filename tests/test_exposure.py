"""What counts as exposure: records actually served, not refusals or errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from logbuilder import Log
from scrapeguard.analysis import analyze

POLICY = str(Path(__file__).parent / "data" / "sample_policy.yaml")


@pytest.mark.parametrize(("status", "exposed"), [(200, 60), (304, 60), (403, 0), (429, 0),
                                                 (500, 0), (404, 0)])
def test_only_answers_below_400_expose_records(status: int, exposed: int, tmp_path: Path) -> None:
    log = Log()
    for n in range(60):
        log.hit(10 * n, "203.0.113.5", f"/user/{1000 + 7 * n}", status=status)
    result = analyze([str(log.write(tmp_path / "x.log"))], policy=POLICY)
    assert result.totals["distinct_items"] == exposed
    assert result.totals["subject_requests"] == 60
