"""What the dashboard remembers of recent traffic: per actor, requests and records over time.

The store keeps windowed counters by keyed hash and the decision as it stood when a rule
fired, nothing that draws a timeline. So the dashboard taps the service's record lane
(`Service.taps`) and counts, in this process's memory only, each actor's requests and the
people's records its responses carried, in fixed buckets. Records are what the engine
counts as exposure: the items `Deriver.derive` finds, weighted, so the two cannot disagree.
Memory is bounded twice: actors least recently seen are dropped past `max_actors`, and
each keeps its newest `max_buckets` buckets. Clients seen on each route template are kept
too (bounded), as the candidates a campaign's members are named from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scrapeguard.decisions import parse_ts
from scrapeguard.engines.live_rows import Deriver

KINDS = ("ip", "net", "account", "session", "fp")
"""The actor kinds an event counts under; campaign actors are named from their members."""
RECENT_PATHS = 5


@dataclass
class Track:
    """One actor's recent traffic, as this process saw it."""

    first_seen: float
    last_seen: float
    requests: int = 0
    records: int = 0
    buckets: OrderedDict[int, list[int]] = field(default_factory=OrderedDict)
    """Bucket start (epoch seconds) → [requests, records]."""
    ua: str | None = None
    paths: deque[str] = field(default_factory=lambda: deque(maxlen=RECENT_PATHS))


@dataclass(frozen=True)
class Bar:
    """One bar of a timeline, in the SVG's own units (0 to 100 wide, 0 to 40 high per lane)."""

    x: float
    width: float
    requests: float
    records: float
    start: str
    count_requests: int
    count_records: int


class Timelines:
    """Bounded per-actor counts of recent traffic; `tap` is called on the record lane."""

    def __init__(self, deriver: Deriver, bucket_seconds: int = 10, max_actors: int = 5000,
                 max_buckets: int = 360, max_templates: int = 200,
                 max_clients_per_template: int = 500) -> None:
        self.deriver = deriver
        self.bucket_seconds = bucket_seconds
        self.max_actors = max_actors
        self.max_buckets = max_buckets
        self.max_templates = max_templates
        self.max_clients = max_clients_per_template
        self._tracks: OrderedDict[str, Track] = OrderedDict()
        self._templates: OrderedDict[str, OrderedDict[str, None]] = OrderedDict()
        self._lock = threading.Lock()

    def tap(self, event: dict[str, Any]) -> None:
        ts = event["ts"]
        if isinstance(ts, str):
            ts = parse_ts(ts)
        elif ts.tzinfo is None:
            ts = ts.replace(tzinfo=UTC)
        rows = self.deriver.derive({**event, "ts": ts})
        records = sum(row.item_weight for row in rows.rows if row.item is not None)
        seconds = ts.timestamp()
        bucket = int(seconds // self.bucket_seconds * self.bucket_seconds)
        with self._lock:
            for kind in KINDS:
                value = rows.keys.get(kind)
                if value:
                    self._count(f"{kind}:{value}", seconds, bucket, records, rows.ua, rows.path)
            if rows.is_lookup:
                clients = self._templates.pop(rows.template, None) or OrderedDict()
                self._templates[rows.template] = clients
                clients.pop(rows.identity, None)
                clients[rows.identity] = None
                if len(clients) > self.max_clients:
                    clients.popitem(last=False)
                if len(self._templates) > self.max_templates:
                    self._templates.popitem(last=False)

    def _count(self, actor: str, seconds: float, bucket: int, records: int, ua: str | None,
               path: str) -> None:
        track = self._tracks.pop(actor, None) or Track(first_seen=seconds, last_seen=seconds)
        self._tracks[actor] = track
        if len(self._tracks) > self.max_actors:
            self._tracks.popitem(last=False)
        track.first_seen = min(track.first_seen, seconds)
        track.last_seen = max(track.last_seen, seconds)
        track.requests += 1
        track.records += records
        track.ua = ua
        track.paths.append(path)
        counts = track.buckets.get(bucket)
        if counts is None:
            counts = track.buckets[bucket] = [0, 0]
            if len(track.buckets) > self.max_buckets:
                track.buckets.pop(min(track.buckets))
        counts[0] += 1
        counts[1] += records

    def get(self, actor: str) -> Track | None:
        with self._lock:
            track = self._tracks.get(actor)
            if track is None:
                return None
            return Track(track.first_seen, track.last_seen, track.requests, track.records,
                         OrderedDict(sorted(track.buckets.items())), track.ua,
                         deque(track.paths, maxlen=RECENT_PATHS))

    def top(self, limit: int, kinds: tuple[str, ...] = ("ip", "account")) -> list[
            tuple[str, Track]]:
        """Actors of `kinds` by records received, then requests: who to look at next."""
        with self._lock:
            chosen = [(a, t) for a, t in self._tracks.items() if a.split(":", 1)[0] in kinds]
        chosen.sort(key=lambda pair: (-pair[1].records, -pair[1].requests, pair[0]))
        return chosen[:limit]

    def clients_on(self, template: str) -> list[str]:
        """Clients (`clients.identity`) seen looking up records on `template`, newest last."""
        with self._lock:
            return list(self._templates.get(template, ()))


def _scale(track: Track, bucket_seconds: int, most: int) -> tuple[int, int, int]:
    """(first bucket, seconds per bar, bars) covering the track's whole span."""
    first, last = min(track.buckets), max(track.buckets)
    span = last - first + bucket_seconds
    per_bar = max(1, -(-span // (most * bucket_seconds))) * bucket_seconds
    return first, per_bar, -(-span // per_bar)


def bars(track: Track, bucket_seconds: int, most: int = 60) -> list[Bar]:
    """The track's buckets merged into at most `most` bars over its whole span, each lane
    scaled to its largest bar; an empty stretch stays empty, so pauses show."""
    if not track.buckets:
        return []
    first, per_bar, slots = _scale(track, bucket_seconds, most)
    merged: dict[int, list[int]] = {}
    for start, (requests, records) in track.buckets.items():
        slot = merged.setdefault((start - first) // per_bar, [0, 0])
        slot[0] += requests
        slot[1] += records
    top_requests = max(v[0] for v in merged.values()) or 1
    top_records = max(v[1] for v in merged.values()) or 1
    unit = 100 / slots
    return [Bar(x=round(i * unit, 3), width=round(unit * 0.9, 3),
                requests=round(40 * r / top_requests, 2), records=round(40 * n / top_records, 2),
                start=datetime.fromtimestamp(first + i * per_bar, UTC).strftime("%H:%M:%S"),
                count_requests=r, count_records=n)
            for i, (r, n) in sorted(merged.items())]


def position(track: Track, bucket_seconds: int, moment: datetime, most: int = 60
             ) -> float | None:
    """Where `moment` (a decision's first action) falls on `bars`' axis, 0 to 100; None when
    it falls outside what this process saw."""
    if not track.buckets:
        return None
    first, per_bar, slots = _scale(track, bucket_seconds, most)
    share = (moment.timestamp() - first) / (per_bar * slots)
    return round(100 * share, 3) if 0 <= share <= 1 else None
