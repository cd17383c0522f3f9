"""The DuckDB side: how files are read, and the passes that insert events and find samples.

Lines DuckDB's CSV reader cannot take (invalid UTF-8, too long) are not lost: `ignore_errors`
with `store_rejects` records their line numbers, and Python fetches them. Every file is read
as whole lines (the delimiter is U+10FFFF, a noncharacter no log writes; `lines.survey` sends
a file that has one, or a bare carriage return, through Python first).
"""

from __future__ import annotations

from array import array
from pathlib import Path
from typing import Any

from scrapeguard.events import EVENT_SQL_TYPES, TIME_RANGE_REASON, TS_END, TS_FIRST
from scrapeguard.sources.base import LogFormat, ParseOptions, Relation, split_upto, sql_str
from scrapeguard.sources.lines import LINE_DELIM
from scrapeguard.sources.progress import setting

KIND_COLUMN = "_sg_k"
"""Bookkeeping column of the staging table: 0 for a plain event, else part code + `_kind`."""
REJECTS = "_sg_rejects"
_REJECTS_SCAN = "_sg_rejects_scan"
_CSV = (
    "header = false, auto_detect = false, quote = '', escape = '', skip = 0, "
    "ignore_errors = true, store_rejects = true, "
    f"rejects_table = '{REJECTS}', rejects_scan = '{_REJECTS_SCAN}'"
)


def quote_split(columns: int) -> Relation:
    """Lines cut at every double quote, in SQL over whole lines.

    Not DuckDB's CSV reader with `"` as the delimiter: for a line with more pieces than
    columns it stores one reject per extra piece, each holding the whole line, so memory grew
    with the square of a run of quotes (8 KB of `\\"` cost 100 MB). `string_split` is
    linear and as fast; it is skipped for a line of too many pieces, whose list of pieces
    would take eight times the line."""
    pieces = ", ".join(f"_q[{i + 1}] AS c{i}" for i in range(columns))
    split = split_upto("line", '"', columns, short=0)
    sql = f"(SELECT line, {pieces} FROM (SELECT line, {split} AS _q FROM {whole_lines().sql}))"
    return Relation(sql, columns)


def whole_lines() -> Relation:
    """One row per non-empty line."""
    sql = (
        f"(SELECT line FROM read_csv($path, columns = {{'line': 'VARCHAR'}}, "
        f"delim = {sql_str(LINE_DELIM)}, {_CSV}) WHERE line IS NOT NULL)"
    )
    return Relation(sql)


def sample_lines() -> Relation:
    """Lines passed in as the list parameter `$lines` (detection)."""
    return Relation("(SELECT unnest($lines::VARCHAR[]) AS line)")


def create_staging(con: Any, table: str) -> None:
    cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in EVENT_SQL_TYPES.items())
    con.execute(f"CREATE OR REPLACE TABLE {table} ({cols}, {KIND_COLUMN} INTEGER)")


def checked(fmt: LogFormat, rel: Relation, opts: ParseOptions) -> str:
    """`fmt`'s SELECT with the checks every format shares: an event (kind 0 or 1) without a
    time, or with a time out of range (`events.TS_FIRST`), is malformed, with the reason.
    On a quote-split fast path it is deferred instead (kind 3, the line in `path`), as
    formats defer what they are unsure of: the loader counts malformed rows of the
    whole-line pass only."""
    bad = (f"(_kind IN (0, 1) AND (ts IS NULL OR ts < TIMESTAMPTZ '{TS_FIRST.isoformat()}' "
           f"OR ts >= TIMESTAMPTZ '{TS_END.isoformat()}'))")
    if rel.columns is not None:
        return (f"SELECT * REPLACE (CASE WHEN {bad} THEN _line ELSE path END AS path, "
                f"CASE WHEN {bad} THEN 3 ELSE _kind END AS _kind) "
                f"FROM ({fmt.select(rel, opts)})")
    return (f"SELECT * REPLACE (CASE WHEN {bad} THEN 2 ELSE _kind END AS _kind, "
            f"CASE WHEN {bad} THEN {sql_str(TIME_RANGE_REASON)} ELSE _why END AS _why) "
            f"FROM ({fmt.select(rel, opts)})")


def _params(sql: str, path: Path | None) -> dict[str, str]:
    return {"path": str(path)} if path is not None and "$path" in sql else {}


