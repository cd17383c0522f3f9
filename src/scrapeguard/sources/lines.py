"""Line-by-line Python reading, for the few places the SQL fast path needs help.

DuckDB reads the bulk; Python only looks at the first lines (format detection), fetches the
lines DuckDB rejected (invalid UTF-8, too long, a stray delimiter), rewrites a file DuckDB
cannot split into lines at all (mixed line endings), and finds the line numbers of sample
lines. Lines are split at `\\n` only; one trailing `\\r` is a line ending, as DuckDB treats it.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_LINE = 512 * 1024
"""Longer lines are malformed without parsing (and stay within DuckDB's 2 MB line limit even
after invalid bytes become three-byte replacement characters)."""
LINE_DELIM = "\U0010ffff"
"""The delimiter for reading whole lines: a noncharacter no log writes."""
BOM = b"\xef\xbb\xbf"
INVALID_UTF8 = "invalid UTF-8 decoded with replacement"
INNER_CR = "carriage return inside the line replaced"
STRAY_DELIM = "U+10FFFF replaced"


@dataclass(frozen=True)
class Item:
    """One line that needs Python's help: its number, clean text and what was changed."""

    number: int
    text: str
    reason: str | None = None
    """What was repaired (the line counts as recovered if it then parses); None if nothing."""
    too_long: int = 0
    """The line's length in bytes when it exceeds MAX_LINE (then it is malformed)."""


def _read(f: BinaryIO) -> Iterator[tuple[int, bytes, int]]:
    """(line number, content capped at MAX_LINE, full length) without newline or final CR."""
    number = 0
    while True:
        chunk = f.readline(MAX_LINE + 1)
        if not chunk:
            return
        number += 1
        length = len(chunk)
        if chunk.endswith(b"\n"):
            chunk = chunk[:-2] if chunk.endswith(b"\r\n") else chunk[:-1]
            length = len(chunk)
        elif length > MAX_LINE:  # skip the rest of an overlong line without holding it
            while more := f.readline(1 << 20):
                length += len(more)
                if more.endswith(b"\n"):
                    length -= 2 if more.endswith(b"\r\n") else 1
                    break
        if number == 1 and chunk.startswith(BOM):
            chunk = chunk[len(BOM) :]
        yield number, chunk, length


def iter_lines(path: Path) -> Iterator[tuple[int, bytes, int]]:
    """The lines of a plain file, see `_read`."""
    with path.open("rb", buffering=1 << 20) as f:
        yield from _read(f)


def sample(path: Path, count: int = 20, max_bytes: int = 1 << 20) -> list[str]:
    """The first `count` non-blank lines (decoded leniently), for detection."""
    found: list[str] = []
    seen = 0
    for _, raw, length in iter_lines(path):
        seen += length + 1
        if raw.strip():
            found.append(raw.decode("utf-8", "replace"))
        if len(found) >= count or seen >= max_bytes:
            break
    return found


def repair(number: int, raw: bytes, length: int) -> Item:
    """Turn raw bytes into text DuckDB can read as one line, noting what had to change."""
    if length > MAX_LINE:
        return Item(number, raw[:200].decode("utf-8", "replace"), too_long=length)
    reasons = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        reasons.append(INVALID_UTF8)
    if "\r" in text:
        text = text.replace("\r", "\ufffd")
        reasons.append(INNER_CR)
    if LINE_DELIM in text:
        text = text.replace(LINE_DELIM, "\ufffd")
        reasons.append(STRAY_DELIM)
    return Item(number, text, "; ".join(reasons) or None)


def fetch(path: Path, numbers: Iterable[int]) -> Iterator[Item]:
    """The given lines of a file (numbers ascending), repaired, in order, one at a time."""
    wanted = iter(numbers)
    target = next(wanted, None)
    if target is None:
        return
    for number, raw, length in iter_lines(path):
        if number == target:
            yield repair(number, raw, length)
            target = next(wanted, None)
            if target is None:
                return


def normalize(src: Path, dst: Path) -> Iterator[Item]:
    """Rewrite `src` so that DuckDB can split it into lines, keeping line numbers.

    Lines with a carriage return inside (which make DuckDB's reader give up on the whole file)
    are left blank in `dst`, which DuckDB skips, and yielded to be parsed separately.
    """
    with dst.open("wb", buffering=1 << 20) as out:
        for number, raw, length in iter_lines(src):
            if b"\r" in raw or length > MAX_LINE:
                yield repair(number, raw, length)
                out.write(b"\n")
            else:
                out.write(raw + b"\n")


def locate(path: Path, texts: Sequence[str]) -> list[int | None]:
    """Line numbers of `texts`, which occur in the file in this order (None if not found).

    A C-speed search of the mapped file, so finding a line near the end of a large log
    costs a fraction of a second, not a Python loop over every line."""
    found: list[int | None] = [None] * len(texts)
    if not texts or path.stat().st_size == 0:
        return found
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        start = len(BOM) if mm[: len(BOM)] == BOM else 0
        pos, number = start, 1  # pos: start of line `number`
        for k, text in enumerate(texts):
            at = _find_line(mm, text.encode("utf-8"), pos)
            if at is None:
                continue
            number += _count_newlines(mm, pos, at)
            found[k] = number
            end = mm.find(b"\n", at)
            if end < 0:
                break
            pos, number = end + 1, number + 1
    return found


def _find_line(mm: mmap.mmap, needle: bytes, pos: int) -> int | None:
    """Offset of the first whole line equal to `needle` starting at or after `pos` (which is
    the start of a line)."""
    if mm[pos : pos + len(needle)] == needle and _ends_line(mm, pos + len(needle)):
        return pos
    hit = pos
    while (hit := mm.find(b"\n" + needle, hit)) >= 0:
        hit += 1
        if _ends_line(mm, hit + len(needle)):
            return hit
    return None


def _ends_line(mm: mmap.mmap, end: int) -> bool:
    tail = mm[end : end + 2]
    return tail[:1] in (b"", b"\n") or tail == b"\r\n" or (tail == b"\r" and end + 1 == len(mm))


def _count_newlines(mm: mmap.mmap, begin: int, end: int) -> int:
    count, step = 0, 1 << 26
    for lo in range(begin, end, step):
        count += mm[lo : min(lo + step, end)].count(b"\n")
    return count
