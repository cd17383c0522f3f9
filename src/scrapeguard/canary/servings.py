"""The serving log: which actor was served which canary, and when; picked by URI.

`trace` can only name an actor the log says received the canaries, so every serving is written
before the response leaves, to a store that outlives the process and is shared by every node:
`sqlite:///canaries.db` (the default: the canary db itself, WAL mode, safe across processes on
one host) or `redis://host:port/db` (many hosts; run Redis with AOF or RDB persistence, a flush
erases the evidence). `memory://` is for tests and one-process demos. Each (canary, actor) pair
keeps its first and last serving time and a count.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from scrapeguard.canary.keys import CanaryError

SERVING_LOGS: dict[str, type[ServingLog]] = {}
BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Serving:
    """One actor's record of one canary: first and last time served, how often."""

    first: datetime
    last: datetime
    count: int


def to_ms(ts: datetime) -> int:
    return int(ts.astimezone(UTC).timestamp() * 1000)


def from_ms(ms: float) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class ServingLog(ABC):
    """Durable (canary, actor) → first/last/count; backends register their URI schemes."""

    schemes: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for scheme in cls.__dict__.get("schemes", ()):  # declared here, not inherited: a
            SERVING_LOGS[scheme] = cls                   # test double must not take over

    @abstractmethod
    def record(self, actor: str, canaries: Sequence[int], ts: datetime) -> None:
        """Note that `actor` was served these canaries at `ts`; atomic for the batch."""

    @abstractmethod
    def served(self, canaries: Iterable[int]) -> dict[int, dict[str, Serving]]:
        """For each canary that anyone was served: who, first, last, how often."""

    @abstractmethod
    def served_counts(self, actors: Iterable[str]) -> dict[str, int]:
        """How many distinct canaries each actor was served (its `s` in the statistics)."""

    @abstractmethod
    def actor_count(self) -> int:
        """How many distinct actors were ever served a canary (the Bonferroni family)."""

    @abstractmethod
    def timeline(self, actor: str) -> list[int]:
        """When each canary the actor was served was first served to it (ms, ascending): the
        actor's serving history, which `trace` cuts into time windows."""

    def was_served(self, canary: int, actor: str) -> bool:
        return actor in self.served([canary]).get(canary, {})

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class MemoryServings(ServingLog):
    """In-process only: for tests and simulations; nothing survives the process."""

    schemes = ("memory",)

    def __init__(self, uri: str = "memory://") -> None:
        self._lock = threading.Lock()
        self._by_canary: dict[int, dict[str, Serving]] = defaultdict(dict)
        self._by_actor: dict[str, set[int]] = defaultdict(set)

    def record(self, actor: str, canaries: Sequence[int], ts: datetime) -> None:
        ts = from_ms(to_ms(ts))  # the same millisecond precision as the durable logs
        with self._lock:
            for canary in canaries:
                old = self._by_canary[canary].get(actor)
                self._by_canary[canary][actor] = Serving(ts, ts, 1) if old is None else Serving(
                    min(old.first, ts), max(old.last, ts), old.count + 1)
                self._by_actor[actor].add(canary)

    def served(self, canaries: Iterable[int]) -> dict[int, dict[str, Serving]]:
        with self._lock:
            return {c: dict(self._by_canary[c]) for c in set(canaries) if c in self._by_canary}

    def served_counts(self, actors: Iterable[str]) -> dict[str, int]:
        with self._lock:
            return {a: len(self._by_actor.get(a, ())) for a in actors}

    def actor_count(self) -> int:
        with self._lock:
            return len(self._by_actor)

    def timeline(self, actor: str) -> list[int]:
        with self._lock:
            return sorted(to_ms(self._by_canary[c][actor].first)
                          for c in self._by_actor.get(actor, ()))


SERVINGS_SCHEMA = """
CREATE TABLE IF NOT EXISTS servings (
    canary INTEGER NOT NULL, actor TEXT NOT NULL, first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL, count INTEGER NOT NULL, PRIMARY KEY (canary, actor)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS servings_actor ON servings (actor);
"""


def connect(path: Path) -> sqlite3.Connection:
    """A connection in WAL mode that waits for other writers instead of failing."""
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn


class SqliteServings(ServingLog):
    """`sqlite:///path` (relative) or `sqlite:////abs/path`: one file, WAL, one connection
    per thread, so web workers in threads and processes on one host can all write."""

    schemes = ("sqlite",)

    def __init__(self, uri: str) -> None:
        path = uri.split("://", 1)[1][1:] if "://" in uri else uri
        if not path:
            raise CanaryError(f"serving log {uri!r}: no path (sqlite:///canaries.db)")
        self.path = Path(path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._conn().executescript(SERVINGS_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = connect(self.path)
            except sqlite3.Error as exc:
                raise CanaryError(f"serving log {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def record(self, actor: str, canaries: Sequence[int], ts: datetime) -> None:
        ms = to_ms(ts)
        conn = self._conn()
        with conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO servings VALUES (?, ?, ?, ?, 1) ON CONFLICT (canary, actor) DO "
                "UPDATE SET first_ms = min(first_ms, excluded.first_ms), "
                "last_ms = max(last_ms, excluded.last_ms), count = count + 1",
                [(c, actor, ms, ms) for c in canaries])

    def served(self, canaries: Iterable[int]) -> dict[int, dict[str, Serving]]:
        wanted = sorted(set(canaries))
        out: dict[int, dict[str, Serving]] = defaultdict(dict)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self._conn().execute(
                f"SELECT canary, actor, first_ms, last_ms, count FROM servings WHERE canary IN "
                f"({','.join('?' * len(chunk))})", chunk)
            for canary, actor, first, last, count in rows:
                out[canary][actor] = Serving(from_ms(first), from_ms(last), count)
        return dict(out)

    def served_counts(self, actors: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(actors))
        out = dict.fromkeys(wanted, 0)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self._conn().execute(
                f"SELECT actor, count(*) FROM servings WHERE actor IN "
                f"({','.join('?' * len(chunk))}) GROUP BY actor", chunk)
            out.update(dict(rows))
        return out

    def actor_count(self) -> int:
        row = self._conn().execute("SELECT count(DISTINCT actor) FROM servings").fetchone()
        return int(row[0])

    def timeline(self, actor: str) -> list[int]:
        rows = self._conn().execute("SELECT first_ms FROM servings WHERE actor = ? ORDER BY "
                                    "first_ms", (actor,))
        return [int(ms) for (ms,) in rows]

    def was_served(self, canary: int, actor: str) -> bool:
        row = self._conn().execute("SELECT 1 FROM servings WHERE canary = ? AND actor = ?",
                                   (canary, actor)).fetchone()
        return row is not None

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()


def open_servings(uri: str) -> ServingLog:
    """The serving log for a URI; an unknown scheme or a missing driver is a clear error."""
    scheme = uri.split("://", 1)[0] if "://" in uri else "sqlite"
    if scheme in ("redis", "rediss") and scheme not in SERVING_LOGS:
        try:
            from scrapeguard.canary import servings_redis  # noqa: F401
        except ImportError as exc:
            raise CanaryError(f"serving log {uri!r} needs redis ({exc.name}); install it "
                              "with: pip install 'scrapeguard[live]'") from None
    if scheme not in SERVING_LOGS:
        raise CanaryError(f"unknown serving log {uri!r}; use sqlite:///canaries.db, "
                          "redis://host:6379/0 or memory://")
    return SERVING_LOGS[scheme](uri)  # type: ignore[call-arg]
