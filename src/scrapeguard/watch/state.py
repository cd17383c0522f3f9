"""Where a follower is in its log, kept in a small JSON file replaced atomically.

A file is known by its device and inode and by a hash of its first bytes: the inode says
which file a rename moved, the hash says whether a file at the same inode still holds the
same content (copytruncate empties it in place) and which rotated copy holds the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from scrapeguard.errors import SourceError

HEAD_BYTES = 1024
"""Bytes of a file's start hashed to recognise it: its first lines, with their times."""


@dataclass
class Position:
    """How far a follower got. Events are numbered from 1 across files and rotations."""

    device: int
    inode: int
    head: str
    """sha256 of the first `head_len` bytes."""
    head_len: int
    offset: int
    """Bytes of this file whose every event the store has counted."""
    chunk_end: int
    """End of the chunk being counted (equal to `offset` between chunks): after a crash the
    same bytes are read again, and the store's mark says how many of their events counted."""
    line: int
    """Lines before `offset`, so problems are reported at the line an editor shows."""
    seq: int
    """Events numbered before `offset`."""
    fmt: str | None = None
    run: str = ""
    """Names this watch's marks in the store: a new state file starts a new run, so marks
    left by an earlier one (its state file deleted) can never make it skip events."""

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def head_of(fd: int, length: int = HEAD_BYTES) -> tuple[str, int]:
    """(hash, length) of a file's first bytes, up to `length`."""
    data = os.pread(fd, length, 0)
    return hashlib.sha256(data).hexdigest(), len(data)


def head_matches(path: Path, head: str, head_len: int) -> bool:
    try:
        with path.open("rb") as handle:
            data = handle.read(head_len)
    except OSError:
        return False
    return len(data) == head_len and hashlib.sha256(data).hexdigest() == head


def load(path: Path) -> Position | None:
    """The saved position, None when there is none; a damaged file is a located error."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:  # UnicodeDecodeError is a ValueError
        return _checked(Position(**json.loads(raw.decode("utf-8"))))
    except (ValueError, TypeError) as exc:
        raise SourceError(f"{path}: not a watch state file ({exc}); move it away to start "
                          f"afresh") from None


def _checked(position: Position) -> Position:
    """The position if every field has its type and the offsets are in order: a damaged
    file whose head still matched used to reach `pread` with a negative or text offset (a
    traceback), or, with a wrong inode, count the log twice."""
    for name in ("device", "inode", "head_len", "offset", "chunk_end", "line", "seq"):
        value = getattr(position, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} is not a whole number of at least 0: {value!r}")
    if not isinstance(position.head, str) or not isinstance(position.run, str):
        raise ValueError("head and run must be text")
    if position.fmt is not None and not isinstance(position.fmt, str):
        raise ValueError("fmt must be text or null")
    if position.chunk_end < position.offset:
        raise ValueError("chunk_end is before offset")
    return position


def save(path: Path, position: Position) -> None:
    """Write to a temporary file beside it, then rename over it: a reader (or a restart
    after a kill) sees the old position or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        json.dump(position.to_json(), out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
