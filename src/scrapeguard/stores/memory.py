"""`memory://`: exact state in one process — the default, and the reference for `redis://`.

Bounded two ways. Everything has a time to live (counters by event time, decisions by the
clock), and expired state is dropped as time passes rather than in one long sweep: each
table holds entries of one lifetime in the order they were last written, so the expired
ones are always at its front. And the whole store holds at most `max_entries` entries
(`memory://?max_entries=N`): past it the oldest are evicted, counted in `evicted`, with one
warning — a process that needs more live state than that wants `redis://`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlparse

from scrapeguard.stores.base import EventResult, EventUpdate, GroupUpdate, Store

log = logging.getLogger("scrapeguard.stream")

MAX_ENTRIES = 1_700_000
"""About 0.85 GB at the ~500 bytes an entry takes (`bench/live_state.py`: a client address
that sent a page, an asset and a lookup holds about 11 entries, 5.9 KB, since the per-address
windows of 2026-12-07's rules), so that a process stays under 1 GB."""
_PURGE_EVERY = 1000
_SMALL = 8
"""Up to this many distinct values a counter keeps them in a tuple, beyond it in a set."""

V = TypeVar("V")


Seen = bytes | set[int]
"""Distinct values (keyed hashes as 8-byte ints): packed bytes while few, a set beyond."""


class _Group:
    """One group's counters: the non-zero ones as a flat (name, value, ...) tuple, a third
    of a dict's size; most groups are one or two requests of one client."""

    __slots__ = ("expires", "gap", "last_ts", "seen", "values")

    def __init__(self, expires: int) -> None:
        self.expires = expires
        self.values: tuple[Any, ...] = ()
        self.seen: Seen = b""
        self.gap: tuple[int, float, float] | None = None
        self.last_ts: int | None = None


class _Exposure:
    __slots__ = ("expires", "requests", "seen", "total")

    def __init__(self, expires: int) -> None:
        self.expires = expires
        self.seen: Seen = b""
        self.total = 0
        self.requests = 0


def _add(seen: Seen, value: int) -> Seen | None:
    """`seen` with `value` added, or None when it was there already."""
    if isinstance(seen, set):
        if value in seen:
            return None
        seen.add(value)
        return seen
    packed = value.to_bytes(8, "big")
    members = [seen[i:i + 8] for i in range(0, len(seen), 8)]
    if packed in members:
        return None
    if len(members) < _SMALL:
        return seen + packed
    return {int.from_bytes(m, "big") for m in members} | {value}


def _int(hashed: str, salt: str = "") -> int:
    """A keyed hash (hex) as the int it is: a third of the memory of its text."""
    value = int(hashed, 16)
    return value ^ (hash(salt) & _MASK) if salt else value


_MASK = (1 << 64) - 1


class _Table(dict[Any, V]):
    """Entries of one lifetime, oldest write first (a rewrite moves an entry to the end)."""

    def put(self, key: Any, value: V) -> None:
        self.pop(key, None)
        self[key] = value

    def drop_front(self, expired: Callable[[V], bool], limit: int | None = None) -> int:
        victims = []
        for key, value in self.items():
            if limit is None and not expired(value):
                break
            victims.append(key)
            if limit is not None and len(victims) >= limit:
                break
        for key in victims:
            del self[key]
        return len(victims)


class MemoryStore(Store):
    """Python dictionaries behind a lock; distinct counts are exact sets of keyed hashes."""

    schemes = ("memory",)

    def __init__(self, uri: str = "memory://", *, clock: Callable[[], float] = time.time,
                 max_entries: int | None = None) -> None:
        self.uri = uri
        query = parse_qs(urlparse(uri).query)
        self.max_entries = max_entries or int(query.get("max_entries", [MAX_ENTRIES])[0])
        self.clock = clock
        self.evicted = 0
        """Entries dropped before their time because the store was full."""
        self._warned = False
        self._lock = threading.Lock()
        self._groups: dict[int, _Table[_Group]] = {}
        self._last_id: _Table[tuple[int, int]] = _Table()
        self._members: _Table[tuple[tuple[int, int, int], int]] = _Table()
        self._taints: _Table[int] = _Table()
        self._thin: _Table[tuple[int, int]] = _Table()
        self._exposure: dict[int, _Table[_Exposure]] = {}
        self._decisions: _Table[tuple[dict[str, Any], float]] = _Table()
        self._standing: set[int] = set()
        """Hashes of the keys decisions stand under: an actor's exposure is kept while its
        decision stands, whose totals it is (`exposure`). Counters expire by event time and
        decisions by the clock, so replaying a log of many months, a decision made in its
        first weeks would otherwise outlive the counts it reports."""
        self._marks: dict[str, int] = {}
        self._ops = 0

    # -- counting -------------------------------------------------------------------------
    def record(self, update: EventUpdate) -> EventResult:
        with self._lock:
            self._ops += 1
            now = update.ts_ms
            if self._ops % _PURGE_EVERY == 0:
                self._purge(now)
            is_step = self._step(update, now)
            member = self._member(update, is_step, now)
            thin = self._thin_member(update, now)
            links = {"enum": member, "thin": thin}
            values = {}
            for group in update.groups:
                if group.campaign and not links[group.campaign]:
                    continue
                values[group.key] = self._apply(group, is_step, now)
            before, requests = self._expose(update, links, now)
            if update.mark is not None:
                self._marks[update.mark[0]] = update.mark[1]
            return EventResult(is_step, member, thin, values, before, requests)

    def _step(self, update: EventUpdate, now: int) -> int:
        if update.seq_key is None or update.seq_id is None:
            return 0
        key = hash(update.seq_key)
        previous = self._last_id.get(key)
        self._last_id.put(key, (_int(update.seq_id), now + update.seq_ttl * 1000))
        if previous is None or previous[1] < now:
            return 0
        return int(any(previous[0] == _int(near) for near in update.seq_near))

    def _member(self, update: EventUpdate, is_step: int, now: int) -> bool:
        if update.member_key is None:
            return False
        key = hash(update.member_key)
        counts, expires = self._members.get(key, ((0, 0, 0), 0))
        if expires < now:
            counts = (0, 0, 0)
        steps, misses, lookups = counts[0] + is_step, counts[1] + update.is_miss, counts[2] + 1
        self._members.put(key, ((steps, misses, lookups), now + update.member_ttl * 1000))
        share = lookups * update.member_ratio
        return (steps >= update.member_min and steps >= share) or \
            (misses >= update.member_min_misses and misses >= share)

    def _thin_member(self, update: EventUpdate, now: int) -> bool:
        if update.taint_key is None:
            return False
        taint = hash(update.taint_key)
        if update.tainting:
            self._taints.put(taint, now + update.thin_ttl * 1000)
        if update.thin_key is None:
            return False
        key = hash(update.thin_key)
        count, expires = self._thin.get(key, (0, 0))
        count = (0 if expires < now else count) + 1
        self._thin.put(key, (count, now + update.thin_ttl * 1000))
        tainted = self._taints.get(taint, 0) >= now
        return count >= update.thin_min and not tainted

    def _apply(self, update: GroupUpdate, is_step: int, now: int) -> dict[str, float]:
        table = self._groups.setdefault(update.ttl, _Table())
        key = hash(update.key)
        group = table.get(key)
        if group is None or group.expires < now:
            group = _Group(now + update.ttl * 1000)
            table.put(key, group)
        values: dict[str, int] = dict(zip(group.values[::2], group.values[1::2], strict=True))
        for name, amount in update.sums.items():
            if amount:
                values[name] = values.get(name, 0) + amount
        if is_step:
            values["is_seq_step"] = values.get("is_seq_step", 0) + is_step
        for feature, value, weight in update.distinct:
            seen = _add(group.seen, _int(value, feature))
            if seen is not None:
                group.seen = seen
                values[feature] = values.get(feature, 0) + weight
        if update.gap_ts is not None:
            if group.last_ts is not None:
                gap = (update.gap_ts - group.last_ts) / 1000.0
                n, s1, s2 = group.gap or (0, 0.0, 0.0)
                group.gap = (n + 1, s1 + gap, s2 + gap * gap)
            group.last_ts = update.gap_ts
        group.values = tuple(x for item in values.items() for x in item)
        out: dict[str, float] = dict(values)
        out["_gap_n"], out["_gap_s1"], out["_gap_s2"] = group.gap or (0, 0.0, 0.0)
        return out

    def _expose(self, update: EventUpdate, links: dict[str, bool],
                now: int) -> tuple[dict[str, int], dict[str, int]]:
        before: dict[str, int] = {}
        requests: dict[str, int] = {}
        table = self._exposure.setdefault(update.exposure_ttl, _Table())
        for actor, items in update.exposure.items():
            link = update.exposure_link.get(actor)
            if link is not None and not links[link]:
                continue
            key = hash(actor)
            state = table.get(key)
            if state is None or (state.expires < now and key not in self._standing):
                state = _Exposure(now)
            # Kept for its lifetime after the actor's last request, as Redis's PEXPIRE keeps it.
            state.expires = now + update.exposure_ttl * 1000
            table.put(key, state)
            before[actor] = state.total
            state.requests += 1
            for value, weight in items:
                seen = _add(state.seen, _int(value))
                if seen is not None:
                    state.seen = seen
                    state.total += weight
            requests[actor] = state.requests
        return before, requests

    # -- bounds ---------------------------------------------------------------------------
    def _tables(self) -> Iterable[_Table[Any]]:
        yield from self._groups.values()
        yield from self._exposure.values()
        yield from (self._last_id, self._members, self._taints, self._thin, self._decisions)

    def _purge(self, now: int) -> None:
        """Drop what has expired (from each table's front), then the oldest past the cap."""
        for groups in self._groups.values():
            groups.drop_front(lambda v: v.expires < now)
        for seconds, exposure in self._exposure.items():
            self._keep_standing(exposure, seconds, now)
            exposure.drop_front(lambda v: v.expires < now)
        self._last_id.drop_front(lambda v: v[1] < now)
        self._members.drop_front(lambda v: v[1] < now)
        self._thin.drop_front(lambda v: v[1] < now)
        self._taints.drop_front(lambda expires: expires < now)
        clock = self.clock()
        for key in [k for k, (_, expires) in self._decisions.items() if expires < clock]:
            del self._decisions[key]  # few, and of several lifetimes: all of them looked at
            self._standing.discard(hash(key))
        tables = list(self._tables())
        size = sum(len(t) for t in tables)
        if size <= self.max_entries:
            return
        excess = size - self.max_entries + self.max_entries // 100
        for table in tables:
            share = -(-excess * len(table) // size)
            self.evicted += table.drop_front(lambda v: True, share)
        self._standing = {hash(key) for key in self._decisions}
        if not self._warned:
            self._warned = True
            log.warning("memory:// holds its cap of %d entries: evicting the oldest state "
                        "before its time (counted in the store's `evicted`); raise "
                        "max_entries or use redis://", self.max_entries)

    def _keep_standing(self, table: _Table[_Exposure], seconds: int, now: int) -> None:
        """Give the expired exposures of actors with a standing decision another lifetime."""
        kept = []
        for key, state in table.items():
            if state.expires >= now:
                break
            if key in self._standing:
                kept.append(key)
        for key in kept:
            state = table[key]
            state.expires = now + seconds * 1000
            table.put(key, state)

    def entries(self) -> int:
        """Entries held now, expired or not yet purged."""
        with self._lock:
            return sum(len(t) for t in self._tables())

    # -- decisions ------------------------------------------------------------------------
    def get_mark(self, key: str) -> int | None:
        with self._lock:
            return self._marks.get(key)

    def get_decisions(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        now = self.clock()
        with self._lock:
            found = ((k, self._decisions.get(k)) for k in keys)
            return {k: v[0] for k, v in found if v is not None and v[1] >= now}

    def put_decision(self, key: str, record: dict[str, Any], ttl: int) -> None:
        with self._lock:
            self._decisions.put(key, (record, self.clock() + ttl))
            self._standing.add(hash(key))

    def all_decisions(self) -> dict[str, dict[str, Any]]:
        now = self.clock()
        with self._lock:
            return {k: v for k, (v, expires) in self._decisions.items() if expires >= now}

    def exposure(self, actors: list[str]) -> dict[str, tuple[int, int]]:
        with self._lock:
            out = {}
            for actor in actors:
                for table in self._exposure.values():
                    state = table.get(hash(actor))
                    if state is not None:
                        out[actor] = (state.requests, state.total)
                        break
            return out
