"""Which format a file is in, judged by parsing its first lines with every format's own SQL.

Detection therefore cannot disagree with parsing. The format whose `detect_filter` accepts
the largest share of the sample wins; ties go to the higher priority (combined before common,
since common's parser would drop the referer and user agent).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scrapeguard.sources.base import REGISTRY, LogFormat, ParseOptions
from scrapeguard.sources.scan import sample_lines

MIN_COLUMNS = 7
MAX_COLUMNS = 32


@dataclass(frozen=True)
class Detection:
    fmt: LogFormat | None
    score: float
    columns: int
    """How many quote-split pieces to read: enough for the sample's lines plus spare."""


def columns_for(lines: list[str]) -> int:
    """Pieces per line for the quote-split reader; lines with more take the slow path."""
    most = max((line.count('"') for line in lines), default=0) + 1
    return min(max(most, MIN_COLUMNS), MAX_COLUMNS)


def score(con: Any, fmt: LogFormat, lines: list[str]) -> float:
    """Share of `lines` that `fmt` parses as typical lines of its own."""
    if not lines:
        return 0.0
    sql = (
        f"SELECT count(*) FILTER (WHERE {fmt.detect_filter}) "
        f"FROM ({fmt.select(sample_lines(), ParseOptions())})"
    )
    hits = con.execute(sql, {"lines": lines}).fetchone()[0]
    return float(hits) / len(lines)


def detect(con: Any, lines: list[str]) -> Detection:
    """The best format for these sample lines (None if no format reads any of them)."""
    best: LogFormat | None = None
    best_key = (0.0, 0)
    for fmt in REGISTRY.values():
        key = (score(con, fmt, lines), fmt.priority)
        if key[0] > 0 and key > best_key:
            best, best_key = fmt, key
    return Detection(best, best_key[0], columns_for(lines))
