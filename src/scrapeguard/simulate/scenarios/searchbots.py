"""Search engines' crawlers from their published ranges: robots.txt first, then public pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from scrapeguard.simulate import site
from scrapeguard.simulate.draws import HOUR_MS, I64
from scrapeguard.simulate.frame import Frame, concat
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_MOBILE = ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
                    "(KHTML, like Gecko) Chrome/122.0.6261.94 Mobile Safari/537.36 (compatible; "
                    "Googlebot/2.1; +http://www.google.com/bot.html)")
GOOGLEBOT_IMAGE = "Googlebot-Image/1.0"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
BINGBOT_NEW = ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
               "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36")


@dataclass(frozen=True)
class Engine:
    name: str
    networks: tuple[str, ...]
    """/24s (as three octets) inside the engine's published ranges."""
    agents: tuple[str, ...]
    image_agent: str | None
    per_second: float


ENGINES = (
    Engine("googlebot", ("66.249.66", "66.249.68", "66.249.70", "66.249.72", "66.249.79"),
           (GOOGLEBOT_MOBILE, GOOGLEBOT_MOBILE, GOOGLEBOT), GOOGLEBOT_IMAGE, 0.8),
    Engine("bingbot", ("157.55.39", "207.46.13", "40.77.167"), (BINGBOT_NEW, BINGBOT), None, 0.3),
)

CRAWL = ((Kind.PRODUCT, 42), (Kind.REVIEWS, 26), (Kind.PROFILE, 20), (Kind.HOME, 2),
         (Kind.HELP, 3), (Kind.IMAGE, 7))
"""What robots.txt allows (no /search, /cart, /api/, /seller/); profiles are public pages."""


@register
@dataclass(frozen=True)
class SearchBots(Scenario):
    """Googlebot and Bingbot with their real user agents from addresses in their published
    ranges: robots.txt when they start and every few hours, then a steady crawl of products,
    review pages and public profiles, old URLs that 404 included; no cookies, no referers,
    now and then the page's scripts for rendering."""

    name: ClassVar[str] = "searchbots"
    label: ClassVar[Label] = "goodbot"
    client: ClassVar[str | None] = "own"
    robots_every_hours: float = 4.0

    def generate(self, ctx: Context) -> Frame:
        return concat([self._engine(ctx, e) for e in ENGINES])

    def _engine(self, ctx: Context, engine: Engine) -> Frame:
        rng = ctx.rng
        window = int(ctx.hours * HOUR_MS)
        n = ctx.count(engine.per_second * 86_400)
        ts = np.sort(rng.integers(0, window, n))
        kinds = np.array([k for k, _ in CRAWL])
        weights = np.array([w for _, w in CRAWL], dtype=np.float64)
        kind = kinds[rng.choice(len(kinds), n, p=weights / weights.sum())]
        a = np.where(kind == Kind.PROFILE, rng.integers(1, site.PEOPLE + 1, n),
                     rng.integers(1, site.PRODUCTS + 1, n))
        a = np.where(kind == Kind.HELP, rng.integers(0, 8, n), a)
        b = np.where(kind == Kind.REVIEWS, rng.geometric(0.3, n), 1)
        b = np.minimum(b, np.maximum(site.review_pages(a), 1))
        robots = self._robots(rng, window)
        render = (kind == Kind.PRODUCT) & (rng.random(n) < 0.08)  # fetch scripts to render
        assets = np.nonzero(render)[0]
        kind = np.concatenate([kind, np.full(len(robots), Kind.ROBOTS),
                               np.full(2 * len(assets), Kind.STATIC)])
        a = np.concatenate([a, np.zeros(len(robots), np.int64), np.tile([0, 2], len(assets))])
        b = np.concatenate([b, np.ones(len(robots) + 2 * len(assets), np.int64)])
        ts = np.concatenate([ts, robots, np.repeat(ts[assets], 2) + rng.integers(200, 3_000,
                                                                                 2 * len(assets))])
        nets = rng.choice(len(engine.networks), len(ts))
        ip = [f"{engine.networks[i]}.{h}" for i, h in zip(nets, rng.integers(1, 255, len(ts)),
                                                           strict=True)]
        ua = np.array(engine.agents)[rng.integers(0, len(engine.agents), len(ts))].astype(object)
        if engine.image_agent:
            ua[kind == Kind.IMAGE] = engine.image_agent
        return Frame.of(ts, ctx.render(kind, a, b, ts=ts), ip=pa.array(ip), ua=pa.array(ua),
                        identity=f"{self.name}:{engine.name}")

    def _robots(self, rng: np.random.Generator, window: int) -> I64:
        every = int(self.robots_every_hours * HOUR_MS)
        first = int(rng.integers(0, min(window, 300_000)))
        return np.arange(first, window, every, dtype=np.int64)
