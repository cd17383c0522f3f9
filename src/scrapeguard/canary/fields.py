"""What every dump reader shares: the count of what was read, and how a row becomes fields."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO


class Joined(str):
    """A row's cells joined with spaces: searched only for phone numbers split over columns
    (`+86` | `170 0000 1234`); everything else in it was already seen cell by cell."""

    __slots__ = ()


@dataclass
class DumpStats:
    """What was read: rows and fields, and the lines that had to be read as plain text."""

    path: str
    format: str = ""
    encoding: str = ""
    rows: int = 0
    fields: int = 0
    malformed: int = 0
    examples: list[str] = field(default_factory=list)

    def bad(self, where: str) -> None:
        self.malformed += 1
        if len(self.examples) < 5:
            self.examples.append(where)


def row(cells: list[str], stats: DumpStats) -> Iterator[str]:
    """A row's cells, then the cells joined (see `Joined`)."""
    stats.rows += 1
    stats.fields += len(cells)
    yield from cells
    if len(cells) > 1:
        yield Joined(" ".join(cells))


def read_text(text: IO[str], stats: DumpStats) -> Iterator[str]:
    for line in text:
        if line.strip():
            yield from row([line.strip()], stats)
