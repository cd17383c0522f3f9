"""`redis://`: state shared by every gateway node through one Redis server.

Each event is one EVALSHA of `lua/record.lua` (atomic, one round trip); each check is one
MGET of the request's decision keys. Distinct counts are HyperLogLogs (about 0.8% standard
error; exact for small sets), so the stream engine on Redis agrees with the batch engine
within that error. Keys live under a prefix (`redis://host:6379/0?prefix=sg:`) and expire
with their windows; what outlives a window (a client's previous id, an actor's exposure) lapses
by event time, as on `memory://`, so a log replayed into Redis counts as it did live.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlparse

import redis
import redis.asyncio

from scrapeguard.errors import StoreError
from scrapeguard.stores.base import EventResult, EventUpdate, Store

SOCKET_TIMEOUT = 0.5
"""Seconds before a call gives up: a dead Redis must degrade a request, not hang it."""


def _seconds(text: str) -> float:
    """`?timeout=` of a store URI: a replay of a log (`watch`, the conformance tests) waits
    on a loaded server rather than count its events as lost; a live node keeps the default."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise StoreError(f"redis store: timeout must be a positive number of seconds, "
                         f"not {text!r}")
    return value


class RedisStore(Store):
    schemes = ("redis", "rediss")

    def __init__(self, uri: str) -> None:
        query = parse_qs(urlparse(uri).query)
        self.prefix = query.get("prefix", ["sg:"])[0]
        timeout = _seconds(query.get("timeout", [str(SOCKET_TIMEOUT)])[0])
        clean = uri.split("?", 1)[0]
        self._url = clean
        try:
            self.client = redis.Redis.from_url(
                clean, socket_timeout=timeout, socket_connect_timeout=timeout,
                retry_on_timeout=False,
            )
        except ValueError as exc:  # redis-py's URL parsing: a bad port, a broken [v6]
            raise StoreError(f"redis store: not a Redis URL ({exc})") from None
        self._reader = self.client
        """The client `get_decisions` uses: a request waits on it (see `read_timeout`)."""
        self._read_seconds = timeout
        self._async: tuple[asyncio.AbstractEventLoop, redis.asyncio.Redis] | None = None
        """`get_decisions_async`'s client, bound to the loop it was first used on."""
        script = resources.files("scrapeguard.stores").joinpath("lua/record.lua").read_text()
        self._record = self.client.register_script(script)
        exposure = resources.files("scrapeguard.stores").joinpath("lua/exposure.lua").read_text()
        self._exposure = self.client.register_script(exposure)

    def record(self, update: EventUpdate) -> EventResult:
        return _result(self._record(args=[self._payload(update)]))

    def record_many(self, updates: list[EventUpdate]) -> list[EventResult]:
        """The events' scripts in one pipeline (not a transaction: each script is atomic on
        its own, and Redis runs them in order), so a batch costs one round trip."""
        if len(updates) == 1:
            return [self.record(updates[0])]
        pipe = self.client.pipeline(transaction=False)
        for update in updates:
            self._record(args=[self._payload(update)], client=pipe)
        return [_result(raw) for raw in pipe.execute()]

    def _payload(self, update: EventUpdate) -> str:
        payload: dict[str, Any] = {
            "prefix": self.prefix,
            "now": update.ts_ms,
            "groups": [
                {"key": g.key, "ttl": g.ttl * 1000, "sums": g.sums,
                 "distinct": [list(d) for d in g.distinct], "features": list(g.tracked),
                 "gap": g.gap_ts, "campaign": g.campaign}
                for g in update.groups
            ],
            "exposure": {actor: [list(i) for i in items]
                         for actor, items in update.exposure.items()},
            "exposure_ttl": update.exposure_ttl * 1000,
            "exposure_link": update.exposure_link,
        }
        if update.taint_key is not None:
            payload["thin"] = {"taint": update.taint_key, "tainting": update.tainting,
                               "key": update.thin_key, "min": update.thin_min,
                               "ttl": update.thin_ttl * 1000}
        if update.seq_key is not None and update.seq_id is not None:
            payload["seq"] = {"key": update.seq_key, "id": update.seq_id,
                              "near": update.seq_near, "ttl": update.seq_ttl * 1000}
        if update.member_key is not None:
            payload["member"] = {"key": update.member_key, "miss": update.is_miss,
                                 "min": update.member_min, "ratio": update.member_ratio,
                                 "min_misses": update.member_min_misses,
                                 "ttl": update.member_ttl * 1000}
        if update.mark is not None:
            payload["mark"] = {"key": update.mark[0], "value": update.mark[1]}
        return json.dumps(payload)

    def get_mark(self, key: str) -> int | None:
        """The mark, or StoreError when Redis does not answer: `watch` reads marks itself
        (not through the engine, which degrades), and says so rather than a traceback."""
        try:
            value = self.client.get(f"{self.prefix}w:{key}")
        except redis.RedisError as exc:
            raise StoreError(f"cannot reach Redis: {exc}") from None
        return None if value is None else int(value)

    def read_timeout(self, seconds: float) -> None:
        """Give up on `get_decisions` after `seconds` (a request's budget), counted from when
        the call goes out, on connections of its own; writes keep `SOCKET_TIMEOUT`."""
        self._reader = redis.Redis.from_url(
            self._url, socket_timeout=seconds, socket_connect_timeout=seconds,
            retry_on_timeout=False,
        )
        self._read_seconds = seconds

    @property
    def get_decisions_async(
            self) -> Callable[[list[str]], Awaitable[dict[str, dict[str, Any]]]] | None:
        return self._get_decisions_async

    async def _get_decisions_async(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """`get_decisions` awaited on the running loop, with the read timeout of
        `read_timeout`: one client per loop (an asyncio connection belongs to its loop)."""
        if not keys:
            return {}
        loop = asyncio.get_running_loop()
        if self._async is None or self._async[0] is not loop:
            self._async = (loop, redis.asyncio.Redis.from_url(
                self._url, socket_timeout=self._read_seconds,
                socket_connect_timeout=self._read_seconds, retry_on_timeout=False))
        values = await self._async[1].mget([f"{self.prefix}d:{k}" for k in keys])
        return {k: json.loads(v) for k, v in zip(keys, values, strict=True) if v}

    async def close_async(self) -> None:
        if self._async is not None and self._async[0] is asyncio.get_running_loop():
            client, self._async = self._async[1], None
            await client.aclose()

    def get_decisions(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        if not keys:
            return {}
        values = self._reader.mget([f"{self.prefix}d:{k}" for k in keys])
        return {k: json.loads(v) for k, v in zip(keys, values, strict=True) if v}

    def put_decision(self, key: str, record: dict[str, Any], ttl: int) -> None:
        self.client.set(f"{self.prefix}d:{key}", json.dumps(record), ex=ttl)

    def all_decisions(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        start = len(f"{self.prefix}d:")
        for name in self.client.scan_iter(match=f"{self.prefix}d:*", count=1000):
            value = self.client.get(name)
            if value:
                out[name.decode()[start:]] = json.loads(value)
        return out

    def exposure(self, actors: list[str]) -> dict[str, tuple[int, int]]:
        if not actors:
            return {}
        found = self._exposure(keys=[f"{self.prefix}x:{actor}" for actor in actors])
        return {actor: (int(pair[0]), int(pair[1]))
                for actor, pair in zip(actors, found, strict=True) if pair}

    def close(self) -> None:
        self.client.close()
        if self._reader is not self.client:
            self._reader.close()


def _dict(value: Any) -> dict[str, Any]:
    """cjson encodes an empty table as `{}` or `[]`; both mean no entries."""
    return value if isinstance(value, dict) else {}


def _result(raw: Any) -> EventResult:
    result = json.loads(raw)
    return EventResult(
        is_seq_step=int(result["step"]),
        member=bool(result["member"]),
        thin=bool(result["thin"]),
        groups=_dict(result["groups"]),
        exposure_before={k: int(v) for k, v in _dict(result["before"]).items()},
        requests={k: int(v) for k, v in _dict(result["requests"]).items()},
    )
