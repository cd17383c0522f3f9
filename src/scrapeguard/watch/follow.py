"""Read complete lines from a log that is being written, renamed and truncated.

Rotation, the two ways logrotate does it:

- rename (`create`): the path names a new file; the old one, still open here, is read to its
  end (until it has been quiet for `grace` seconds, as a server reopens its log only after a
  signal) and then the new file from its start;
- copytruncate: the file is copied, then emptied in place; the copy (a sibling such as
  `access.log.1`, found by the hash of its first bytes) is read from where this file was,
  then the emptied file from its start.

The same search finds the file after a restart, when it was rotated while nothing watched.
"""

from __future__ import annotations

import logging
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from scrapeguard.errors import SourceError
from scrapeguard.watch.state import HEAD_BYTES, Position, head_matches, head_of

log = logging.getLogger("scrapeguard.watch")

CHUNK_BYTES = 1 << 20
"""At most this much is parsed at once: memory stays bounded however far behind a log is."""


@dataclass(frozen=True)
class Chunk:
    """Complete lines of one file, `data` = the bytes between `start` and `end`."""

    data: bytes
    start: int
    end: int


class Follower:
    """One log path, followed across rotations; `position` says where in which file."""

    def __init__(self, path: Path, position: Position | None, *, from_end: bool = False,
                 grace: float = 1.0, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.path = path
        self.grace = grace
        self.chunk_bytes = chunk_bytes
        self.lost = 0
        """Bytes a copytruncate emptied before they were read, with no copy found to read."""
        self._fd: int | None = None
        self._draining = False
        """The open file is no longer at `path`: read it to its end, then switch."""
        self._quiet_since = 0.0
        if position is None:
            self._open_path(seq=0, fmt=None, at_end=from_end)
        else:
            self._resume(position)

    # -- opening ----------------------------------------------------------------------------
    def _open_path(self, *, seq: int, fmt: str | None, at_end: bool = False) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                raise SourceError(f"{self.path}: not a regular file; watch follows a log "
                                  f"file (a pipe or stdin: use analyze -)")
        except FileNotFoundError:  # between a rename and the new file: wait for it
            self._fd = None
            self.position = Position(0, 0, "", 0, 0, 0, 0, seq, fmt)
            return False
        except OSError as exc:
            raise SourceError(f"{self.path}: cannot read: {exc.strerror}") from None
        self._adopt(fd, Position(0, 0, "", 0, 0, 0, 0, seq, fmt), draining=False)
        size = os.fstat(fd).st_size
        self.position.head, self.position.head_len = head_of(fd, min(size, HEAD_BYTES))
        if at_end:
            self.position.offset = self.position.chunk_end = size
        return True

    def _adopt(self, fd: int, position: Position, *, draining: bool) -> None:
        if self._fd is not None:
            os.close(self._fd)
        st = os.fstat(fd)
        position.device, position.inode = st.st_dev, st.st_ino
        self._fd, self.position, self._draining = fd, position, draining
        self._quiet_since = time.monotonic()

    def _resume(self, saved: Position) -> None:
        """Find the saved file again: at the path, or rotated to a sibling (by inode and
        head, or, for a copy, by head and size)."""
        for candidate in [self.path, *self._siblings()]:
            try:
                st = candidate.stat()
            except OSError:
                continue
            same_inode = (st.st_dev, st.st_ino) == (saved.device, saved.inode)
            if not head_matches(candidate, saved.head, saved.head_len):
                continue
            if not same_inode and st.st_size < saved.chunk_end:
                continue
            fd = os.open(candidate, os.O_RDONLY)
            at_path = candidate == self.path and same_inode
            self._adopt(fd, saved, draining=not at_path)
            if not at_path:
                log.info("%s: resuming in %s, where it was rotated to", self.path, candidate)
            return
        if saved.offset:
            log.warning("%s: the file this watch was reading is gone (rotated away and "
                        "removed or compressed); starting at the start of the current file",
                        self.path)
        self._open_path(seq=saved.seq, fmt=saved.fmt)

    def _siblings(self) -> list[Path]:
        """Rotated copies beside the log (`access.log.1`, `access.log-20261207`), not
        compressed ones."""
        name = self.path.name
        try:
            found = [p for p in self.path.parent.iterdir()
                     if p.name != name and p.name.startswith((name + ".", name + "-"))
                     and not p.name.endswith((".gz", ".bz2", ".xz", ".zst"))]
        except OSError:
            return []
        return sorted(found)

    @property
    def draining(self) -> bool:
        """Reading a rotated file to its end before the new one."""
        return self._draining

    # -- reading ----------------------------------------------------------------------------
    def next_chunk(self) -> Chunk | None:
        """The next complete lines, or None when there is nothing new yet."""
        while True:
            if self._fd is None and not self._open_path(seq=self.position.seq,
                                                        fmt=self.position.fmt):
                return None
            assert self._fd is not None
            if not self._draining:
                self._check_rotation()
            chunk = self._read()
            if chunk is not None:
                return chunk
            if not self._draining:
                return None
            if time.monotonic() - self._quiet_since < self.grace:
                return None
            tail = self._read(final=True)
            if tail is not None:
                return tail
            log.info("%s: rotated file read to its end; following the new one", self.path)
            os.close(self._fd)
            self._fd = None
            if not self._open_path(seq=self.position.seq, fmt=self.position.fmt):
                return None
            self.on_switch()

    def on_switch(self) -> None:
        """Called when the follower moved to a new file (the caller saves its position)."""

    def _read(self, final: bool = False) -> Chunk | None:
        assert self._fd is not None
        pos = self.position
        start = pos.offset
        want = pos.chunk_end - start if pos.chunk_end > start else self.chunk_bytes
        data = os.pread(self._fd, want, start)
        if not data:
            return None
        self._quiet_since = time.monotonic()
        if pos.chunk_end > start:  # a chunk cut before a crash: exactly the same bytes again
            return Chunk(data, start, start + len(data))
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            if len(data) < want and not final:
                return None  # a line still being written
            cut = len(data)  # a line longer than a chunk, or the last of a rotated file
        return Chunk(data[:cut], start, start + cut)

    def _check_rotation(self) -> None:
        assert self._fd is not None
        pos = self.position
        if self._replaced():
            self._after_truncate()
            return
        try:
            st = self.path.stat()
        except FileNotFoundError:
            st = None  # renamed, the new file not created yet
        if st is None or (st.st_dev, st.st_ino) != (pos.device, pos.inode):
            log.info("%s: rotated by rename; reading the old file to its end", self.path)
            self._draining = True

    def _replaced(self) -> bool:
        """Emptied (or rewritten) in place since it was read: copytruncate."""
        assert self._fd is not None
        pos = self.position
        if os.fstat(self._fd).st_size < pos.offset:
            return True
        return bool(pos.head_len) and head_of(self._fd, pos.head_len) != (pos.head, pos.head_len)

    def _after_truncate(self) -> None:
        pos = self.position
        for sibling in self._siblings():
            if head_matches(sibling, pos.head, pos.head_len) and \
                    sibling.stat().st_size >= pos.offset:
                log.info("%s: emptied by copytruncate; reading the rest from its copy %s",
                         self.path, sibling)
                self._adopt(os.open(sibling, os.O_RDONLY), pos, draining=True)
                self._quiet_since = 0.0  # a copy is complete: no need to wait for writers
                return
        log.warning("%s: emptied by copytruncate and no copy holds what was written after "
                    "byte %d; following it from its start", self.path, pos.offset)
        assert self._fd is not None
        fd = os.dup(self._fd)
        self._adopt(fd, Position(0, 0, "", 0, 0, 0, 0, pos.seq, pos.fmt), draining=False)
        self.position.head, self.position.head_len = head_of(fd, 0)
        self.on_switch()

    def line_before(self, prefixes: tuple[bytes, ...], block: int = 1 << 20) -> bytes | None:
        """The last line before the current offset that starts with one of `prefixes` (W3C's
        `#Fields:`, which says how the lines after it read), searched backwards; None if there
        is none. Only a file that has such a line near its start is searched (a W3C log writes
        its header first), so resuming any other log never reads it back."""
        if self._fd is None or not prefixes or not self.position.offset:
            return None
        head = os.pread(self._fd, min(block, self.position.offset), 0)
        if not any(head.startswith(p) or b"\n" + p in head for p in prefixes):
            return None
        end, lap = self.position.offset, max(len(p) for p in prefixes) + 1
        while True:
            start = max(0, end - block)
            data = os.pread(self._fd, end - start, start)
            at = max(data.rfind(b"\n" + p) for p in prefixes)
            if at >= 0:
                return self._line_at(start + at + 1)
            if start == 0:
                return self._line_at(0) if any(data.startswith(p) for p in prefixes) else None
            end = start + lap  # overlap: a match across the block boundary is seen next

    def _line_at(self, offset: int) -> bytes:
        assert self._fd is not None
        return os.pread(self._fd, 1 << 16, offset).split(b"\n", 1)[0].rstrip(b"\r")

    def committed(self, chunk: Chunk, lines: int, events: int) -> None:
        """Every event of `chunk` is in the store: move past it."""
        pos = self.position
        pos.offset = pos.chunk_end = chunk.end
        pos.line += lines
        pos.seq += events
        if pos.head_len < HEAD_BYTES and self._fd is not None:
            pos.head, pos.head_len = head_of(self._fd, min(pos.offset, HEAD_BYTES))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
