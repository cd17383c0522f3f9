"""Access logs parsed by Spark executors: the events table of `sources/` as a DataFrame.

The definition is `sources/clf.py`'s escape-aware patterns (`PAIRED_RE`, then the same with
the final quote closed, then `FULL_RE`), its time format and its request split, run by Spark
on every line. DuckDB's engine reads clean lines on a faster path first; that path is an
optimisation of these same patterns, and the conformance test holds the two equal. Lines
are numbered in file order (`eid`), which orders events of the same millisecond. A time
outside `events.TS_FIRST`..`TS_END` makes the line malformed, as on DuckDB.

Formats: `combined` and `common`. Other formats, `-` (stdin) and X-Forwarded-For resolution
are refused with a message (`check_supported`), not read differently.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scrapeguard.errors import SourceError
from scrapeguard.events import TIME_RANGE_REASON, TS_END, TS_FIRST
from scrapeguard.sources.base import BAD_OFFSET_RE, LogFormat, get_format
from scrapeguard.sources.clf import _METHODS, _PROTOCOLS, FIELDS, FULL_RE, PAIRED_RE
from scrapeguard.sources.inputs import STDIN, expand, gunzip, is_gzip
from scrapeguard.sources.malformed import check_share
from scrapeguard.sources.report import FileReport, LoadReport, Sample
from scrapeguard.words import plural

SPARK_FORMATS = ("combined", "common")
LINE_BITS = 40
"""An event id is (file index << 40) + Spark's monotonically increasing id within the file
(partition << 33 + row), so ids follow file order across files."""

_JAVA_TS = "dd/MMM/yyyy:HH:mm:ss Z"
"""`clf.TS_FORMAT` (`%d/%b/%Y:%H:%M:%S %z`) in Java's pattern letters."""


def _sql(text: str) -> str:
    """A Spark SQL string literal (backslashes and quotes escaped)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _rx(pattern: str) -> str:
    """An RE2 pattern for Java: `.` matches any character but a newline in RE2, and lines
    hold no newline, so DOTALL keeps Java's `.` from stopping at U+0085 or U+2028."""
    return _sql("(?s)" + pattern)


def check_supported(inputs: Sequence[str], fmt: str | LogFormat | None,
                    trusted_proxies: Sequence[str]) -> LogFormat:
    """The format Spark reads these inputs with, or a SourceError saying what is missing."""
    if any(name == STDIN for name in inputs):
        raise SourceError("--engine spark reads files (local, HDFS or object store), not -")
    if trusted_proxies:
        raise SourceError("--engine spark does not resolve X-Forwarded-For yet: the policy "
                          "lists trusted_proxies; use --engine duckdb")
    chosen = get_format(fmt) if isinstance(fmt, str) else fmt
    if chosen is None:
        chosen = get_format("combined")
    if chosen.name not in SPARK_FORMATS:
        raise SourceError(f"--engine spark reads {' and '.join(SPARK_FORMATS)} logs; "
                          f"{chosen.name!r} is not on Spark yet: use --engine duckdb")
    return chosen


def _files(inputs: Sequence[str]) -> list[str]:
    """Local paths and globs expanded as `sources` does; URLs (hdfs://, s3a://) kept."""
    local = [name for name in inputs if "://" not in name]
    remote = [name for name in inputs if "://" in name]
    return [*expand(local), *remote] if local else remote


def _fields_sql() -> str:
    cases = []
    for i, name in enumerate(FIELDS, start=1):
        cases.append(
            f"CASE _try WHEN 0 THEN regexp_extract(line, {_rx(PAIRED_RE)}, {i}) "
            f"WHEN 1 THEN regexp_extract(concat(line, '\"'), {_rx(PAIRED_RE)}, {i}) "
            f"WHEN 2 THEN regexp_extract(line, {_rx(FULL_RE)}, {i}) END AS m_{name}")
    return (
        "SELECT _file, _eid, line, _try, " + ", ".join(cases) + " FROM ("
        f"SELECT *, CASE WHEN line RLIKE {_rx(PAIRED_RE)} THEN 0 "
        f"WHEN concat(line, '\"') RLIKE {_rx(PAIRED_RE)} THEN 1 "
        f"WHEN line RLIKE {_rx(FULL_RE)} THEN 2 END AS _try FROM _sg_lines)"
    )


def _one_of(values: tuple[str, ...], token: str) -> str:
    return "(" + " OR ".join(f"{token} = {_sql(v)}" for v in values) + ")"


