"""What the dashboard remembers of recent traffic: per actor, requests and records over time.

The store keeps windowed counters by keyed hash and the decision as it stood when a rule
fired, nothing that draws a timeline. So the dashboard taps the service's record lane
(`Service.taps`) and counts, in this process's memory only, each actor's requests and the
people's records its responses carried, in buckets. Records are what the engine counts as
exposure: the items `Deriver.derive` finds, weighted, so the two cannot disagree. Memory is
bounded twice: actors least recently seen are dropped past `max_actors`, and each keeps at
most `max_buckets` buckets. Buckets start at a tenth of a second (a script can harvest a
hundred records in one) and double in width, merging pairs, whenever an actor would pass
the bound, so a long-lived actor keeps its whole span at a coarser grain. Clients seen on
each route template are kept too (bounded), as the candidates a campaign's members are named from.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scrapeguard.decisions import parse_ts
from scrapeguard.engines.live_rows import Deriver

KINDS = ("ip", "net", "account", "session", "fp", "hdr", "tls")
"""The actor kinds an event counts under; campaign actors are named from their members."""
RECENT_PATHS = 5


@dataclass
class Track:
    """One actor's recent traffic, as this process saw it."""

    first_seen: float
    last_seen: float
    requests: int = 0
    records: int = 0
    buckets: dict[int, list[int]] = field(default_factory=dict)
    """Bucket start (epoch milliseconds, a multiple of `width`) → [requests, records]."""
    width: int = 100
    """Milliseconds per bucket: 100, doubled each time the actor would pass `max_buckets`."""
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

    def __init__(self, deriver: Deriver, max_actors: int = 5000, max_buckets: int = 240,
                 max_templates: int = 200, max_clients_per_template: int = 500) -> None:
        self.deriver = deriver
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
        with self._lock:
            for kind in KINDS:
                value = rows.keys.get(kind)
                if value:
                    self._count(f"{kind}:{value}", seconds, records, rows.ua, rows.path)
            if rows.is_lookup:
                clients = self._templates.pop(rows.template, None) or OrderedDict()
                self._templates[rows.template] = clients
                clients.pop(rows.identity, None)
                clients[rows.identity] = None
                if len(clients) > self.max_clients:
                    clients.popitem(last=False)
                if len(self._templates) > self.max_templates:
                    self._templates.popitem(last=False)

    def _count(self, actor: str, seconds: float, records: int, ua: str | None,
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
        bucket = int(seconds * 1000) // track.width * track.width
        counts = track.buckets.setdefault(bucket, [0, 0])
        counts[0] += 1
        counts[1] += records
        while len(track.buckets) > self.max_buckets:
            _coarsen(track)

    def get(self, actor: str) -> Track | None:
        with self._lock:
            track = self._tracks.get(actor)
            if track is None:
                return None
            return Track(track.first_seen, track.last_seen, track.requests, track.records,
                         {k: list(v) for k, v in sorted(track.buckets.items())}, track.width,
                         track.ua, deque(track.paths, maxlen=RECENT_PATHS))

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


def _coarsen(track: Track) -> None:
    """Double the track's bucket width, merging each pair of buckets into one."""
    track.width *= 2
    merged: dict[int, list[int]] = {}
    for start, (requests, records) in track.buckets.items():
        slot = merged.setdefault(start // track.width * track.width, [0, 0])
        slot[0] += requests
        slot[1] += records
    track.buckets = merged


def _scale(track: Track, most: int) -> tuple[int, int, int]:
    """(first bucket, milliseconds per bar, bars) covering the track's whole span."""
    first, last = min(track.buckets), max(track.buckets)
    span = last - first + track.width
    per_bar = max(1, -(-span // (most * track.width))) * track.width
    return first, per_bar, -(-span // per_bar)


def bars(track: Track, most: int = 60) -> list[Bar]:
    """The track's buckets merged into at most `most` bars over its whole span, each lane
    scaled to its largest bar; an empty stretch stays empty, so pauses show."""
    if not track.buckets:
        return []
    first, per_bar, slots = _scale(track, most)
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
                start=_clock(first + i * per_bar, per_bar),
                count_requests=r, count_records=n)
            for i, (r, n) in sorted(merged.items())]


def position(track: Track, moment: datetime, most: int = 60) -> float | None:
    """Where `moment` (a decision's first action) falls on `bars`' axis, 0 to 100; None when
    it falls outside what this process saw."""
    if not track.buckets:
        return None
    first, per_bar, slots = _scale(track, most)
    share = (moment.timestamp() * 1000 - first) / (per_bar * slots)
    return round(100 * share, 3) if 0 <= share <= 1 else None


def _clock(ms: int, per_bar: int) -> str:
    """A bar's start as a UTC clock time, to the tenth of a second when bars are that fine."""
    text = datetime.fromtimestamp(ms / 1000, UTC).strftime("%H:%M:%S.%f")
    return text[:-5] if per_bar < 1000 else text[:-7]
