"""Bought accounts: each under its daily quota, all rotating over rented addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate import pools, site
from scrapeguard.simulate.draws import DAY_MS, segments
from scrapeguard.simulate.frame import Frame, spread
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind


@register
@dataclass(frozen=True)
class BoughtAccounts(Scenario):
    """Accounts bought from their owners, driven through the app's JSON API by one operator:
    each stays below the platform's per-account daily quota of profile views, and every
    request leaves from another address of a pool of cloud servers. The app agent and device
    id of each account stay the same, as the operator's emulator keeps them: the app itself
    runs in the emulator, so its requests carry the app's own HTTP stack."""

    name: ClassVar[str] = "bought_accounts"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "own"
    accounts: int = 60
    quota: int = 200
    """The platform's per-account limit of profile views a day; each stays 5-25 % under."""
    addresses: int = 400

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        n = max(1, round(self.accounts * ctx.scale))
        days = int(np.ceil(ctx.hours / 24))
        per_day = (self.quota * rng.uniform(0.75, 0.95, (n, days))).astype(np.int64)
        cell, _ = segments(per_day.ravel())
        account, day = cell // days, cell % days
        ts = day * DAY_MS + rng.integers(0, DAY_MS, len(cell))
        ids = rng.integers(1, site.PEOPLE + 1, len(cell))
        pool = pools.ipv4(rng, pools.DATACENTER, max(1, round(self.addresses * ctx.scale)))
        names = ctx.accounts(n)
        return Frame.of(
            ts, ctx.render(np.full(len(cell), Kind.API_USER), ids, ts=ts),
            ip=spread(pool, rng.integers(0, len(pool), len(cell))),
            ua=spread(pools.draw(rng, "app", n, head=10), account),
            account=spread(names, account), session=spread(pools.hex_ids(rng, n), account),
            identity=f"{self.name}:0",
        )
