"""`redis://` serving log: every node of a fleet writes to one Redis, `trace` reads it.

Per canary, two sorted sets keyed by actor (first serving time, written only if earlier; last
serving time, only if later; Redis 6.2 or newer) and a hash of counts; per actor, the set of
its canaries.
Each batch is one MULTI/EXEC, so a reader never sees half a serving. Redis must persist (AOF or
RDB): these keys are the evidence `trace` names actors with, and they carry no TTL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import redis

from scrapeguard.canary.keys import CanaryError
from scrapeguard.canary.servings import Serving, ServingLog, from_ms, to_ms


class RedisServings(ServingLog):
    """`redis://host:port/db?prefix=sg:canary:` (the prefix is optional)."""

    schemes = ("redis", "rediss")

    def __init__(self, uri: str) -> None:
        parts = urlsplit(uri)
        self.prefix = parse_qs(parts.query).get("prefix", ["sg:canary:"])[0]
        try:
            self.client: Any = redis.Redis.from_url(uri.split("?", 1)[0])
            self.client.ping()
        except redis.RedisError as exc:
            raise CanaryError(f"serving log {uri!r}: {exc}") from exc

    def _k(self, kind: str, name: str | int) -> str:
        return f"{self.prefix}{kind}:{name}"

    def record(self, actor: str, canaries: Sequence[int], ts: datetime) -> None:
        ms = to_ms(ts)
        pipe = self.client.pipeline(transaction=True)
        for canary in canaries:
            pipe.zadd(self._k("first", canary), {actor: ms}, lt=True)
            pipe.zadd(self._k("last", canary), {actor: ms}, gt=True)
            pipe.hincrby(self._k("count", canary), actor, 1)
        if canaries:
            pipe.sadd(self._k("actor", actor), *canaries)
            pipe.sadd(self._k("actors", "all"), actor)
        pipe.execute()

    def served(self, canaries: Iterable[int]) -> dict[int, dict[str, Serving]]:
        wanted = sorted(set(canaries))
        pipe = self.client.pipeline(transaction=False)
        for canary in wanted:
            pipe.zrange(self._k("first", canary), 0, -1, withscores=True)
            pipe.zrange(self._k("last", canary), 0, -1, withscores=True)
            pipe.hgetall(self._k("count", canary))
        answers = pipe.execute()
        out: dict[int, dict[str, Serving]] = {}
        for n, canary in enumerate(wanted):
            first, last, counts = answers[3 * n: 3 * n + 3]
            if not first:
                continue
            lasts = {a.decode(): s for a, s in last}
            out[canary] = {
                a.decode(): Serving(from_ms(s), from_ms(lasts.get(a.decode(), s)),
                                    int(counts.get(a, 1)))
                for a, s in first
            }
        return out

    def served_counts(self, actors: Iterable[str]) -> dict[str, int]:
        wanted = sorted(set(actors))
        pipe = self.client.pipeline(transaction=False)
        for actor in wanted:
            pipe.scard(self._k("actor", actor))
        return {a: int(n) for a, n in zip(wanted, pipe.execute(), strict=True)}

    def actor_count(self) -> int:
        return int(self.client.scard(self._k("actors", "all")))

    def timeline(self, actor: str) -> list[int]:
        canaries = sorted(int(c) for c in self.client.smembers(self._k("actor", actor)))
        pipe = self.client.pipeline(transaction=False)
        for canary in canaries:
            pipe.zscore(self._k("first", canary), actor)
        return sorted(int(ms) for ms in pipe.execute() if ms is not None)

    def was_served(self, canary: int, actor: str) -> bool:
        return self.client.zscore(self._k("first", canary), actor) is not None

    def close(self) -> None:
        self.client.close()
