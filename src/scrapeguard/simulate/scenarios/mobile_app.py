"""People in the shop's mobile app: the JSON API, no assets, no referers, a device id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from scrapeguard.simulate import pools, site
from scrapeguard.simulate.draws import EVENING, I64, segments, times
from scrapeguard.simulate.frame import Frame, spread
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind

CURSOR_EPOCH = 1_772_409_600
"""The feed cursor is a Unix time: the run's start plus the request's offset."""


def phone_numbers(rng: np.random.Generator, n: int, hit_rate: float) -> I64:
    """Numbers from address books: a share belong to people on the platform."""
    tries = site.PHONE_LOW + rng.integers(0, site.PHONE_HIGH - site.PHONE_LOW, (n, 64))
    found = site.phone_owner(tries) > 0
    first_hit = tries[np.arange(n), found.argmax(axis=1)]
    first_miss = tries[np.arange(n), (~found).argmax(axis=1)]
    numbers: I64 = np.where(rng.random(n) < hit_rate, first_hit, first_miss)
    return numbers


@register
@dataclass(frozen=True)
class MobileApp(Scenario):
    """App users: a feed refreshed on a timer while the app is open, product and profile
    views, telemetry posts, and now and then a contact sync that looks up a whole address
    book in a burst (most numbers on it are not on the platform). The device id is the
    session from the first request; no referers; addresses change with the network."""

    name: ClassVar[str] = "mobile_app"
    label: ClassVar[Label] = "human"
    client: ClassVar[str | None] = "own"
    sessions_per_day: float = 20_000
    sessions_per_user: float = 1.8
    logged_in: float = 0.8
    contact_sync: float = 0.02
    contacts_on_platform: float = 0.4

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        start = times(rng, ctx.count(self.sessions_per_day, EVENING), ctx.hours, EVENING)
        s = len(start)
        users = max(1, int(s / self.sessions_per_user))
        user = np.where(np.arange(s) < users, np.arange(s), rng.integers(0, users, s))
        length = np.minimum(rng.lognormal(np.log(240), 0.9, s), 3_600) * 1000
        refresh = rng.uniform(120, 300, users)[user] * 1000
        parts: list[tuple[I64, I64, I64, I64]] = []  # session, kind, id, time

        def add(counts: I64, kind: Kind, ids: I64 | None, offsets: np.ndarray) -> None:
            session, _ = segments(counts)
            ts = start[session] + offsets.astype(np.int64)
            parts.append((session, np.full(len(session), kind), np.zeros(len(session), np.int64)
                          if ids is None else ids, ts))

        feeds = (length // refresh).astype(np.int64) + 1
        session, k = segments(feeds)
        add(feeds, Kind.API_FEED, None, k * refresh[session] + rng.normal(0, 1500, len(k)).clip(0))
        beats = (length // 120_000).astype(np.int64) + 1
        session, k = segments(beats)
        add(beats, Kind.API_EVENTS, None, k * 120_000 + rng.integers(500, 5_000, len(k)))
        views = rng.poisson(length / 60_000)
        session, _ = segments(views)
        add(views, Kind.API_PRODUCT, site.popular_products(rng, len(session)),
            rng.random(len(session)) * length[session])
        people = rng.poisson(length / 60_000 * 0.35)
        session, _ = segments(people)
        ids = site.popular_people(rng, len(session))
        stale = np.nonzero(rng.random(len(ids)) < 0.02)[0]  # notifications about gone accounts
        ids[stale] = site.gone(rng, len(stale), site.person_exists, site.PEOPLE)
        add(people, Kind.API_USER, ids, rng.random(len(session)) * length[session])
        syncing = rng.random(s) < self.contact_sync
        book = np.where(syncing, np.minimum(rng.lognormal(np.log(40), 1.0, s), 800), 0)
        session, k = segments(book.astype(np.int64))
        burst = rng.random(s) * length * 0.5
        gaps = np.cumsum(rng.exponential(150, len(k)))  # ms; restarted per session below
        first = np.r_[0, np.cumsum(book.astype(np.int64))[:-1]]
        add(book.astype(np.int64), Kind.LOOKUP,
            phone_numbers(rng, len(session), self.contacts_on_platform),
            burst[session] + gaps - gaps[first[session]] if len(k) else gaps)
        session = np.concatenate([p[0] for p in parts])
        kind = np.concatenate([p[1] for p in parts])
        ids = np.concatenate([p[2] for p in parts])
        ts = np.concatenate([p[3] for p in parts])
        cursor = CURSOR_EPOCH + ts // 1000
        answer = ctx.render(kind, ids, np.where(kind == Kind.API_FEED, cursor, 1), ts=ts)
        devices = pools.hex_ids(rng, users)
        accounts = ctx.logins(users, self.logged_in)
        return Frame.of(
            ts, answer, ip=spread(pools.mixed(rng, s, v6=0.35, vpn=0.02), session),
            ua=spread(pools.draw(rng, "app", users), user[session]),
            identity=spread(pa.array([f"{self.name}:{u}" for u in range(users)]), user[session]),
            account=spread(accounts, user[session]), session=spread(devices, user[session]),
        )
