"""Parse a chunk of followed lines with `analyze`'s own formats, detection and accounting.

A chunk goes through `load_events` as a small file, so a followed log is read exactly as
`analyze` reads it; its problem lines are reported at their line in the followed file.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapeguard.analysis import connect
from scrapeguard.sources import REGISTRY, Sample, get_format, load_events
from scrapeguard.sources.base import LogFormat

WATCH_MEMORY_LIMIT = "256MB"
"""A chunk is at most a megabyte: DuckDB never needs more than this to parse it."""


@dataclass
class Parsed:
    """One chunk's events in the order they are counted, and what could not be read."""

    events: list[dict[str, Any]]
    lines: int
    malformed: int
    fmt: str | None
    samples: list[Sample] = field(default_factory=list)


class ChunkParser:
    """One DuckDB connection reused for every chunk; the format fixed once detected."""

    def __init__(self, name: str, fmt: str | LogFormat | None = None,
                 trusted_proxies: tuple[str, ...] = ()) -> None:
        self.name = name
        self.fmt: LogFormat | None = get_format(fmt) if isinstance(fmt, str) else fmt
        self.trusted_proxies = trusted_proxies
        self.con = connect(threads=1, memory_limit=WATCH_MEMORY_LIMIT)
        self._dir = tempfile.TemporaryDirectory(prefix="scrapeguard-watch-")
        self._file = Path(self._dir.name) / "chunk.log"
        self.context: bytes | None = None
        """The last line that says how the lines after it read (W3C's `#Fields:`), written
        before each chunk: a chunk of a W3C log rarely holds its own header."""

    def prefixes(self) -> tuple[bytes, ...]:
        """Starts of context lines: the format's, or, until it is known, every format's."""
        formats = [self.fmt] if self.fmt is not None else list(REGISTRY.values())
        return tuple(f.context_prefix for f in formats if f.context_prefix is not None)

    def parse(self, data: bytes, first_line: int) -> Parsed:
        """Events of `data` (complete lines starting at line `first_line + 1`), sorted by
        time and then by position, as `analyze` orders them; one thread reads the chunk, so
        the same bytes always give the same order, which is what lets a restart skip
        exactly the events the store already counted."""
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        context = _last_line(data, self.prefixes())
        if self.fmt is None and context is not None and _only_directives(data):
            # a W3C log watched from its start, read before its first request was written:
            # nothing to detect a format on, and the header's lines are no requests
            self.context = context
            return Parsed([], lines, 0, None)
        before = self.context + b"\n" if self.context is not None else b""
        self._file.write_bytes(before + (data if data.endswith(b"\n") else data + b"\n"))
        shift = 1 if before else 0
        self.context = context or self.context
        report = load_events(self.con, [str(self._file)], fmt=self.fmt,
                             trusted_proxies=self.trusted_proxies)
        found = report.files[0]
        if self.fmt is None and found.format is not None and found.events:
            self.fmt = get_format(found.format)
        cursor = self.con.execute(
            "SELECT * EXCLUDE (_eid) FROM (SELECT row_number() OVER () AS _eid, * FROM events)"
            " ORDER BY ts, _eid")
        names = [d[0] for d in cursor.description]
        events = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        samples = [Sample.of(self.name, None if s.line is None else first_line + s.line - shift,
                             s.reason, s.text) for s in found.samples]
        return Parsed(events, lines, found.malformed, found.format, samples)

    def close(self) -> None:
        self.con.close()
        self._dir.cleanup()


def _only_directives(data: bytes) -> bool:
    """Every line of `data` is blank or a W3C directive (`#Version:`, `#Fields:`, …)."""
    return all(not line.strip() or line.startswith(b"#") for line in data.split(b"\n"))


def _last_line(data: bytes, prefixes: tuple[bytes, ...]) -> bytes | None:
    """The last line of `data` that starts with one of `prefixes`, without its line end."""
    at = max((data.rfind(b"\n" + p) + 1 for p in prefixes), default=0)
    if at == 0 and not any(data.startswith(p) for p in prefixes):
        return None
    return data[at:].split(b"\n", 1)[0].rstrip(b"\r")
