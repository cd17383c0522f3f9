"""Lines Python had to fetch or mend, written straight to one spool file per kind of repair.

A format whose lines are read in the light of an earlier one (W3C's `#Fields:`) gets that
line written into the spool before the repaired lines it governs.

A file in the wrong encoding can make every line a repair, so nothing here holds lines in
memory: each spool keeps the original line numbers (eight bytes a line) to map samples back.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from scrapeguard.sources.lines import Item


@dataclass
class Group:
    """A spool of lines that had the same repair (`reason` None: only needed Python to read)."""

    reason: str | None
    path: Path
    numbers: array[int] = field(default_factory=lambda: array("q"))
    """Original line number of each spool line, in spool order."""
    context: Item | None = None
    """The context line last written to this spool."""

    def original(self, spool_line: int | None) -> int | None:
        return None if spool_line is None else self.numbers[spool_line - 1]


class Repairs:
    """Collects repaired lines; overlong ones are kept only as a count and a few samples."""

    def __init__(self, new_spool: Callable[[], Path], keep: int) -> None:
        self.new_spool = new_spool
        self.keep = keep
        self.groups: dict[str | None, Group] = {}
        self.files: dict[str | None, BinaryIO] = {}
        self.too_long = 0
        self.too_long_items: list[Item] = []
        self.context: Item | None = None

    def add_all(self, items: Iterable[Item]) -> None:
        for item in items:
            self.add(item)

    def add(self, item: Item) -> None:
        """Spool a repaired line, after the context line before it if its spool lacks that
        one (context items themselves are only remembered)."""
        if item.context:
            self.context = item
            return
        if item.too_long:
            self.too_long += 1
            if len(self.too_long_items) < self.keep:
                self.too_long_items.append(item)
            return
        group = self.groups.get(item.reason)
        if group is None:
            group = self.groups[item.reason] = Group(item.reason, self.new_spool())
            self.files[item.reason] = group.path.open("wb", buffering=1 << 20)
        if self.context is not None and group.context != self.context:
            self._write(group, self.context)
            group.context = self.context
        self._write(group, item)

    def _write(self, group: Group, item: Item) -> None:
        self.files[group.reason].write(item.text.encode("utf-8") + b"\n")
        group.numbers.append(item.number)

    def close(self) -> list[Group]:
        """The spools, complete and ordered by their first line."""
        for f in self.files.values():
            f.close()
        return sorted(self.groups.values(), key=lambda g: g.numbers[0])
