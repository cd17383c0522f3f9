"""Offices: many people behind one address, on the same managed browser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate import pools
from scrapeguard.simulate.browse import browse
from scrapeguard.simulate.draws import WORKWEEK, count, times, window_mass
from scrapeguard.simulate.frame import Frame, concat
from scrapeguard.simulate.people import crowd, visits
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.scenarios.shoppers import BROWSING


@register
@dataclass(frozen=True)
class OfficeNat(Scenario):
    """Office networks: dozens of colleagues shopping in their breaks behind one egress
    address, most on the browser the IT department installed, a few logged in."""

    name: ClassVar[str] = "office_nat"
    label: ClassVar[Label] = "human"
    client: ClassVar[str | None] = "own"
    offices: int = len(pools.OFFICES)
    staff: int = 90
    visits_per_person: float = 2.0
    managed_browser: float = 0.6
    """Share of staff on the one browser build IT rolls out."""

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        frames = []
        offices = max(1, round(self.offices * ctx.scale))  # volume scales by office count
        extra = pools.ipv4(rng, pools.RESIDENTIAL, max(0, offices - len(pools.OFFICES)))
        for office in range(offices):
            ip = (pools.OFFICES + tuple(extra))[office]
            n = max(2, round(self.staff * rng.uniform(0.4, 1.6)))
            people = crowd(ctx, f"{self.name}:{office}", n, logged_in=0.35, returning=0.8,
                           in_app=0.0, ips=[ip], agents="desktop", strip_referer=0.1)
            managed = pools.draw(rng, "desktop", 1, head=3)[0]
            people.ua = [managed if m else ua for ua, m in
                         zip(people.ua, rng.random(n) < self.managed_browser, strict=True)]
            expected = n * self.visits_per_person * window_mass(ctx.hours, WORKWEEK) / 24
            at = times(rng, count(rng, expected), ctx.hours, WORKWEEK)
            if len(at) == 0:
                continue
            pages = rng.geometric(0.18, len(at)).astype(np.int64)
            frames.append(browse(ctx, visits(ctx, people, at, pages, roam=0.0), BROWSING))
        return concat(frames) if frames else browse(
            ctx, visits(ctx, crowd(ctx, self.name, 1, logged_in=0), np.zeros(0, np.int64),
                        np.zeros(0, np.int64)), BROWSING)
