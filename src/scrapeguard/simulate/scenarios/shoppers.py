"""Casual shoppers in a browser: most of the traffic, and most of its variety."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate.browse import Walk, browse
from scrapeguard.simulate.draws import EVENING
from scrapeguard.simulate.frame import Frame, concat
from scrapeguard.simulate.people import crowd, starts, visits
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind

BROWSING = Walk(
    mix=((Kind.HOME, 12), (Kind.PRODUCT, 30), (Kind.REVIEWS, 12), (Kind.PROFILE, 8),
         (Kind.SEARCH, 14), (Kind.CART, 6), (Kind.CART_ADD, 3), (Kind.LOGIN, 1), (Kind.HELP, 2)),
    entry=((Kind.HOME, 35), (Kind.PRODUCT, 35), (Kind.SEARCH, 8), (Kind.PROFILE, 8),
           (Kind.REVIEWS, 4), (Kind.HELP, 3), (Kind.CART, 7)),
)
READING = Walk(
    mix=((Kind.PROFILE, 45), (Kind.REVIEWS, 30), (Kind.PRODUCT, 15), (Kind.SEARCH, 5),
         (Kind.HOME, 5)),
    entry=((Kind.PRODUCT, 50), (Kind.HOME, 30), (Kind.SEARCH, 20)),
    think_median=12.0, follow_related=0.6,
)
"""People who read reviews and reviewers' profiles at length (before a big purchase, or out
of curiosity): a few hundred profiles in an evening is not a harvest."""


@register
@dataclass(frozen=True)
class Shoppers(Scenario):
    """Casual shoppers: evening-heavy, logged in or not, cold and warm caches, search and
    social referers or none, in-app browsers, VPN and cloud exits, stale links that 404, and a
    few who read hundreds of profiles in one sitting."""

    name: ClassVar[str] = "shoppers"
    label: ClassVar[Label] = "human"
    client: ClassVar[str | None] = "own"
    visits_per_day: float = 64_000
    visits_per_person: float = 1.4
    logged_in: float = 0.45
    returning: float = 0.6
    in_app: float = 0.08
    ipv6: float = 0.2
    vpn: float = 0.04
    readers: float = 0.01
    """Share of visits that read reviews and profiles at length."""

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        at = starts(ctx, self.visits_per_day, EVENING)
        people = crowd(ctx, self.name, max(1, int(len(at) / self.visits_per_person)),
                       logged_in=self.logged_in, returning=self.returning, in_app=self.in_app,
                       ipv6=self.ipv6, vpn=self.vpn)
        reading = rng.random(len(at)) < self.readers
        pages = np.where(reading, np.minimum(rng.lognormal(np.log(60), 0.9, len(at)), 600),
                         rng.geometric(0.2, len(at))).astype(np.int64)
        v = visits(ctx, people, at, pages)
        return concat([browse(ctx, v.where(~reading), BROWSING),
                       browse(ctx, v.where(reading), READING)])
