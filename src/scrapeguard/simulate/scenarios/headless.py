"""Headless browsers walking from profile to profile, assets and all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate import pools, site
from scrapeguard.simulate.browse import Visits, fetch
from scrapeguard.simulate.draws import HOUR_MS, I64
from scrapeguard.simulate.frame import Frame
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.script import Script, plan
from scrapeguard.simulate.site import Kind

HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/122.0.6261.94 Safari/537.36")


def _walk(rng: np.random.Generator, n: int) -> Script:
    """`n` profiles, each linked from the one before (a related profile not yet seen), with a
    fresh start from a popular profile when the neighbourhood is used up."""
    script, seen = Script(), set()
    current, row = int(site.popular_people(rng, 1)[0]), -1
    while len(script) < n:
        seen.add(current)
        row = script.view(Kind.PROFILE, current, 1, row)
        links = [site.related_one(current, int(slot)) for slot in rng.permutation(6)]
        fresh = [x for x in links if x not in seen]
        if fresh:
            current = fresh[0]
        else:
            current, row = int(site.popular_people(rng, 1)[0]), -1
    return script


@register
@dataclass(frozen=True)
class Headless(Scenario):
    """Puppeteer-style browsers rendering profile after profile through related-profile
    links: they load bundles and pictures like any browser, keep cookies, send referers, and
    wait a few seconds per page. One says HeadlessChrome; the stealthy ones send a common
    Chrome agent, and one of those hops over residential proxies with a fresh browser
    context (cold cache, new cookie) every `rotate_pages` pages. They are real browsers
    (Puppeteer and Playwright drive Chromium, Firefox or WebKit), so each request carries the
    stack of the browser its agent names, client hints set from that agent."""

    name: ClassVar[str] = "headless"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "own"
    instances: int = 3
    run_hours: float = 6.0
    """How long each instance runs (times the run's scale)."""
    wait_s: tuple[float, float] = (2.0, 6.0)
    rotate_pages: int = 60

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        window = ctx.hours * HOUR_MS
        length = min(self.run_hours * ctx.scale * HOUR_MS, window)
        scripts: list[Script] = []
        times: list[np.ndarray] = []
        visits: list[np.ndarray] = []
        ip: list[str] = []
        ua: list[str] = []
        for i in range(self.instances):
            n = int(length / (1000 * sum(self.wait_s) / 2))
            at = rng.uniform(0, window - length) + np.cumsum(rng.uniform(*self.wait_s, n) * 1000)
            rotating = i == self.instances - 1 and self.instances > 1
            legs: I64 = (np.arange(n) // self.rotate_pages if rotating
                         else np.zeros(n, dtype=np.int64))
            first = len(ip)
            count = int(legs[-1]) + 1 if n else 0
            visits.append(first + legs)
            if rotating:
                ip += pools.ipv4(rng, pools.RESIDENTIAL, count)
            else:
                ip += pools.ipv4(rng, pools.DATACENTER, 1) * count
            agent = HEADLESS if i == 0 else pools.draw(rng, "desktop", 1, head=8)[0]
            ua += [agent] * count
            scripts.append(_walk(rng, n))
            times.append(at)
        k = len(ip)
        sessions = Visits(
            start=np.zeros(k, np.int64), pages=np.zeros(k, np.int64), ip=ip, ua=ua,
            identity=[f"{self.name}:0"] * k, account=[None] * k, warm=np.zeros(k, bool),
            entry=np.full(k, -1), strip_referer=np.zeros(k, bool),
        )
        return fetch(ctx, sessions, plan(scripts, times, visits), typed=0.0)
