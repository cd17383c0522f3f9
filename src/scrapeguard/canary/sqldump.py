"""SQL dumps: the rows of INSERT ... VALUES statements and of pg_dump COPY blocks.

Statements end at a semicolon outside quotes, with both quoting styles understood (`''` and
MySQL's `\\'`, which is how mysqldump writes), so semicolons and line breaks inside values do
not split them. Other statements (CREATE TABLE, SET ...) hold no records and are skipped; an
unterminated statement at the end is counted and read as plain text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import IO

from scrapeguard.canary.fields import DumpStats, read_text, row

_VALUE = re.compile(r"'((?:[^'\\]|\\.|'')*)'|\"((?:[^\"\\]|\\.|\"\")*)\"|(NULL)"
                    r"|(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)|(\()|(\))", re.I | re.S)
_SPECIAL = re.compile(r"[\\'\";]|--")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
MAX_STATEMENT = 64 << 20


class _Splitter:
    """Finds where statements end, line by line, remembering an open quote between lines."""

    def __init__(self) -> None:
        self.quote = ""

    def ends(self, line: str) -> list[int]:
        """Offsets just past each statement-ending semicolon in the line."""
        found: list[int] = []
        at = 0
        while (match := _SPECIAL.search(line, at)) is not None:
            char, at = match.group(), match.end()
            if self.quote:
                if char == "\\":
                    at += 1
                elif char == self.quote:
                    if line.startswith(char, at):
                        at += 1  # a doubled quote stands for itself
                    else:
                        self.quote = ""
            elif char in "'\"":
                self.quote = char
            elif char == ";":
                found.append(at)
            elif char == "--":
                break  # a comment to the end of the line
        return found


def read_sql(text: IO[str], stats: DumpStats) -> Iterator[str]:
    """INSERT ... VALUES tuples and pg_dump COPY blocks; anything else is skipped."""
    splitter = _Splitter()
    buffer, copying, number = "", False, 0
    for number, line in enumerate(text, 1):
        if copying:
            if line.rstrip("\r\n") == "\\.":
                copying = False
            else:
                yield from row([_unescape(c) for c in line.rstrip("\r\n").split("\t")], stats)
            continue
        start = 0
        for end in splitter.ends(line):
            statement, buffer, start = (buffer + line[start:end]).strip(), "", end
            if re.match(r"COPY\s.*FROM\s+stdin", statement, re.I | re.S):
                copying = True
            elif re.match(r"(INSERT|REPLACE)\s", statement, re.I):
                yield from _inserts(statement, stats, number)
        buffer += line[start:]
        if len(buffer) > MAX_STATEMENT:
            stats.bad(f"{stats.path}:{number}: statement over {MAX_STATEMENT} bytes; read as text")
            yield from read_text(io.StringIO(buffer), stats)
            buffer, splitter.quote = "", ""
    if buffer.strip():
        stats.bad(f"{stats.path}:{number}: unterminated statement; read as text")
        yield from read_text(io.StringIO(buffer), stats)


def _inserts(statement: str, stats: DumpStats, number: int) -> Iterator[str]:
    at = re.search(r"\bVALUES\b", statement, re.I)
    if at is None:
        stats.bad(f"{stats.path}:{number}: INSERT without VALUES; read as text")
        yield from row([statement], stats)
        return
    depth = 0
    cells: list[str] = []
    for match in _VALUE.finditer(statement, at.end()):
        single, double, null, num, opening, closing = match.groups()
        if opening:
            depth, cells = depth + 1, [] if depth == 0 else cells
        elif closing:
            depth -= 1
            if depth == 0:
                yield from row(cells, stats)
        elif depth == 1 and null is None:
            value = single if single is not None else double if double is not None else num
            cells.append(_unescape(value.replace("''", "'")))


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), value, flags=re.S)
