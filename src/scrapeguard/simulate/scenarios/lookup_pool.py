"""A pool of accounts on the contact lookup, each under its daily quota, day after day."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate import pools
from scrapeguard.simulate.draws import DAY_MS, EVENING, segments, times
from scrapeguard.simulate.frame import Frame, spread
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.scenarios.mobile_app import phone_numbers
from scrapeguard.simulate.site import Kind


@register
@dataclass(frozen=True)
class LookupPool(Scenario):
    """The contact-importer case as account farms run it once per-address limits bite: a
    pool of accounts, each pinned to its own residential proxy address (a sticky session,
    so no account ever changes network) and its own emulated app install (app agent,
    device id; the app runs in an emulator, on its own HTTP stack), matching a list of
    phone numbers — a leaked list, so most numbers belong to someone — through the lookup
    endpoint. Each account stays `margin` under the platform's daily per-account lookup
    quota every day, at the hours app users are awake, and calls nothing but the lookup.
    Not in the day's catalogue (`default`)."""

    name: ClassVar[str] = "lookup_pool"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "own"
    default: ClassVar[bool] = False
    accounts: int = 200
    quota: int = 100
    """The platform's per-account limit of lookups a day."""
    margin: tuple[float, float] = (0.6, 0.95)
    """Each account-day's share of the quota used."""
    hit_rate: float = 0.85

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        n = max(1, round(self.accounts * ctx.scale))
        days = int(np.ceil(ctx.hours / 24))
        per_day = (self.quota * rng.uniform(*self.margin, (n, days))).astype(np.int64)
        cell, _ = segments(per_day.ravel())
        account, day = cell // days, cell % days
        ts = day * DAY_MS + times(rng, len(cell), 24, EVENING) % DAY_MS
        numbers = phone_numbers(rng, len(cell), self.hit_rate)
        ip = pools.distinct(rng, lambda r, k: pools.ipv4(r, pools.RESIDENTIAL, k), n)
        return Frame.of(
            ts, ctx.render(np.full(len(cell), Kind.LOOKUP), numbers, ts=ts),
            ip=spread(ip, account), ua=spread(pools.draw(rng, "app", n, head=10), account),
            account=spread(ctx.accounts(n), account),
            session=spread(pools.hex_ids(rng, n), account), identity=f"{self.name}:0",
        )
