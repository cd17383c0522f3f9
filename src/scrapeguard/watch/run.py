"""The follow loop: chunks of a log, parsed, counted by the stream engine exactly once.

Exactly once across kills: before a chunk is counted its end is saved in the state file; each
event is counted with a mark (its number) set atomically in the store with its counters
(`StreamEngine.record(mark=...)`); after the chunk the state moves past it. A restart reads
the saved chunk again (the same bytes parse to the same events in the same order) and skips
the events up to the store's mark: none counted twice, none missed.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapeguard.decisions import Decision
from scrapeguard.engines.stream import STORE_BACKOFF_SECONDS, StreamEngine
from scrapeguard.errors import StoreError
from scrapeguard.sources import REGISTRY, Sample
from scrapeguard.watch import state
from scrapeguard.watch.chunks import ChunkParser
from scrapeguard.watch.follow import Follower

log = logging.getLogger("scrapeguard.watch")


@dataclass
class WatchStats:
    lines: int = 0
    events: int = 0
    malformed: int = 0
    decisions: int = 0
    skipped: int = 0
    """Events of a re-read chunk the store had already counted (after a kill)."""


def mark_key(path: Path, run: str) -> str:
    """Where the store keeps this watcher's mark: one per host, log path and run."""
    text = f"{socket.gethostname()}:{path.resolve()}:{run}"
    return "watch:" + hashlib.sha256(text.encode()).hexdigest()[:32]


class Watcher:
    """Follow one log into one engine; `run` returns when `stop` is set (or, with
    `once`, when the log has been read to its end)."""

    def __init__(self, path: Path, engine: StreamEngine, state_path: Path, *,
                 fmt: Any = None, from_end: bool = False, grace: float = 1.0,
                 poll: float = 0.25,
                 on_decision: Callable[[Decision], None] | None = None,
                 on_problem: Callable[[Sample], None] | None = None,
                 trusted_proxies: tuple[str, ...] = ()) -> None:
        self.path = path
        self.engine = engine
        self.state_path = state_path
        self.poll = poll
        self.on_decision = on_decision
        self.on_problem = on_problem
        self.stats = WatchStats()
        saved = state.load(state_path)
        self.run_id = saved.run if saved and saved.run else secrets.token_hex(8)
        self.key = mark_key(path, self.run_id)
        self._check_store(saved)  # before anything is opened that `close` would release
        self.follower = Follower(path, saved, from_end=from_end, grace=grace)
        self.follower.on_switch = self._switched  # type: ignore[method-assign]
        remembered = saved.fmt if saved and saved.fmt in REGISTRY else None
        name = fmt if fmt is not None else remembered
        self.parser = ChunkParser(str(path), name, trusted_proxies)
        self.parser.context = self.follower.line_before(self.parser.prefixes())

    def _check_store(self, saved: state.Position | None) -> None:
        """A store that does not answer at the start is a StoreError (a wrong --store, a
        Redis not started): later, an outage is waited out (`_record`, `_counted`)."""
        mark = self.engine.store.get_mark(self.key)
        if saved is None or not saved.seq:
            return
        if mark is None:
            log.warning("the store does not hold this watch's earlier counts (memory:// "
                        "lives only as long as its process; a Redis may have been emptied): "
                        "resuming at the saved offset, counting afresh from there")

    def _switched(self) -> None:
        """A new file, read from its start: its own header comes first."""
        self.parser.context = None
        self._save()

    def _save(self) -> None:
        self.follower.position.run = self.run_id
        state.save(self.state_path, self.follower.position)

    def run(self, stop: threading.Event, *, once: bool = False,
            status: Callable[[WatchStats], None] | None = None) -> WatchStats:
        shown = 0.0
        while not stop.is_set():
            chunk = self.follower.next_chunk()
            if chunk is None:
                if once and not self.follower.draining:
                    break
                stop.wait(self.poll)
                continue
            pos = self.follower.position
            if pos.chunk_end != chunk.end:
                pos.chunk_end = chunk.end
                self._save()
            parsed = self.parser.parse(chunk.data, pos.line)
            if self.parser.fmt is not None and pos.fmt is None:
                pos.fmt = parsed.fmt
            for sample in parsed.samples:
                if self.on_problem:
                    self.on_problem(sample)
            done = self._counted(pos.seq, len(parsed.events), stop)
            if done is None:
                return self.stats  # stopped while the store was down
            self.stats.skipped += done
            for number, event in enumerate(parsed.events[done:], start=pos.seq + done + 1):
                if stop.is_set() or not self._record(event, number, stop):
                    return self.stats  # the state keeps the chunk; the mark, the progress
                self.stats.events += 1
                if status and time.monotonic() - shown > 0.5:
                    shown = time.monotonic()
                    status(self.stats)
            self.stats.lines += parsed.lines
            self.stats.malformed += parsed.malformed
            self.follower.committed(chunk, parsed.lines, len(parsed.events))
            self._save()
            if status:
                status(self.stats)
        return self.stats

    def _counted(self, seq: int, events: int, stop: threading.Event) -> int | None:
        """How many of a chunk's events the store already counted (after a kill), waiting
        out a store that is down; None when stopped first."""
        while True:
            try:
                mark = self.engine.store.get_mark(self.key)
            except StoreError:
                if stop.wait(STORE_BACKOFF_SECONDS):
                    return None
                continue
            return 0 if mark is None else max(0, min(events, mark - seq))

    def _record(self, event: dict[str, Any], number: int, stop: threading.Event) -> bool:
        """Count one event, waiting out a store that is down; False when stopped first."""
        while True:
            errors = self.engine.store_errors
            fired = self.engine.record(event, mark=(self.key, number))
            if self.engine.store_errors == errors:
                break
            if stop.wait(STORE_BACKOFF_SECONDS):
                return False
            try:
                if (self.engine.store.get_mark(self.key) or 0) >= number:
                    break  # counted; only a follow-up write failed
            except Exception:  # still down: wait again
                continue
        for decision in fired:
            self.stats.decisions += 1
            if self.on_decision:
                self.on_decision(decision)
        return True

    def close(self) -> None:
        self.follower.close()
        self.parser.close()
