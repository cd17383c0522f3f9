"""`load_events`: log files in, one DuckDB table of events out, every line accounted for.

Each file is one INSERT … SELECT over DuckDB's CSV reader (no per-line Python). Each piece of
input (the file itself, then any lines Python had to repair) is a *part* with a code; rows that
are recovered or malformed carry `code + _kind` in a bookkeeping column, so one GROUP BY at
the end counts everything, malformed rows are deleted, and the column is dropped. Samples with
line numbers are found only for files that have problems, by a second, ordered pass over them.
"""

from __future__ import annotations

import re
import tempfile
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from scrapeguard.errors import SourceError
from scrapeguard.sources import lines, xff
from scrapeguard.sources.base import LogFormat, ParseOptions, Relation, get_format
from scrapeguard.sources.detect import Detection, columns_for, detect
from scrapeguard.sources.inputs import STDIN, expand, prepare
from scrapeguard.sources.malformed import check_share
from scrapeguard.sources.progress import Meter, setting
from scrapeguard.sources.repair import Group, Repairs
from scrapeguard.sources.report import MAX_SAMPLES, FileReport, LoadReport, Sample
from scrapeguard.sources.scan import (
    KIND_COLUMN,
    create_staging,
    deferred,
    deferred_lines,
    drop_deferred,
    finish,
    first_flagged,
    flagged_counts,
    insert,
    quote_split,
    whole_lines,
)
from scrapeguard.words import plural

FALLBACK_FORMAT = "combined"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass
class _Part:
    """Rows inserted from one readable piece of one input."""

    report: FileReport
    fmt: LogFormat
    rel: Relation
    """Where its flagged lines can be found again, in order (for samples)."""
    path: Path
    code: int
    rows: int
    group: Group | None = None
    """For a spool of repaired lines: what was repaired, and their original line numbers."""


def load_events(
    con: duckdb.DuckDBPyConnection,
    inputs: Sequence[str],
    *,
    fmt: str | LogFormat | None = None,
    strict: bool = False,
    max_malformed: float | None = None,
    trusted_proxies: Sequence[str] = (),
    progress: Callable[[int, int], None] | None = None,
    table: str = "events",
) -> LoadReport:
    """Create (or replace) `table` with the events of `inputs`; report what was read.

    `inputs` are paths, globs (expanded, sorted) or `-` for stdin, plain or gzip. `fmt` names
    a registered format or is one (an nginx `log_format`); None detects it per file from its
    first lines. With `strict`, any malformed line raises SourceError (the table is left as it
    was); with `max_malformed`, so does a file of which a larger share of lines is malformed.
    `progress` receives (bytes done, bytes total) of the inputs, possibly from a helper thread.
    """
    chosen = get_format(fmt) if isinstance(fmt, str) else fmt
    names = expand(inputs)
    networks = xff.parse_networks(trusted_proxies)
    target, staging, bare = _table_names(table)
    opts = ParseOptions(resolve_xff=bool(networks))
    sizes = [0 if n == STDIN else Path(n).stat().st_size for n in names]
    with tempfile.TemporaryDirectory(prefix="scrapeguard-") as tmp, Meter(
        con, progress, sum(sizes)
    ) as meter, setting(con, "TimeZone", "'UTC'"):  # a time without offset is UTC
        if networks:
            xff.install(con, networks)
        create_staging(con, staging)
        try:
            run = _Run(con, staging, opts, Path(tmp), meter)
            reports = [run.load(n, size, chosen) for n, size in zip(names, sizes, strict=True)]
            run.account()
            xff.canonicalize(con, staging, f"{KIND_COLUMN} % 4 IN (0, 1)")
            report = LoadReport.build(target, reports, [])
            if strict and report.malformed:
                raise SourceError(_strict_message(report))
            if max_malformed is not None:
                check_share(report, max_malformed)
            finish(con, staging, target, bare)
        except BaseException:
            con.execute(f"DROP TABLE IF EXISTS {staging}")
            raise
        finally:
            if networks:
                xff.uninstall(con)
    return report


