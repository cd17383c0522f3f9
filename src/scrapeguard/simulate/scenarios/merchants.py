"""Merchants at work: heavy, legitimate readers of many buyers' profiles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate.browse import Walk, browse
from scrapeguard.simulate.draws import WORKWEEK
from scrapeguard.simulate.frame import Frame
from scrapeguard.simulate.people import crowd, starts, visits
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind

BACK_OFFICE = Walk(
    mix=((Kind.ORDERS, 42), (Kind.PROFILE, 48), (Kind.PRODUCT, 4), (Kind.REVIEWS, 3),
         (Kind.HOME, 2), (Kind.HELP, 1)),
    entry=((Kind.ORDERS, 70), (Kind.HOME, 30)),
    think_median=9.0, think_sigma=0.9, follow_related=0.0, typed=0.02, stale=0.0,
)
"""Order list, a buyer's profile, back to the list (reloaded: it is never cached), the next."""


@register
@dataclass(frozen=True)
class Merchants(Scenario):
    """Shop owners and their staff, logged in during office hours, opening buyers' profiles
    from their order lists: hundreds a day each, the same buyers again and again, from an
    office or home address on a desktop browser."""

    name: ClassVar[str] = "merchants"
    label: ClassVar[Label] = "human"
    client: ClassVar[str | None] = "own"
    merchants: int = 180
    visits_per_merchant: float = 5.0
    pages_per_visit: float = 45.0

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        n = max(1, round(self.merchants * ctx.scale))
        accounts = ctx.accounts(n)  # the shop's own account: the merchant is that person
        shop = np.array([int(a[2:]) for a in accounts], dtype=np.int64)
        people = crowd(ctx, self.name, n, logged_in=1.0, returning=1.0, in_app=0.0, ipv6=0.1,
                       vpn=0.05, strip_referer=0.02, agents="desktop", accounts=accounts)
        at = starts(ctx, self.merchants * self.visits_per_merchant, WORKWEEK)
        pages = np.minimum(rng.lognormal(np.log(self.pages_per_visit), 0.7, len(at)), 400)
        v = visits(ctx, people, at, pages.astype(np.int64) + 1, roam=0.1, merchant=shop,
                   person=rng.integers(0, n, len(at)))
        return browse(ctx, v, BACK_OFFICE)
