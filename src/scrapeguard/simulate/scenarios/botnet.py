"""A low-and-slow botnet: thousands of home addresses, a handful of profiles each a day."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from scrapeguard.simulate import pools, site
from scrapeguard.simulate.browse import ENTRY_REFERERS
from scrapeguard.simulate.draws import DAY_MS, EVENING, segments, times
from scrapeguard.simulate.frame import Frame, spread
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind


@register
@dataclass(frozen=True)
class Botnet(Scenario):
    """Infected home computers and phones fetching a few random profiles each per day, at
    the hours their owners are online, each with a common browser agent; some keep cookies,
    some fake a search-engine referer. No address ever looks busy; together they cover
    tens of thousands of people a day. The bot's HTTP client impersonates the browser its
    agent names, headers and TLS (as curl_cffi does, whose Chrome the project captured), so
    its client stack is that browser's: the fleet the stack checks cannot see."""

    name: ClassVar[str] = "botnet"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "own"
    addresses: int = 4_000
    min_per_day: int = 2
    max_per_day: int = 8
    """Profiles one address fetches in a calendar day (inclusive)."""

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        bots = max(1, round(self.addresses * ctx.scale))
        days = int(np.ceil(ctx.hours / 24))
        per_day = rng.integers(self.min_per_day, self.max_per_day + 1, (bots, days))
        counts = per_day.ravel()
        cell, _ = segments(counts)
        bot, day = cell // days, cell % days
        ts = day * DAY_MS + times(rng, len(cell), 24, EVENING) % DAY_MS
        ids = rng.integers(1, site.PEOPLE + 1, len(cell))
        kind = np.full(len(cell), Kind.PROFILE)
        ip = pools.distinct(rng, lambda r, k: pools.mixed(r, k, v6=0.15, vpn=0.0), bots)
        cookies = rng.random(bots) < 0.5
        sessions = [s if c else None for s, c in zip(pools.hex_ids(rng, bots), cookies,
                                                      strict=True)]
        referer = np.where(rng.random(bots) < 0.3, rng.integers(0, 2, bots), -1)
        return Frame.of(
            ts, ctx.render(kind, ids, ts=ts), ip=spread(ip, bot),
            ua=spread(pools.draw(rng, "browser", bots, head=40), bot),
            referer=spread(pa.array(ENTRY_REFERERS), referer[bot]),
            session=spread(sessions, bot), identity=f"{self.name}:0",
        )
