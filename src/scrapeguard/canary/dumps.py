"""Reading leaked dumps of any shape into fields of text, without trusting their format.

A leak arrives as whatever the harvester or reseller wrote: CSV (with a BOM, semicolons,
tabs, UTF-16 from a spreadsheet's "Unicode text"), JSON, JSON lines, SQL INSERT or COPY
dumps, .xlsx (read with openpyxl when it is installed), `.gz` of any of them, or plain text.
Each reader yields fields (cells, string values, lines) and, per row, the row's cells joined
with spaces, so a phone split over columns (`+86` | `170 0000 1234`) is still seen whole.
Lines that do not parse are counted and read as plain text instead of being dropped.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import importlib.util
import io
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from scrapeguard.canary.fields import DumpStats, read_text, row
from scrapeguard.canary.keys import CanaryError
from scrapeguard.canary.sqldump import read_sql

FORMATS = ("csv", "json", "jsonl", "sql", "xlsx", "text")
_SUFFIXES = {".csv": "csv", ".tsv": "csv", ".json": "json", ".jsonl": "jsonl",
             ".ndjson": "jsonl", ".sql": "sql", ".xlsx": "xlsx"}
"""Names that settle the format; `.txt` does not: spreadsheets export tab-separated text."""
MAX_STATEMENT = 64 << 20


def _open_bytes(path: Path) -> IO[bytes]:
    if str(path) == "-":
        return sys.stdin.buffer
    try:
        handle: IO[bytes] = path.open("rb")
        if handle.read(2) == b"\x1f\x8b":
            handle.close()
            return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
        handle.seek(0)
        return handle
    except OSError as exc:
        raise CanaryError(f"{path}: {exc.strerror or exc}") from None


def _encoding(head: bytes) -> str:
    """UTF-16 by its BOM, else the first of UTF-8 and GB18030 the sample decodes in (a
    character cut by the sample's end is no error), else Latin-1, which reads anything."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    for name in ("utf-8-sig", "gb18030"):
        try:
            codecs.getincrementaldecoder(name)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return name
    return "latin-1"


def detect(path: Path, head: str) -> str:
    """The format from the name (under any `.gz`), else from the first 64 kB."""
    name = path.name.lower().removesuffix(".gz")
    suffix = Path(name).suffix
    if suffix in _SUFFIXES and suffix != ".json":
        return _SUFFIXES[suffix]
    stripped = head.lstrip()
    if stripped.startswith(("{", "[")):
        first = stripped.splitlines()[0] if stripped else ""
        try:
            json.loads(first)
        except ValueError:
            return "json"
        return "jsonl" if len(stripped.splitlines()) > 1 else "json"
    if suffix == ".json":
        return "json"
    if re.search(r"^\s*(INSERT\s+INTO|COPY\s+\S+.*FROM\s+stdin)", head, re.I | re.M):
        return "sql"
    try:
        csv.Sniffer().sniff(head[:16384], delimiters=",;\t|")
    except csv.Error:
        return "text"
    return "csv"


def read_fields(path: Path, fmt: str | None = None) -> tuple[DumpStats, Iterator[str]]:
    """(stats filled in as the iterator runs, the fields of the dump)."""
    stats = DumpStats(str(path))
    if fmt is not None and fmt not in FORMATS:
        raise CanaryError(f"unknown dump format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt == "xlsx" or (fmt is None and path.name.lower().endswith(".xlsx")):
        if importlib.util.find_spec("openpyxl") is None:
            raise CanaryError(f"{path}: reading .xlsx needs openpyxl (pip install openpyxl); "
                              "or save the sheet as CSV and trace that")
        stats.format = "xlsx"
        return stats, _xlsx(path, stats)
    raw = _open_bytes(path)
    head_bytes = raw.read(65536)
    stats.encoding = _encoding(head_bytes)
    stream = io.BufferedReader(_Prefixed(head_bytes, raw))
    text = io.TextIOWrapper(stream, encoding=stats.encoding, errors="replace", newline="")
    stats.format = fmt or detect(path, head_bytes.decode(stats.encoding, errors="replace"))
    readers = {"csv": _csv, "json": _json, "jsonl": _jsonl, "sql": read_sql, "text": read_text}
    return stats, readers[stats.format](text, stats)


class _Prefixed(io.RawIOBase):
    """A byte stream with its already-read head put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._head[:len(buffer)] if self._head else self._rest.read(len(buffer))
        self._head = self._head[len(data):] if self._head else b""
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self._rest.close()
        super().close()


def _csv(text: IO[str], stats: DumpStats) -> Iterator[str]:
    head = text.read(16384)
    try:
        dialect: Any = csv.Sniffer().sniff(head, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    csv.field_size_limit(MAX_STATEMENT)
    reader = csv.reader(_chain(head, text), dialect)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            stats.bad(f"{stats.path}:{reader.line_num}: {exc}")
            continue
        yield from row(cells, stats)


def _chain(head: str, rest: IO[str]) -> Iterator[str]:
    yield from io.StringIO(head + rest.readline())
    yield from rest


def _scalars(value: Any, out: list[str]) -> None:
    if isinstance(value, dict):
        for item in value.values():
            _scalars(item, out)
    elif isinstance(value, list):
        for item in value:
            _scalars(item, out)
    elif value is not None and not isinstance(value, bool):
        out.append(str(value))


def _holds_records(value: Any) -> bool:
    """Whether a value is or contains (through objects) a list of objects or lists."""
    if isinstance(value, list):
        return any(isinstance(i, dict | list) for i in value)
    return isinstance(value, dict) and any(_holds_records(v) for v in value.values())


def _records(value: Any, stats: DumpStats) -> Iterator[str]:
    """One row per record: an object holding no list of objects (nested objects are part of
    it, so `{"user": {"tel": ...}}` is one row); lists and envelopes are walked into."""
    if isinstance(value, list):
        for item in value:
            yield from _records(item, stats)
        return
    if not isinstance(value, dict):
        if value is not None and not isinstance(value, bool):
            yield from row([str(value)], stats)
        return
    inner = [v for v in value.values() if _holds_records(v)]
    cells: list[str] = []
    _scalars({k: v for k, v in value.items() if not any(v is i for i in inner)}, cells)
    if cells:
        yield from row(cells, stats)
    for item in inner:
        yield from _records(item, stats)


def _json(text: IO[str], stats: DumpStats) -> Iterator[str]:
    body = text.read()
    try:
        data = json.loads(body)
    except ValueError as exc:
        stats.bad(f"{stats.path}: not JSON ({exc}); read as text")
        yield from read_text(io.StringIO(body), stats)
        return
    yield from _records(data, stats)


def _jsonl(text: IO[str], stats: DumpStats) -> Iterator[str]:
    for number, line in enumerate(text, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            stats.bad(f"{stats.path}:{number}: not JSON; read as text")
            yield from row([line.strip()], stats)
            continue
        yield from _records(data, stats)


def _xlsx(path: Path, stats: DumpStats) -> Iterator[str]:
    from openpyxl import load_workbook  # type: ignore[import-untyped, unused-ignore]

    book = load_workbook(path, read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            for row in sheet.iter_rows(values_only=True):
                cells = [str(v) for v in row if v is not None]
                if cells:
                    yield from row(cells, stats)
    finally:
        book.close()
