"""From what the user typed (paths, globs, `-`) to plain files DuckDB can read fast.

Gzip is decompressed here, in Python, rather than by DuckDB: DuckDB's reader does not check
the gzip checksum, so a file damaged in the middle comes back as silently altered or missing
lines. zlib checks it; on damage we keep every byte decoded before the break and say so.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import sys
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from scrapeguard.errors import SourceError

STDIN = "-"
_GZIP = b"\x1f\x8b"
_OTHER = {rb"BZh[1-9]1AY&SY": "bzip2", rb"\xfd7zXZ\x00": "xz", rb"\x28\xb5\x2f\xfd": "zstd"}
"""Other compressions by their magic bytes (none of which can start a line of UTF-8 text)."""
_CHUNK = 1 << 16

Tick = Callable[[int], None]
"""Called with how many bytes of the input have been consumed so far."""


@dataclass
class Prepared:
    """An input ready for DuckDB: `path` is plain text; `name` is what to call it."""

    name: str
    path: Path
    size: int
    gzip: bool = False
    notes: list[str] = field(default_factory=list)


def expand(inputs: Sequence[str]) -> list[str]:
    """Paths in order; globs expanded and sorted; a clear SourceError for what is missing."""
    out: list[str] = []
    for item in inputs:
        if item == STDIN:
            if STDIN in out:
                raise SourceError("standard input ('-') can be read only once")
            out.append(item)
        elif os.path.exists(item):
            if os.path.isdir(item):
                pattern = os.path.join(item, "*.log")  # `logs/` (as a shell completes it) too
                raise SourceError(f"{item} is a directory; name the files, e.g. '{pattern}'")
            out.append(item)
        elif glob.has_magic(item):
            matches = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not matches:
                raise SourceError(f"no files match {item!r}")
            out.extend(matches)
        else:
            raise SourceError(f"no such file: {item}")
    if not out:
        raise SourceError("no input files given")
    return out


def is_gzip(path: Path) -> bool:
    """Gzip by its bytes, whatever the file's name says."""
    with path.open("rb") as f:
        return f.read(len(_GZIP)) == _GZIP


def prepare(name: str, tmp: Path, tick: Tick) -> Prepared:
    """Spool stdin, decompress gzip, refuse other compressions with a way forward."""
    if name == STDIN:
        spool = tmp / "stdin"
        with spool.open("wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, 1 << 20)
        prepared = _plain_or_gzip("<stdin>", spool, tmp, tick)
        return prepared
    return _plain_or_gzip(name, Path(name), tmp, tick)


def _plain_or_gzip(name: str, path: Path, tmp: Path, tick: Tick) -> Prepared:
    size = path.stat().st_size
    with path.open("rb") as f:
        magic = f.read(10)
    for pattern, kind in _OTHER.items():
        if re.match(pattern, magic):
            raise SourceError(
                f"{name} is {kind}-compressed; only gzip is read directly. "
                f"Decompress it first, e.g. `{kind} -dc {name} | scrapeguard analyze -`"
            )
    if not magic.startswith(_GZIP):
        return Prepared(name, path, size)
    out = tmp / f"gunzip-{len(list(tmp.iterdir()))}"
    notes = gunzip(name, path, out, tick)
    return Prepared(name, out, size, gzip=True, notes=notes)


def gunzip(name: str, src: Path, dst: Path, tick: Tick) -> list[str]:
    """Decompress every gzip member of `src` into `dst`; notes describe any damage."""
    with src.open("rb") as f, dst.open("wb", buffering=1 << 20) as out:
        state = _Gunzip(out)
        offset = 0
        while chunk := f.read(_CHUNK):
            if not state.feed(chunk, offset):
                break
            offset += len(chunk)
            tick(offset)
        problem = state.problem or (None if state.finished() else "the stream ends early")
        if problem is None:
            return []
        where = state.error_at if state.problem else offset
        lines = state.lines + (1 if state.partial else 0)
        cut = " (the last one cut short)" if state.partial else ""
        return [f"broken gzip at byte {where} of {name} after {lines} lines: "
                f"kept {lines} lines{cut}; {problem}"]


class _Gunzip:
    """Incremental multi-member gunzip that finds the byte where damage starts."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.d = zlib.decompressobj(31)
        self.lines = 0
        self.partial = False
        self.problem: str | None = None
        self.error_at = 0
        self.started = False

    def finished(self) -> bool:
        return self.d.eof or not self.started

    def _emit(self, data: bytes) -> None:
        if data:
            self.out.write(data)
            self.lines += data.count(b"\n")
            self.partial = not data.endswith(b"\n")

    def feed(self, chunk: bytes, offset: int) -> bool:
        """Decompress a chunk; False once the data is damaged (what came before is kept)."""
        saved = self.d.copy()
        try:
            data = self._decompress(chunk)
        except zlib.error:
            self.d = saved
            return self._salvage(chunk, offset)
        self._emit(data)
        return True

    def _decompress(self, chunk: bytes) -> bytes:
        """Decompress, starting a new member whenever one ends."""
        parts = []
        while chunk:
            self.started = True
            parts.append(self.d.decompress(chunk))
            if not self.d.eof:
                break
            chunk = self.d.unused_data
            if not chunk.strip(b"\x00"):
                break  # zero padding after the last member
            if not chunk.startswith(_GZIP[: len(chunk)]):
                raise zlib.error("data after the end of the gzip stream")
            self.d = zlib.decompressobj(31)
        return b"".join(parts)

    def _salvage(self, chunk: bytes, offset: int) -> bool:
        """Feed the damaged chunk byte by byte to keep everything before the damage."""
        for i in range(len(chunk)):
            try:
                self._emit(self._decompress(chunk[i : i + 1]))
            except zlib.error as exc:
                problem = str(exc).removeprefix("Error -3 while decompressing data: ")
                if "incorrect data check" in problem:
                    problem = "checksum mismatch: some kept lines may be damaged"
                self.problem = problem
                self.error_at = offset + i
                return False
        return True