def _table_names(table: str) -> tuple[str, str, str]:
    """(quoted target, quoted staging name, bare target name) for `name` or `schema.name`."""
    parts = table.split(".")
    if not 1 <= len(parts) <= 2 or not all(_IDENT.fullmatch(p) for p in parts):
        raise SourceError(f"invalid table name {table!r}")
    quoted = ".".join(f'"{p}"' for p in parts)
    staging = ".".join(f'"{p}"' for p in [*parts[:-1], f"{parts[-1]}__sg_loading"])
    return quoted, staging, parts[-1]


def _strict_message(report: LoadReport) -> str:
    lines_ = [f"{plural(report.malformed, 'malformed line')} (strict mode):"]
    lines_ += [f"  {s.where()}: {s.reason}: {s.text}" for s in report.samples]
    return "\n".join(lines_)


class _Run:
    """State of one load: the parts inserted so far, and where temporary files go."""

    def __init__(
        self, con: Any, staging: str, opts: ParseOptions, tmp: Path, meter: Meter
    ) -> None:
        self.con = con
        self.staging = staging
        self.opts = opts
        self.tmp = tmp
        self.meter = meter
        self.parts: list[_Part] = []
        self.spools = 0
        self.codes = 0

    def _spool(self, stem: str) -> Path:
        self.spools += 1
        return self.tmp / f"{stem}-{self.spools}"

    def load(self, name: str, size: int, chosen: LogFormat | None) -> FileReport:
        with self.meter.file(size) as step:
            prepared = prepare(name, self.tmp, step.decompressing)
            if name == STDIN:
                step.resize(prepared.size)
            report = FileReport(prepared.name, notes=list(prepared.notes))
            sample = lines.sample(prepared.path)
            if not sample:
                report.format = chosen.name if chosen else None
                return report
            found = detect(self.con, sample) if chosen is None else Detection(
                chosen, 1.0, columns_for(sample)
            )
            fmt = found.fmt
            if fmt is None:
                fmt = get_format(FALLBACK_FORMAT)
                report.notes.append(
                    f"{report.name}: no known format reads its first {len(sample)} lines; "
                    f"read as {fmt.name} (lines it cannot parse count as malformed)"
                )
            report.format = fmt.name
            rel = quote_split(found.columns) if fmt.reader == "quotes" else whole_lines()
            repairs = Repairs(lambda: self._spool("repaired"), MAX_SAMPLES)
            with step.parsing(prepared.gzip):
                path, rejects = self._main(report, fmt, rel, prepared.path, repairs)
        repairs.add_all(lines.fetch(path, rejects, fmt.context_prefix))
        self._repair(report, fmt, repairs)
        return report

    def _main(
        self, report: FileReport, fmt: LogFormat, rel: Relation, path: Path, repairs: Repairs
    ) -> tuple[Path, array[int]]:
        """Insert a whole file; rewrite it first if DuckDB cannot split it into lines as
        Python does (see `lines.survey`), or fails to."""
        code = self._code()
        problems = lines.survey(path).problems()
        try:
            if problems:
                raise _Rewrite(problems)
            rows, rejects = self._insert_file(fmt, rel, path, code)
        except (duckdb.Error, _Rewrite) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            spool = self._spool("rewritten")
            repairs.add_all(lines.normalize(path, spool, fmt.context_prefix))
            report.notes.append(
                f"{report.name}: read line by line in Python first, as DuckDB could not split "
                f"it into lines ({first})"
            )
            path = spool
            try:
                rows, rejects = self._insert_file(fmt, rel, path, code)
            except duckdb.Error as exc2:
                raise SourceError(f"{report.name}: cannot be read: {exc2}") from exc2
        if rel.columns is None:
            self.parts.append(_Part(report, fmt, rel, path, code, rows))
        else:  # parse the lines the fast path deferred, under a code of their own
            again = self._code()
            lines_ = deferred(self.con, self.staging, code)
            if lines_ is not None:
                insert(self.con, self.staging, fmt, lines_, None, again, self.opts)
                drop_deferred(self.con, self.staging, code)
            sample = deferred_lines(fmt, rel, self.opts)
            self.parts.append(_Part(report, fmt, sample, path, again, rows))
        return path, rejects

    def _insert_file(
        self, fmt: LogFormat, rel: Relation, path: Path, code: int
    ) -> tuple[int, array[int]]:
        """The bulk insert, in file order. A line's place among the lines stamped in the same
        second is the tie-break every later step orders by (`eid`, given in table order), and
        the stream engine sees the file in that order: without it two runs on one log put
        same-second lines in different orders, and a referral campaign's first page of the
        day (`campaigns._referred`) changed from run to run."""
        return insert(self.con, self.staging, fmt, rel, path, code, self.opts)

    def _code(self) -> int:
        """A fresh bookkeeping code; a row's code is this plus its `_kind` (1, 2 or 3)."""
        self.codes += 4
        return self.codes

    def _repair(self, report: FileReport, fmt: LogFormat, repairs: Repairs) -> None:
        """Parse repaired lines, one spool per kind of repair; overlong ones are malformed."""
        report.lines += repairs.too_long
        report.malformed += repairs.too_long
        for item in repairs.too_long_items:
            why = f"line of {item.too_long:,} bytes is longer than {lines.MAX_LINE:,}"
            report.samples.append(Sample.of(report.name, item.number, why, item.text))
        for group in repairs.close():
            rel, code = whole_lines(), self._code()
            rows, rejects = insert(self.con, self.staging, fmt, rel, group.path, code, self.opts)
            self.parts.append(_Part(report, fmt, rel, group.path, code, rows, group))
            report.lines += len(rejects)  # not expected: the spool holds clean UTF-8 lines
            report.malformed += len(rejects)
            for item in lines.fetch(group.path, rejects[:MAX_SAMPLES]):
                report.samples.append(Sample.of(
                    report.name, group.original(item.number), "unreadable", item.text))

    def account(self) -> None:
        """Count every part's rows by kind at once, then fetch samples where needed."""
        counts = flagged_counts(self.con, self.staging)
        for part in self.parts:
            report = part.report
            recovered = counts.get(part.code + 1, 0)
            malformed = counts.get(part.code + 2, 0)
            events = part.rows - malformed
            report.lines += part.rows
            report.events += events
            report.malformed += malformed
            reason = part.group.reason if part.group else None
            if malformed:
                report.samples += self._samples(part, (2,), None, malformed)
            if reason is not None and events:
                _add(report, reason, events)
                report.recovered_samples += self._samples(part, (0, 1), reason, events)
            elif reason is None and recovered:
                _add(report, part.fmt.recovered_reason, recovered)
                report.recovered_samples += self._samples(part, (1,), None, recovered)
        for report in {id(p.report): p.report for p in self.parts}.values():
            report.samples = _first(report.samples)
            report.recovered_samples = _first(report.recovered_samples)

    def _samples(
        self, part: _Part, kinds: tuple[int, ...], reason: str | None, count: int
    ) -> list[Sample]:
        """The first lines of `kinds` in a part, with their line numbers (knowing how many
        there are lets the ordered scan stop as soon as it has seen them all)."""
        found = first_flagged(
            self.con, part.fmt, part.rel, part.path, kinds, self.opts, min(count, MAX_SAMPLES)
        )
        numbers = lines.locate(part.path, [text for _, text in found])
        if part.group is not None:
            numbers = [part.group.original(n) for n in numbers]
        return [
            Sample.of(part.report.name, number, reason or why, text)
            for (why, text), number in zip(found, numbers, strict=True)
        ]


class _Rewrite(Exception):
    """The file holds what DuckDB would split differently from Python; says what."""


def _add(report: FileReport, reason: str, n: int) -> None:
    report.recovered += n
    report.recovered_reasons[reason] = report.recovered_reasons.get(reason, 0) + n


def _first(samples: list[Sample]) -> list[Sample]:
    """The first samples by line number (unknown numbers last)."""
    ordered = sorted(samples, key=lambda s: (s.line is None, s.line or 0))
    return ordered[:MAX_SAMPLES]