def _events_sql(pairs: bool) -> str:
    """`clf._AccessLog.select`'s slow path in Spark SQL, over `_sg_fields`."""
    paired = "m_pair <> ''" if pairs else "false"
    ok = (f"coalesce(size(_r) = 3 AND {_one_of(_METHODS, '_r[0]')} "
          f"AND {_one_of(_PROTOCOLS, '_r[2]')}, false)")
    in_range = (f"_ts >= timestamp_seconds({int(TS_FIRST.timestamp())}) "
                f"AND _ts < timestamp_seconds({int(TS_END.timestamp())})")
    return f"""
    SELECT _file, _eid, _try, line, m_ts AS _m_ts, _ts AS _read_ts,
      CASE WHEN {in_range} THEN _ts END AS ts,
      m_ip AS ip,
      CASE WHEN _ok THEN _r[0] ELSE _method END AS method,
      CASE WHEN _ok THEN _r[1]
           WHEN _method IS NULL THEN m_req
           ELSE regexp_replace(_rem, ' HTTP/[0-9.]+$', '') END AS path,
      TRY_CAST(m_status AS INT) AS status,
      CASE WHEN m_bytes = '-' THEN CAST(0 AS BIGINT) ELSE TRY_CAST(m_bytes AS BIGINT) END
        AS bytes,
      CASE WHEN {paired} THEN NULLIF(m_ua, '-') END AS ua,
      CASE WHEN {paired} THEN NULLIF(m_ref, '-') END AS referer,
      NULLIF(m_user, '-') AS account,
      CAST(NULL AS STRING) AS session,
      CAST(NULL AS ARRAY<STRING>) AS subjects,
      CAST(NULL AS ARRAY<STRING>) AS fields,
      CAST(NULL AS STRING) AS hdr,
      CAST(NULL AS STRING) AS tls
    FROM (
      SELECT *,
        CASE WHEN _tok RLIKE '^[A-Z][A-Z0-9_-]*$' THEN _tok END AS _method,
        CASE WHEN NOT _ok THEN substr(m_req, instr(m_req, ' ') + 1) END AS _rem
      FROM (
        SELECT *, CASE WHEN NOT _ok AND instr(m_req, ' ') > 1
                       THEN left(m_req, instr(m_req, ' ') - 1) END AS _tok
        FROM (
          SELECT *, {ok} AS _ok
          FROM (
            SELECT *, split(m_req, ' ', -1) AS _r,
                   CASE WHEN NOT m_ts RLIKE {_rx(BAD_OFFSET_RE)}
                        THEN try_to_timestamp(m_ts, {_sql(_JAVA_TS)}) END AS _ts
            FROM _sg_fields WHERE _try IS NOT NULL))))"""


def load_events_spark(
    session: Any,
    inputs: Sequence[str],
    *,
    fmt: str | LogFormat | None = None,
    strict: bool = False,
    max_malformed: float | None = None,
    trusted_proxies: Sequence[str] = (),
    table: str = "events",
) -> LoadReport:
    """Register temp view `table` with the events of `inputs`, parsed by Spark; report what
    was read, counted by Spark (the driver sees counts and a few sample lines only)."""
    chosen = check_supported(inputs, fmt, trusted_proxies)
    names = _files(inputs)
    if not names:
        raise SourceError("no input files")
    for name in names:
        if "://" not in name and not Path(name).is_file():
            raise SourceError(f"{name}: no such file")
    with tempfile.TemporaryDirectory(prefix="scrapeguard-spark-") as tmp:
        sources = [name if "://" in name else _readable(name, index, Path(tmp))
                   for index, name in enumerate(names)]
        notes = _parse(session, names, sources, Path(tmp), pairs=chosen.name == "combined")
        counts = {(r["_file"], r["kind"]): r["n"] for r in session.sql(
            "SELECT _file, CASE WHEN ts IS NULL THEN 2 WHEN _try = 1 THEN 1 ELSE 0 END AS kind, "
            "count(*) AS n FROM _sg_parsed GROUP BY 1, 2").collect()}
        unparsed = {r["_file"]: r["n"] for r in session.sql(
            "SELECT _file, count(*) AS n FROM _sg_lines GROUP BY 1").collect()}
        files = []
        for index, name in enumerate(names):
            good = counts.get((index, 0), 0)
            recovered = counts.get((index, 1), 0)
            lines_n = unparsed.get(index, 0)
            report = FileReport(name, format=chosen.name, lines=lines_n,
                                events=good + recovered, malformed=lines_n - good - recovered,
                                recovered=recovered, notes=notes.get(index, []))
            if recovered:
                report.recovered_reasons["closed an unterminated final quote"] = recovered
            if report.malformed:
                report.samples = _samples(session, index, name, chosen.name)
            files.append(report)
    load = LoadReport.build(table, files, [])
    if strict and load.malformed:
        raise SourceError(f"{plural(load.malformed, 'malformed line')} (strict mode)")
    if max_malformed is not None:
        check_share(load, max_malformed)
    session.sql(
        "SELECT _eid AS eid, ts, ip, method, path, status, bytes, ua, referer, account, "
        "session, subjects, fields, hdr, tls FROM _sg_parsed WHERE ts IS NOT NULL"
    ).createOrReplaceTempView(table)
    return load


