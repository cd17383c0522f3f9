"""What a load read, kept, repaired and could not use: so a bad log is noticed, not trusted.

Every non-blank line is counted exactly once: `lines == events + malformed`, and recovered
lines (read despite damage) are among the events. Blank lines carry nothing and are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scrapeguard.textsafe import inert
from scrapeguard.words import plural

SAMPLE_TEXT = 200
MAX_SAMPLES = 10


@dataclass(frozen=True)
class Sample:
    """One problem line: where it is, why, and its text cut to `SAMPLE_TEXT` characters."""

    file: str
    line: int | None
    reason: str
    text: str

    @classmethod
    def of(cls, file: str, line: int | None, reason: str, text: str) -> Sample:
        return cls(file, line, reason, text[:SAMPLE_TEXT])

    def where(self) -> str:
        return self.file if self.line is None else f"{self.file}:{self.line}"

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "reason": self.reason, "text": self.text}


@dataclass
class FileReport:
    """One input: its detected (or given) format and its counts."""

    name: str
    format: str | None = None
    lines: int = 0
    events: int = 0
    malformed: int = 0
    recovered: int = 0
    recovered_reasons: dict[str, int] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    """The first malformed lines, in file order."""
    recovered_samples: list[Sample] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.name, "format": self.format, "lines": self.lines,
            "events": self.events, "malformed": self.malformed, "recovered": self.recovered,
            "recovered_reasons": dict(self.recovered_reasons),
            "samples": [s.to_json() for s in self.samples],
            "recovered_samples": [s.to_json() for s in self.recovered_samples],
            "notes": list(self.notes),
        }


@dataclass
class LoadReport:
    """The whole load: per-file reports and their totals."""

    table: str
    files: list[FileReport]
    lines: int
    events: int
    malformed: int
    recovered: int
    recovered_reasons: dict[str, int]
    samples: list[Sample]
    """The first malformed lines over all files (at most `MAX_SAMPLES`)."""
    recovered_samples: list[Sample]
    notes: list[str]

    @classmethod
    def build(cls, table: str, files: list[FileReport], notes: list[str]) -> LoadReport:
        reasons: dict[str, int] = {}
        for f in files:
            for reason, n in f.recovered_reasons.items():
                reasons[reason] = reasons.get(reason, 0) + n
        return cls(
            table=table,
            files=files,
            lines=sum(f.lines for f in files),
            events=sum(f.events for f in files),
            malformed=sum(f.malformed for f in files),
            recovered=sum(f.recovered for f in files),
            recovered_reasons=reasons,
            samples=[s for f in files for s in f.samples][:MAX_SAMPLES],
            recovered_samples=[s for f in files for s in f.recovered_samples][:MAX_SAMPLES],
            notes=[*notes, *(n for f in files for n in f.notes)],
        )

    def summary(self) -> str:
        """Plain text for a terminal: log text in it is escaped, but print it without markup."""
        out = [f"Read {plural(len(self.files), 'file')}: {plural(self.lines, 'line')}, "
               f"{plural(self.events, 'event')}, {self.malformed:,} malformed, "
               f"{self.recovered:,} recovered."]
        if len(self.files) > 1 or (self.files and self.files[0].format is None):
            for f in self.files:
                out.append(f"  {inert(f.name)} ({f.format or 'unknown format'}): "
                           f"{f.lines:,} lines, {f.events:,} events, {f.malformed:,} malformed, "
                           f"{f.recovered:,} recovered")
        for reason, n in sorted(self.recovered_reasons.items()):
            out.append(f"  recovered {n:,}: {inert(reason)}")
        for s in self.recovered_samples[:3]:
            out.append(f"    {inert(s.where())}: {inert(s.text)}")
        if self.samples:
            out.append("Malformed lines (first ones):")
            out.extend(f"  {inert(s.where())}: {inert(s.reason)}: {inert(s.text)}"
                       for s in self.samples)
        out.extend(f"Note: {inert(note)}" for note in self.notes)
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table, "lines": self.lines, "events": self.events,
            "malformed": self.malformed, "recovered": self.recovered,
            "recovered_reasons": dict(self.recovered_reasons),
            "samples": [s.to_json() for s in self.samples],
            "recovered_samples": [s.to_json() for s in self.recovered_samples],
            "notes": list(self.notes),
            "files": [f.to_json() for f in self.files],
        }
