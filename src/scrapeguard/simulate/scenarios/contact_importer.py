"""Phone-number enumeration through the contact importer, spread thin over home addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate import pools, site
from scrapeguard.simulate.draws import HOUR_MS, group_cumsum, segments
from scrapeguard.simulate.frame import Frame, spread
from scrapeguard.simulate.scenario import Context, Label, Scenario, SimulationError, register
from scrapeguard.simulate.site import Kind


@register
@dataclass(frozen=True)
class ContactImporter(Scenario):
    """The social-network case: one campaign walks ranges of mobile numbers through the
    contact importer, each residential proxy address taking its own slice of the range and
    staying under any per-address limit (at most `per_hour` lookups in any hour, and so far
    fewer than `per_minute` in any minute). Each address poses as one app install (app agent,
    device id, a bought account) from a script on python-requests; most numbers belong to
    nobody, and the importer answers 200 either way."""

    name: ClassVar[str] = "contact_importer"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "python-requests"
    addresses: int = 2_500
    """Addresses that take part in a day."""
    per_hour: int = 40
    per_minute: int = 60
    accounts: int = 150
    active_hours: float = 2.0
    """Median time an address stays in use before the proxy rotates it out."""

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        n = max(1, ctx.count(self.addresses))
        window = ctx.hours * HOUR_MS
        spacing = HOUR_MS / max(self.per_hour, 1) + 500  # the per-hour cap, with a margin
        if self.per_hour < 1 or 60_000 / spacing > self.per_minute:
            raise SimulationError(f"{self.name}: per_hour must be at least 1, and its spacing "
                                  "must also keep under per_minute")
        stay = np.minimum(rng.lognormal(np.log(self.active_hours * HOUR_MS), 0.6, n), window)
        begin = rng.uniform(0, 1, n) * (window - stay)
        mean_gap = spacing + rng.uniform(20_000, 90_000, n)  # ms; slack above the cap
        counts = np.maximum((stay / mean_gap).astype(np.int64), 1)
        address, k = segments(counts)
        gaps = spacing + rng.exponential(mean_gap[address] - spacing)
        since_first = group_cumsum(gaps, address) - gaps  # the first lookup starts the stay
        ts = (begin[address] + since_first).astype(np.int64)
        start = site.PHONE_LOW + int(rng.integers(0, 10**9)) + np.cumsum(counts) - counts
        numbers = start[address] + k
        ip = pools.distinct(rng, lambda r, m: pools.mixed(r, m, v6=0.15, vpn=0.0), n)
        names = ctx.accounts(max(1, min(self.accounts, n)))
        return Frame.of(
            ts, ctx.render(np.full(len(ts), Kind.LOOKUP), numbers, ts=ts),
            ip=spread(ip, address), ua=spread(pools.draw(rng, "app", n, head=10), address),
            session=spread(pools.hex_ids(rng, n), address),
            account=spread(names, address % len(names)), identity=f"{self.name}:0",
        )
