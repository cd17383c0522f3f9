"""Write merged events as JSON lines, nginx combined lines and truth labels, line-aligned.

Lines are built as whole Arrow string columns (concatenation, escaping, formatting of numbers
and times are vectorised kernels) and written straight from the column's data buffer: each line
ends in a newline, so the buffer *is* the file's bytes. No Python string per event is ever made,
which is what makes hundreds of thousands of events a second possible on two cores.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scrapeguard.simulate.draws import DAY_MS

BATCH = 131_072
"""Rows per write: bounds memory and keeps each string column far below 2 GiB."""
WORKERS = 2
"""Batches built ahead of the one being written."""

_CLOCK = pa.array([f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60)
                   for s in range(60)])
_MILLIS = pa.array([f"{i:03d}" for i in range(1000)])

TRUTH_HEADER = "scenario\tlabel\tidentity\n"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
"""English month names as nginx writes them, whatever the machine's locale."""


def _join(*parts: str | pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _take(pool: pa.Array, index: pa.Array) -> pa.Array:
    return pool.take(index)


def _json_quoted(column: pa.Array) -> pa.Array:
    escaped = pc.replace_substring(pc.replace_substring(column, "\\", "\\\\"), '"', '\\"')
    return _join('"', escaped, '"')


def _log_quoted(column: pa.Array) -> pa.Array:
    """Text as nginx logs it inside quotes: `"` and `\\` escaped as \\xHH."""
    return pc.replace_substring(pc.replace_substring(column, "\\", "\\x5C"), '"', "\\x22")


def _json_list(column: pa.Array) -> pa.Array:
    """A list of plain tokens (ids, field names) as a JSON array, `[]`, or `null`."""
    joined = _join('["', pc.binary_join(column, '","'), '"]')
    empty = pc.equal(pc.list_value_length(column), 0)
    return pc.fill_null(pc.if_else(empty, "[]", joined), "null")


STYLES: dict[str, tuple[Callable[[pa.Array], pa.Array], str]] = {
    "json": (_json_quoted, "null"),
    "log": (_log_quoted, "-"),
    "plain": (lambda text: text, ""),
}
"""How a coded column is written: transform of its text, and what a null becomes."""

CODED_STYLES: tuple[tuple[str, str], ...] = (
    ("ip", "json"), ("method", "json"), ("ua", "json"), ("referer", "json"),
    ("account", "json"), ("session", "json"), ("account", "log"), ("referer", "log"),
    ("ua", "log"), ("ip", "plain"), ("method", "plain"), ("identity", "plain"),
    ("hdr", "json"), ("tls", "json"),
)


def rendered_pools(table: pa.Table) -> dict[tuple[str, str], pa.Array]:
    """Each coded column's pool, written once in each style it appears in, with the null
    rendering appended last: a batch then only gathers finished text by code."""
    pools = {}
    for name, style in CODED_STYLES:
        dictionary = table.column(name).chunk(0).dictionary
        transform, null = STYLES[style]
        pools[name, style] = pa.concat_arrays([transform(dictionary), pa.array([null])])
    return pools


def _gather(pools: dict[tuple[str, str], pa.Array], column: pa.DictionaryArray, name: str,
            style: str) -> pa.Array:
    pool = pools[name, style]
    return pool.take(pc.fill_null(column.indices, len(pool) - 1))


class Writer:
    """The three line-aligned files of one run, written batch by batch."""

    def __init__(self, out_dir: Path, start: datetime, hours: float,
                 scenarios: Sequence[tuple[str, str]]) -> None:
        days = int(hours // 24) + 2
        dates = [start + timedelta(days=d) for d in range(days)]
        self.iso_dates = pa.array([d.strftime("%Y-%m-%dT") for d in dates])
        self.clf_dates = pa.array([f"[{d.day:02d}/{MONTHS[d.month - 1]}/{d.year}:" for d in dates])
        self.truth_prefix = pa.array([f"{name}\t{label}\t" for name, label in scenarios])
        self.files: list[BinaryIO] = [
            (out_dir / name).open("wb") for name in ("events.jsonl", "access.log", "truth.tsv")
        ]
        self.files[2].write(TRUTH_HEADER.encode())
        self.pools: dict[tuple[str, str], pa.Array] = {}
        self.stacks = False
        """Events carry `hdr` and `tls`: only where some scenario models client stacks, so
        a run without one writes the bytes it wrote before the fields existed."""

    def write(self, table: pa.Table, order: np.ndarray, scenario: np.ndarray,
              progress: Callable[[int], None]) -> None:
        """Write the rows of `table` in `order`, `scenario` giving each row's scenario index.

        Lines of the next batches are built on worker threads (Arrow's kernels release the
        GIL) while the main thread writes the previous batch, in order."""
        pending: deque[tuple[int, Future[tuple[pa.Array, ...]]]] = deque()
        if len(order) == 0:
            return
        self.pools = rendered_pools(table)
        self.stacks = any(table.column(name).null_count < table.num_rows
                          for name in ("hdr", "tls"))
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            for offset in range(0, len(order), BATCH):
                rows = order[offset:offset + BATCH]
                pending.append((offset, pool.submit(self._batch, table, rows, scenario[rows])))
                if len(pending) > WORKERS:
                    self._flush(*pending.popleft(), len(order), progress)
            while pending:
                self._flush(*pending.popleft(), len(order), progress)

    def _batch(self, table: pa.Table, rows: np.ndarray, scenario: np.ndarray
               ) -> tuple[pa.Array, ...]:
        batch = table.take(pa.array(rows)).combine_chunks()  # rows is never empty
        cols = {name: batch.column(name).chunk(0) for name in batch.column_names}
        return self._lines(cols, pa.array(scenario))

    def _flush(self, offset: int, lines: Future[tuple[pa.Array, ...]], total: int,
               progress: Callable[[int], None]) -> None:
        for file, column in zip(self.files, lines.result(), strict=True):
            _write_lines(file, column)
        progress(min(offset + BATCH, total))

    def _lines(self, c: dict[str, pa.Array], scenario: pa.Array) -> tuple[pa.Array, ...]:
        ts = c["ts"]
        day = pc.divide(ts, DAY_MS)
        second = pc.divide(pc.subtract(ts, pc.multiply(day, DAY_MS)), 1000)
        millis = pc.subtract(ts, pc.multiply(pc.divide(ts, 1000), 1000))
        clock = _take(_CLOCK, second)
        status = pc.cast(c["status"], pa.string())
        size = pc.cast(c["bytes"], pa.string())

        def js(name: str) -> pa.Array:
            return _gather(self.pools, c[name], name, "json")

        def log(name: str) -> pa.Array:
            return _gather(self.pools, c[name], name, "log")

        event = _join(
            '{"ts":"', _take(self.iso_dates, day), clock, ".", _take(_MILLIS, millis), 'Z","ip":',
            js("ip"), ',"method":', js("method"), ',"path":', _json_quoted(c["path"]),
            ',"status":', status, ',"bytes":', size, ',"ua":', js("ua"), ',"referer":',
            js("referer"), ',"account":', js("account"), ',"session":', js("session"),
            ',"subjects":', _json_list(c["subjects"]), ',"fields":', _json_list(c["fields"]),
            *((',"hdr":', js("hdr"), ',"tls":', js("tls")) if self.stacks else ()),
            "}\n",
        )
        combined = _join(
            _gather(self.pools, c["ip"], "ip", "plain"), " - ", log("account"), " ",
            _take(self.clf_dates, day), clock, ' +0000] "',
            _gather(self.pools, c["method"], "method", "plain"), " ", _log_quoted(c["path"]),
            ' HTTP/1.1" ', status, " ", size, ' "', log("referer"), '" "', log("ua"), '"\n',
        )
        identity = _gather(self.pools, c["identity"], "identity", "plain")
        truth = _join(_take(self.truth_prefix, scenario), identity, "\n")
        return event, combined, truth

    def close(self) -> None:
        for file in self.files:
            file.close()


def _write_lines(file: BinaryIO, lines: pa.Array) -> None:
    """Write a string column whose values end in newlines: its data buffer is the text."""
    if len(lines) == 0:
        return
    if lines.null_count:
        raise ValueError("a line came out null: an input column had an unexpected null")
    _, offsets, data = lines.buffers()
    ends = np.frombuffer(offsets, dtype=np.int32, count=lines.offset + len(lines) + 1)
    file.write(memoryview(data)[int(ends[lines.offset]):int(ends[-1])])