def insert(
    con: Any, table: str, fmt: LogFormat, rel: Relation, path: Path | None, code: int,
    opts: ParseOptions,
) -> tuple[int, array[int]]:
    """Parse `path` into `table`; return the rows inserted and the numbers (ascending) of
    the lines DuckDB rejected, as a compact array (there may be millions)."""
    con.execute(f"DROP TABLE IF EXISTS {REJECTS}; DROP TABLE IF EXISTS {_REJECTS_SCAN}")
    cols = ", ".join(EVENT_SQL_TYPES)
    sql = (
        f"INSERT INTO {table} SELECT {cols}, "
        f"CASE WHEN _kind = 0 THEN 0 ELSE {code} + _kind END FROM ({checked(fmt, rel, opts)})"
    )
    inserted = con.execute(sql, _params(sql, path)).fetchone()[0]
    rejects: array[int] = array("q")
    if "read_csv(" in sql:
        result = con.execute(f"SELECT DISTINCT line FROM {REJECTS} ORDER BY line")
        while chunk := result.fetchmany(100_000):
            rejects.extend(int(row[0]) for row in chunk)
        con.execute(f"DROP TABLE IF EXISTS {REJECTS}; DROP TABLE IF EXISTS {_REJECTS_SCAN}")
    return int(inserted), rejects


def first_flagged(
    con: Any, fmt: LogFormat, rel: Relation, path: Path | None, kinds: tuple[int, ...],
    opts: ParseOptions, limit: int,
) -> list[tuple[str, str]]:
    """(reason, line text) of the first `limit` lines of `kinds`, in file order.

    Only LIMIT with insertion order kept guarantees the *first* rows (a streamed result
    arrives in whatever order the threads finish), so this reads the whole file; and only
    if the plan has no join (see `clf._one_of`)."""
    wanted = " OR ".join(f"_kind = {k}" for k in kinds)
    sql = (f"SELECT coalesce(_why, ''), _line FROM ({checked(fmt, rel, opts)}) "
           f"WHERE {wanted} LIMIT {limit}")
    with setting(con, "preserve_insertion_order", "true"):
        rows = con.execute(sql, _params(sql, path)).fetchall()
    con.execute(f"DROP TABLE IF EXISTS {REJECTS}; DROP TABLE IF EXISTS {_REJECTS_SCAN}")
    return [(str(why), str(line)) for why, line in rows]


def deferred(con: Any, table: str, code: int) -> Relation | None:
    """The lines the fast path deferred under `code`, as a relation of whole lines."""
    n = con.execute(f"SELECT count(*) FROM {table} WHERE {KIND_COLUMN} = {code + 3}").fetchone()
    if not n[0]:
        return None
    return Relation(f"(SELECT path AS line FROM {table} WHERE {KIND_COLUMN} = {code + 3})")


def drop_deferred(con: Any, table: str, code: int) -> None:
    con.execute(f"DELETE FROM {table} WHERE {KIND_COLUMN} = {code + 3}")


def deferred_lines(fmt: LogFormat, rel: Relation, opts: ParseOptions) -> Relation:
    """A file's deferred lines in file order, re-read with the fast path (for samples).

    The LIMIT is a fence: without it the optimizer evaluates the slow parse over every row
    before filtering."""
    hot = checked(fmt, rel, opts)
    return Relation(f"(SELECT path AS line FROM ({hot}) WHERE _kind = 3 LIMIT {2**63 - 1})")


def flagged_counts(con: Any, table: str) -> dict[int, int]:
    """Rows per non-zero bookkeeping code, over the whole staging table at once."""
    rows = con.execute(
        f"SELECT {KIND_COLUMN}, count(*) FROM {table} WHERE {KIND_COLUMN} <> 0 GROUP BY ALL"
    ).fetchall()
    return {int(code): int(n) for code, n in rows}


def finish(con: Any, staging: str, table: str, name: str) -> None:
    """Drop malformed rows and the bookkeeping column; put the table in place."""
    con.execute(f"DELETE FROM {staging} WHERE {KIND_COLUMN} % 4 = 2")
    con.execute(f"ALTER TABLE {staging} DROP COLUMN {KIND_COLUMN}")
    con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(f'ALTER TABLE {staging} RENAME TO "{name}"')