def _readable(name: str, index: int, tmp: Path) -> str:
    """What Spark reads for a local input. Hadoop picks gzip by a `.gz` suffix where DuckDB's
    reader (`sources/inputs.py`) looks at the bytes: a link with the suffix the bytes call
    for makes the two read a file alike."""
    gzipped = is_gzip(Path(name))
    if gzipped == name.endswith(".gz"):
        return name
    link = tmp / f"{index}{'.gz' if gzipped else '.log'}"
    link.symlink_to(Path(name).resolve())
    return str(link)


def _parse(session: Any, names: list[str], sources: list[str], tmp: Path, *,
           pairs: bool) -> dict[int, list[str]]:
    """Parse `sources` into the checkpointed view `_sg_parsed`; return notes per file. A local
    gzip file Spark cannot read to its end (cut short, damaged) is decompressed on the driver
    as far as it goes, as DuckDB's reader does, and read again; anything else Spark cannot
    read is an error naming the file and Spark's reason."""
    notes: dict[int, list[str]] = {}
    while True:
        _register_lines(session, sources)
        session.sql(_fields_sql()).createOrReplaceTempView("_sg_fields")
        try:
            # One pass: the parsed lines are kept, and the counts come from them.
            parsed = session.sql(_events_sql(pairs)).localCheckpoint(eager=True)
        except Exception as exc:  # Py4J and pyspark.errors wrap Spark's own exceptions
            index = _failed_file(str(exc), sources)
            if (index is None or "://" in names[index] or index in notes
                    or not is_gzip(Path(names[index]))):
                where = names[index] if index is not None else ", ".join(names)
                raise SourceError(f"{where}: Spark could not read it: {_cause(str(exc))}; "
                                  "--engine duckdb reads what it can of a damaged file"
                                  ) from None
            salvaged = tmp / f"{index}.salvaged"
            notes[index] = gunzip(names[index], Path(names[index]), salvaged, lambda _: None)
            sources[index] = str(salvaged)
            continue
        parsed.createOrReplaceTempView("_sg_parsed")
        return notes


def _register_lines(session: Any, sources: list[str]) -> None:
    """The view `_sg_lines`: every non-empty line of `sources`, numbered in file order."""
    from pyspark.sql import functions as F

    frames = []
    for index, source in enumerate(sources):
        frame = session.read.text(source, wholetext=False).withColumnRenamed("value", "line")
        frames.append(frame.select(
            F.lit(index).alias("_file"),
            (F.lit(index).cast("bigint") * (1 << LINE_BITS)
             + F.monotonically_increasing_id()).alias("_eid"),
            F.regexp_replace("line", "\r$", "").alias("line")))
    lines = frames[0]
    for frame in frames[1:]:
        lines = lines.unionByName(frame)
    lines.filter(F.col("line") != "").createOrReplaceTempView("_sg_lines")


def _failed_file(message: str, sources: list[str]) -> int | None:
    """Which source a Spark read failure names (its message carries the file's URI)."""
    for index, source in enumerate(sources):
        if source in message or str(Path(source).absolute()) in message:
            return index
    return None


def _cause(message: str) -> str:
    """The Java exception under a Spark failure, on one line (`java.io.EOFException: ...`)."""
    found = re.search(r"(?:java|org)\.[\w.$]+(?:Exception|Error): [^\n]*", message)
    return (found.group(0) if found else message.strip().splitlines()[0])[:300]


def _samples(session: Any, index: int, name: str, fmt: str) -> list[Sample]:
    """The file's first malformed lines, with DuckDB's reasons (`sources/clf.py`,
    `sources/scan.py`): no log line, a time that does not read, a time out of range."""
    rows = session.sql(
        f"SELECT l.line, CASE WHEN p._eid IS NULL THEN 'not a {fmt} log line' "
        f"WHEN p._read_ts IS NULL THEN concat('unreadable time ', p._m_ts) "
        f"ELSE {_sql(TIME_RANGE_REASON)} END AS why FROM _sg_lines l LEFT JOIN "
        f"_sg_parsed p ON l._eid = p._eid "
        f"WHERE l._file = {index} AND p.ts IS NULL ORDER BY l._eid LIMIT 5").collect()
    return [Sample.of(name, None, r["why"], r["line"]) for r in rows]
