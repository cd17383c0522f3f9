"""The merchant-tool crawl paced for months: every day under the site's busy merchants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate.draws import DAY_MS, WORKDAY, times
from scrapeguard.simulate.frame import Frame
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.scenarios.merchant_tool import _harvest, _targets, tool_fetch
from scrapeguard.simulate.script import Script, plan


@register
@dataclass(frozen=True)
class PacedCrawl(Scenario):
    """The reference incident's shape over its real length: a merchant tool that harvested
    1.18 billion records over about eight months by never reading more in a day, per
    merchant account it drives, than a busy merchant does. Each account reads `daily_pages`
    pages a day — review pages of product after product and then each reviewer's profile,
    each reviewer once — which keeps its profile views and the people it receives at or
    below the 90th percentile of the `merchants` scenario's account-days (measured by
    `tests/test_simulate_days.py`). It works in office hours from the merchant's own home
    address with a browser's agent and cookies, a new session each day, referers to the
    list each profile came from, no assets; and it works every day of the week, weekends
    too. Like `merchant_tool` it runs in the merchant's browser (`fetch()` in an
    extension). It is not in the day's catalogue (`default`): a day of it is a merchant's
    day."""

    name: ClassVar[str] = "paced_crawl"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "fetch"
    default: ClassVar[bool] = False
    accounts: int = 20
    """Merchant accounts the tool drives (times the scale, at least one)."""
    daily_pages: int = 220
    """Pages each account reads a day: ~11 review pages and ~210 reviewers' profiles."""
    jitter_pages: float = 0.1
    """Day-to-day spread of that budget (a fraction of it, never above it)."""

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        n = max(1, round(self.accounts * ctx.scale))
        days = int(np.ceil(ctx.hours / 24))
        budget = (self.daily_pages * (1 - self.jitter_pages * rng.random((n, days)))).astype(int)
        targets = iter(_targets(rng, int(budget.sum()) // 200 + 10 * n))
        scripts: list[Script] = []
        stamps: list[np.ndarray] = []
        visits: list[np.ndarray] = []
        for account in range(n):
            script = _harvest(targets, int(budget[account].sum()))
            day = np.repeat(np.arange(days), budget[account])
            at = np.concatenate([d * DAY_MS + np.sort(times(rng, int(k), 24, WORKDAY))
                                 for d, k in enumerate(budget[account])])
            visits.append(account * days + day)  # a new login, a new session each day
            scripts.append(script)
            stamps.append(at)
        return tool_fetch(ctx, self.name, np.repeat(np.arange(n), days),
                          plan(scripts, stamps, visits))
