"""The shopping-platform case: a harvester driving merchant accounts through review pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate import pools, site
from scrapeguard.simulate.browse import Plan, Visits, fetch
from scrapeguard.simulate.draws import HOUR_MS
from scrapeguard.simulate.frame import Frame
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.script import Script, plan, review_walk


def _targets(rng: np.random.Generator, n: int) -> list[int]:
    """Products with many reviews, most reviewed first: where the records are."""
    pids = np.unique(site.popular_products(rng, 20 * n + 100))
    pids = pids[site.review_pages(pids) >= 5]
    return [int(p) for p in rng.permutation(pids)]


@register
@dataclass(frozen=True)
class MerchantTool(Scenario):
    """A few merchant accounts, logged in with a browser's agent and cookies, pulling every
    review page of product after product and then each reviewer's profile, each reviewer
    once, paced a few seconds apart with jitter, all day long from the merchant's own
    address. Referers point at the list each profile was taken from; no assets load. The tool
    runs in the merchant's own browser (an extension calling `fetch()` with its cookies), so
    its client stack is that browser's; a desktop program on an HTTP library would be
    another scenario."""

    name: ClassVar[str] = "merchant_tool"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "fetch"
    accounts: int = 4
    pace_s: float = 4.5
    jitter: float = 0.35
    relogin_hours: float = 4.0

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        wanted = self.accounts * ctx.scale
        n = max(1, round(wanted))
        window = ctx.hours * HOUR_MS
        busy = window * min(1.0, wanted / n)  # below one account, one account works less
        per_account = max(1, int(busy / (self.pace_s * 1000)))
        targets = iter(_targets(rng, n * per_account // 200 + 10))
        scripts: list[Script] = []
        times: list[np.ndarray] = []
        visits: list[np.ndarray] = []
        owner: list[int] = []
        for account in range(n):
            script = _harvest(targets, per_account)
            at = rng.uniform(0, window - busy + 60_000) + np.cumsum(
                rng.lognormal(np.log(self.pace_s * 1000), self.jitter, per_account))
            relogin = (at // (self.relogin_hours * HOUR_MS)).astype(np.int64)
            visits.append(len(owner) + relogin)
            owner += [account] * int(relogin[-1] + 1)
            scripts.append(script)
            times.append(at)
        return tool_fetch(ctx, self.name, np.array(owner), plan(scripts, times, visits))


def tool_fetch(ctx: Context, name: str, owner: np.ndarray, planned: Plan) -> Frame:
    """A merchant tool's requests: each of its accounts logged in from its own residential
    address under a desktop browser's agent, no assets, the cookie from the first request;
    `owner` gives each visit's account, `planned` what the visits ask (`script.plan`)."""
    n = int(owner.max()) + 1
    ip = pools.ipv4(ctx.rng, pools.RESIDENTIAL, n)
    ua = pools.draw(ctx.rng, "desktop", n, head=12)
    accounts = ctx.accounts(n)
    sessions = Visits(
        start=np.zeros(len(owner), np.int64), pages=np.zeros(len(owner), np.int64),
        ip=[ip[o] for o in owner], ua=[ua[o] for o in owner],
        identity=[f"{name}:0"] * len(owner), account=[accounts[o] for o in owner],
        warm=np.ones(len(owner), bool), entry=np.full(len(owner), -1),
        strip_referer=np.zeros(len(owner), bool),
    )
    return fetch(ctx, sessions, planned, typed=0.0, assets=False, cookie_first=True)


def _harvest(targets: Iterator[int], n: int) -> Script:
    """`n` requests: every review page of product after product, and after each page its
    reviewers not yet taken."""
    pids = [next(targets) for _ in range(max(1, n // 400))]
    while len(walk := review_walk(np.array(pids, dtype=np.int64), n)) < n:
        pids += [next(targets) for _ in range(max(4, len(pids) // 4))]
    return walk
