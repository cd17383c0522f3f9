"""`memory://`: exact state in one process — the default, and the reference for `redis://`."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from scrapeguard.stores.base import EventResult, EventUpdate, GroupUpdate, Store

_PURGE_EVERY = 10_000


@dataclass
class _Group:
    expires: int
    sums: dict[str, int] = field(default_factory=dict)
    seen: dict[str, set[str]] = field(default_factory=dict)
    weighted: dict[str, int] = field(default_factory=dict)
    gap: list[float] = field(default_factory=lambda: [0, 0.0, 0.0])
    last_ts: int | None = None


@dataclass
class _Exposure:
    expires: int
    seen: set[str] = field(default_factory=set)
    total: int = 0
    requests: int = 0


class MemoryStore(Store):
    """Python dictionaries behind a lock; distinct counts are exact sets of keyed hashes."""

    schemes = ("memory",)

    def __init__(self, uri: str = "memory://") -> None:
        self.uri = uri
        self._lock = threading.Lock()
        self._groups: dict[str, _Group] = {}
        self._last_id: dict[str, tuple[str, int]] = {}
        self._members: dict[str, tuple[list[int], int]] = {}
        self._taints: dict[str, int] = {}
        self._thin: dict[str, tuple[int, int]] = {}
        self._exposure: dict[str, _Exposure] = {}
        self._decisions: dict[str, tuple[dict[str, Any], int]] = {}
        self._ops = 0

    def record(self, update: EventUpdate) -> EventResult:
        with self._lock:
            self._ops += 1
            if self._ops % _PURGE_EVERY == 0:
                self._purge(update.ts_ms)
            now = update.ts_ms
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
            return EventResult(is_step, member, thin, values, before, requests)

    def _step(self, update: EventUpdate, now: int) -> int:
        if update.seq_key is None or update.seq_id is None:
            return 0
        previous = self._last_id.get(update.seq_key)
        self._last_id[update.seq_key] = (update.seq_id, now + update.seq_ttl * 1000)
        if previous is None or previous[1] < now:
            return 0
        return int(previous[0] in update.seq_near)

    def _member(self, update: EventUpdate, is_step: int, now: int) -> bool:
        if update.member_key is None:
            return False
        counts, expires = self._members.get(update.member_key, ([0, 0, 0], 0))
        if expires < now:
            counts = [0, 0, 0]
        counts = [counts[0] + is_step, counts[1] + update.is_miss, counts[2] + 1]
        self._members[update.member_key] = (counts, now + update.member_ttl * 1000)
        steps, misses, lookups = counts
        share = lookups * update.member_ratio
        return (steps >= update.member_min and steps >= share) or \
            (misses >= update.member_min_misses and misses >= share)

    def _thin_member(self, update: EventUpdate, now: int) -> bool:
        if update.taint_key is None:
            return False
        if update.tainting:
            self._taints[update.taint_key] = now + update.thin_ttl * 1000
        if update.thin_key is None:
            return False
        count, expires = self._thin.get(update.thin_key, (0, 0))
        count = (0 if expires < now else count) + 1
        self._thin[update.thin_key] = (count, now + update.thin_ttl * 1000)
        tainted = self._taints.get(update.taint_key, 0) >= now
        return count >= update.thin_min and not tainted

    def _apply(self, update: GroupUpdate, is_step: int, now: int) -> dict[str, float]:
        group = self._groups.get(update.key)
        if group is None or group.expires < now:
            group = self._groups[update.key] = _Group(expires=now + update.ttl * 1000)
        sums = dict(update.sums)
        sums["is_seq_step"] = sums.get("is_seq_step", 0) + is_step
        for name, amount in sums.items():
            group.sums[name] = group.sums.get(name, 0) + amount
        for feature, value, weight in update.distinct:
            seen = group.seen.setdefault(feature, set())
            if value not in seen:
                seen.add(value)
                group.weighted[feature] = group.weighted.get(feature, 0) + weight
        if update.gap_ts is not None:
            if group.last_ts is not None:
                gap = (update.gap_ts - group.last_ts) / 1000.0
                group.gap[0] += 1
                group.gap[1] += gap
                group.gap[2] += gap * gap
            group.last_ts = update.gap_ts
        values: dict[str, float] = {**group.sums, **group.weighted}
        values["_gap_n"], values["_gap_s1"], values["_gap_s2"] = group.gap
        return values

    def _expose(self, update: EventUpdate, links: dict[str, bool],
                now: int) -> tuple[dict[str, int], dict[str, int]]:
        before: dict[str, int] = {}
        requests: dict[str, int] = {}
        for actor, items in update.exposure.items():
            link = update.exposure_link.get(actor)
            if link is not None and not links[link]:
                continue
            state = self._exposure.get(actor)
            if state is None or state.expires < now:
                state = self._exposure[actor] = _Exposure(now + update.exposure_ttl * 1000)
            before[actor] = state.total
            state.requests += 1
            for value, weight in items:
                if value not in state.seen:
                    state.seen.add(value)
                    state.total += weight
            requests[actor] = state.requests
        return before, requests

    def _purge(self, now: int) -> None:
        for table in (self._groups, self._exposure):
            for key in [k for k, v in table.items() if v.expires < now]:
                del table[key]
        for key in [k for k, (_, expires) in self._last_id.items() if expires < now]:
            del self._last_id[key]
        for key in [k for k, (_, expires) in self._members.items() if expires < now]:
            del self._members[key]
        for key in [k for k, (_, expires) in self._thin.items() if expires < now]:
            del self._thin[key]
        for key in [k for k, expires in self._taints.items() if expires < now]:
            del self._taints[key]

    def get_decisions(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: self._decisions[k][0] for k in keys if k in self._decisions}

    def put_decision(self, key: str, record: dict[str, Any], ttl: int) -> None:
        with self._lock:
            self._decisions[key] = (record, ttl)

    def all_decisions(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: v for k, (v, _) in self._decisions.items()}
