"""A Scrapy item crawler: robots.txt, then products, their review pages, their reviewers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate import pools, site
from scrapeguard.simulate.browse import Visits, fetch
from scrapeguard.simulate.draws import HOUR_MS
from scrapeguard.simulate.frame import Frame
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.script import Script, plan, review_walk
from scrapeguard.simulate.site import Kind

SCRAPY = "Scrapy/2.11.2 (+https://scrapy.org)"


def _crawl(rng: np.random.Generator, n: int, max_pages: int) -> Script:
    """Item pages as a spider yields them: robots.txt, then product after product, up to
    `max_pages` of its reviews (the next-page link), and every reviewer's profile from each
    page (the duplicate filter drops people seen before)."""
    script = Script()
    script.view(Kind.ROBOTS)
    pids = rng.permutation(site.PRODUCTS).astype(np.int64) + 1
    take = n // 8 + 16
    while len(walk := review_walk(pids[:take], n - 1, max_pages=max_pages,
                                  product_first=True)) < n - 1 and take < len(pids):
        take *= 2
    script.kind += walk.kind
    script.a += walk.a
    script.b += walk.b
    script.source += [s + 1 if s >= 0 else -1 for s in walk.source]
    return script


@register
@dataclass(frozen=True)
class ScrapyCrawler(Scenario):
    """Scrapy with its default settings on a cloud server: it obeys robots.txt (fetched
    first, without a cookie yet), keeps cookies, sets referers to the page a link was on,
    and runs many requests at once, so gaps are short and irregular. It declares itself."""

    name: ClassVar[str] = "scrapy_crawler"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "scrapy"
    per_second: float = 8.0
    run_hours: float = 1.5
    """How long the crawl runs (times the run's scale)."""
    max_review_pages: int = 5

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        window = ctx.hours * HOUR_MS
        length = min(self.run_hours * ctx.scale * HOUR_MS, window)
        n = max(2, int(length / 1000 * self.per_second))
        at = rng.uniform(0, window - length) + np.cumsum(rng.exponential(1000 / self.per_second, n))
        session = Visits(
            start=np.zeros(1, np.int64), pages=np.zeros(1, np.int64),
            ip=pools.ipv4(rng, pools.DATACENTER, 1), ua=[SCRAPY], identity=[f"{self.name}:0"],
            account=[None], warm=np.zeros(1, bool), entry=np.full(1, -1),
            strip_referer=np.zeros(1, bool),
        )
        script = _crawl(rng, n, self.max_review_pages)
        return fetch(ctx, session, plan([script], [at[: len(script)]],
                                        [np.zeros(len(script), np.int64)]), typed=0.0, assets=False)
