"""Line-by-line Python reading, for the few places the SQL fast path needs help.

DuckDB reads the bulk; Python only looks at the first lines (format detection), fetches the
lines DuckDB rejected (invalid UTF-8, too long, a stray delimiter), rewrites a file DuckDB
cannot split into lines at all (mixed line endings), and finds the line numbers of sample
lines. Lines are numbered at `\\n` only, as editors and `grep -n` count them; one trailing
`\\r` is part of the line ending. A bare `\\r` elsewhere is a line break too (DuckDB and old Mac
files treat it so; servers escape it inside fields), but one that Python splits, so that the
pieces keep the number of the line they are on and are reported as recovered.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from scrapeguard.words import plural

MAX_LINE = 512 * 1024
"""Longer lines are malformed without parsing (and stay within DuckDB's 2 MB line limit even
after invalid bytes become three-byte replacement characters)."""
LINE_DELIM = "\U0010ffff"
"""The delimiter for reading whole lines: a noncharacter no log writes."""
BOM = b"\xef\xbb\xbf"
INVALID_UTF8 = "invalid UTF-8 decoded with replacement"
BARE_CR = "bare carriage return read as a line break"
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
    context: bool = False
    """A line that sets how later lines are read (`LogFormat.context_prefix`), passed along
    so that a repaired line is parsed after it; not itself a line to parse again."""


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


def repair(number: int, raw: bytes, length: int) -> Iterator[Item]:
    """Turn raw bytes into text DuckDB can read as lines, noting what had to change; a line
    with bare carriage returns becomes one item per non-empty piece."""
    if length > MAX_LINE:
        yield Item(number, raw[:200].decode("utf-8", "replace"), too_long=length)
        return
    reasons = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "replace")
        reasons.append(INVALID_UTF8)
    if LINE_DELIM in text:
        text = text.replace(LINE_DELIM, "\ufffd")
        reasons.append(STRAY_DELIM)
    pieces = [text]
    if "\r" in text:
        pieces = [p for p in text.split("\r") if p]
        reasons.append(BARE_CR)
    why = "; ".join(reasons) or None
    for piece in pieces:
        yield Item(number, piece, why)


def fetch(path: Path, numbers: Iterable[int], context: bytes | None = None) -> Iterator[Item]:
    """The given lines of a file (numbers ascending), repaired, in order, one at a time; with
    `context`, also the other lines that start with it, as context items."""
    wanted = iter(numbers)
    target = next(wanted, None)
    if target is None:
        return
    for number, raw, length in iter_lines(path):
        if number == target:
            yield from repair(number, raw, length)
            target = next(wanted, None)
            if target is None:
                return
        elif context is not None and raw.startswith(context):
            yield _context(number, raw)


def _context(number: int, raw: bytes) -> Item:
    return Item(number, raw.decode("utf-8", "replace"), context=True)


_DELIM_BYTES = LINE_DELIM.encode("utf-8")


@dataclass(frozen=True)
class Survey:
    """What in a file DuckDB would read differently from Python (see `survey`)."""

    bare_crs: int = 0
    delims: int = 0
    too_long: int = 0

    def problems(self) -> str:
        """What was found, for a note; '' when DuckDB can read the file as it is."""
        found = [plural(self.bare_crs, "bare carriage return"),
                 plural(self.delims, "U+10FFFF", "U+10FFFF"),
                 f"{plural(self.too_long, 'line')} over {MAX_LINE:,} bytes"]
        counts = (self.bare_crs, self.delims, self.too_long)
        return " and ".join(what for n, what in zip(counts, found, strict=True) if n)


def survey(path: Path) -> Survey:
    """Count, at C speed, what makes DuckDB read a file differently from Python.

    DuckDB reads a bare CR as a line break, numbering lines differently (samples then lost
    their location, and rejected lines were fetched by the wrong number); U+10FFFF is the
    whole-line reader's delimiter; and a line of tens of megabytes vanishes without a
    reject. A file with any of these is rewritten by `normalize` first."""
    size = path.stat().st_size
    if size == 0:
        return Survey()
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        # find() searches the mapping in place at memchr speed; most files stop there
        crs = _count(mm, size, b"\r") - _count(mm, size, b"\r\n") if mm.find(b"\r") >= 0 else 0
        rare = mm.find(_DELIM_BYTES[:1]) >= 0  # a one-byte search is the fast one
        delims = _count(mm, size, _DELIM_BYTES) if rare and mm.find(_DELIM_BYTES) >= 0 else 0
        return Survey(crs, delims, _long_lines(mm, size))


def _count(mm: mmap.mmap, size: int, needle: bytes) -> int:
    """Occurrences of `needle`, in chunks that overlap by less than its length."""
    count, step, lap = 0, 1 << 24, len(needle) - 1
    for lo in range(0, size, step):
        count += mm[max(lo - lap, 0) : lo + step].count(needle)
    return count


def _long_lines(mm: mmap.mmap, size: int) -> int:
    """Lines longer than MAX_LINE. Any such line holds a whole window of MAX_LINE / 2 bytes
    without a newline, so only those windows are looked at closely."""
    window = MAX_LINE // 2
    count, at = 0, 0
    while at < size:
        if mm.find(b"\n", at, at + window) >= 0:
            at += window
            continue
        start = mm.rfind(b"\n", 0, at) + 1
        end = mm.find(b"\n", at)
        end = size if end < 0 else end
        count += end - start > MAX_LINE
        at = end + 1
    return count


def normalize(src: Path, dst: Path, context: bytes | None = None) -> Iterator[Item]:
    """Rewrite `src` so that DuckDB can split it into lines, keeping line numbers.

    Lines with a carriage return or U+10FFFF inside, or too long, are left blank in `dst`
    (which DuckDB skips) and yielded to be parsed separately; with `context`, the lines that
    start with it are kept and also yielded, as context items.
    """
    with dst.open("wb", buffering=1 << 20) as out:
        for number, raw, length in iter_lines(src):
            if b"\r" in raw or _DELIM_BYTES in raw or length > MAX_LINE:
                yield from repair(number, raw, length)
                out.write(b"\n")
            else:
                if context is not None and raw.startswith(context):
                    yield _context(number, raw)
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
