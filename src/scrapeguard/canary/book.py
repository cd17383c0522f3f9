"""`CanaryBook`: an open canary db — the canaries, the key, and the serving log beside them.

The book answers the questions the injector and `trace` ask: which window of its ordering an
actor draws from now (`window`, from how many canaries it was served), whether a canary
profile may resolve for the actor asking (`resolve`: only for actors it was served to, so
enumerating canary ids finds nothing), and who could have received a canary (`actors_for`).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from scrapeguard.canary.assign import Assigner
from scrapeguard.canary.keys import KEY_ENV, CanaryError, key_check, key_from_env
from scrapeguard.canary.model import Canary
from scrapeguard.canary.servings import Serving, ServingLog, connect, open_servings
from scrapeguard.textsafe import inert

log = logging.getLogger("scrapeguard.canary")

_COLUMNS = "idx, id, name, phone, phone_cc, phone_nsn, comment"


class CanaryBook:
    """An open canary db. `servings` picks the serving log (default: this db); `key`
    overrides the stored key and `SCRAPEGUARD_CANARY_KEY`."""

    def __init__(self, path: str | Path, *, servings: str | ServingLog | None = None,
                 key: bytes | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise CanaryError(f"{self.path}: no such canary db (make one with "
                              "`scrapeguard canary mint`)")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            rows = self._conn().execute("SELECT key, value FROM meta").fetchall()
        except sqlite3.Error as exc:
            raise CanaryError(f"{self.path}: not a canary db ({exc})") from exc
        self.meta: dict[str, Any] = {k: json.loads(v) for k, v in rows}
        self.key = self._key(key)
        self.size = int(self.meta["count"])
        self.locale = str(self.meta["locale"])
        self.per_actor = int(self.meta["per_actor"])
        self.assigner = Assigner(self.key, self.size, self.per_actor)
        self._exhausted: set[str] = set()
        if isinstance(servings, ServingLog):
            self.servings = servings
        else:
            self.servings = open_servings(servings or f"sqlite:///{self.path}")
        self.canary = lru_cache(maxsize=65536)(self._canary)

    def _key(self, given: bytes | None) -> bytes:
        stored = self.meta.get("key")
        key = given or key_from_env() or (bytes.fromhex(stored) if stored else None)
        if key is None:
            raise CanaryError(f"{self.path} does not store its key: set {KEY_ENV}")
        if key_check(key) != self.meta["key_check"]:
            raise CanaryError(f"the key for {self.path} is not the one it was minted with "
                              f"(check {KEY_ENV})")
        if stored and os.stat(self.path).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            log.warning("%s holds the canary key and is readable by others: chmod 600 it",
                        self.path)
        return key

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    # -- the canaries ----------------------------------------------------------------------
    def _canary(self, index: int) -> Canary:
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM canaries WHERE idx = ?",
                                   (index,)).fetchone()
        if row is None:
            raise IndexError(index)
        return Canary(*row)

    def by_id(self, canary_id: str) -> Canary | None:
        """The canary with this id, or None (most ids a profile route sees are real people)."""
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM canaries WHERE id = ?",
                                   (canary_id,)).fetchone()
        return Canary(*row) if row else None

    def __iter__(self) -> Iterator[Canary]:
        """Every canary in index order, read in one pass (for building a trace index)."""
        for row in self._conn().execute(f"SELECT {_COLUMNS} FROM canaries ORDER BY idx"):
            yield Canary(*row)

    def __len__(self) -> int:
        return self.size

    # -- assignment ------------------------------------------------------------------------
    def for_actor(self, actor: str, n: int | None = None) -> list[Canary]:
        """The first n (default: one window, `per_actor`) canaries of the actor's ordering."""
        return [self.canary(i) for i in self.assigner.sequence(actor, n or self.per_actor)]

    def window(self, actor: str) -> int:
        """The window of its ordering the actor draws from now, from how many distinct
        canaries the serving log says it received; warns once per actor (per process) when
        it has used the whole book, whose set then stops growing."""
        served = self.servings.served_counts([actor]).get(actor, 0)
        if self.assigner.exhausted(served) and actor not in self._exhausted:
            if len(self._exhausted) < 100_000:
                self._exhausted.add(actor)
            log.warning("an actor (%s) has drawn canaries from its whole ordering of %d; its set "
                        "stops growing, so a leak of its records gets harder to attribute: "
                        "mint a larger book (scrapeguard canary mint --exposure)",
                        inert(actor), self.size)
        return self.assigner.window_for(served)

    def assigned(self, actor: str, canary: Canary | int) -> bool:
        """Whether the canary is within the part of its ordering the actor has reached."""
        index = canary if isinstance(canary, int) else canary.index
        served = self.servings.served_counts([actor]).get(actor, 0)
        return self.assigner.position(actor, index) < self.assigner.reach(served)

    def actors_for(self, canary: Canary | int) -> dict[str, Serving]:
        """Actors recorded as served the canary whose assignment re-derives to it.

        A serving the key does not explain (say, a log entry written by something else) is
        left out: only the key decides who can have been given which canary.
        """
        index = canary if isinstance(canary, int) else canary.index
        served = self.servings.served([index]).get(index, {})
        return {actor: s for actor, s in served.items() if self.assigned(actor, index)}

    # -- serving ---------------------------------------------------------------------------
    def record(self, actor: str, canaries: Sequence[Canary], ts: datetime | None = None,
               groups: Sequence[str] = ()) -> None:
        """Write the serving before the response leaves: unrecorded canaries prove nothing.

        `groups` are keys the actor belongs to (its fingerprint, its campaign), recorded as
        actors of their own: a crawler spread over many addresses is then one actor to `trace`.
        """
        if canaries:
            indices = [c.index for c in canaries]
            for key in (actor, *groups):
                self.servings.record(key, indices, ts or datetime.now(UTC))

    def resolve(self, canary_id: str, actor: str) -> Canary | None:
        """The canary behind a profile id, only for an actor it was served to; else None."""
        canary = self.by_id(canary_id)
        if canary is None or not self.servings.was_served(canary.index, actor):
            return None
        return canary

    def close(self) -> None:
        self.servings.close()
        with self._lock:
            for conn in self._conns:
                conn.close()
            self._conns.clear()
        self._local = threading.local()

    def __enter__(self) -> CanaryBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
