"""Counts in words, so every printed figure reads `1 record`, `2 records`, never `1 records`
or `record(s)`; free of imports so engines, sources and reports can all share it."""

from __future__ import annotations


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 actor`, `3 actors`, `2 addresses`, `0 records`; `many` for irregular plurals."""
    if n == 1:
        return f"{n:,} {word}"
    return f"{n:,} {many or (word + 'es' if word.endswith('s') else word + 's')}"
