"""A fast sequential enumerator of `/user/{id}` from a rented server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate import pools, site
from scrapeguard.simulate.draws import HOUR_MS
from scrapeguard.simulate.frame import Frame
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind


@register
@dataclass(frozen=True)
class Enumerator(Scenario):
    """One script on one cloud address walking profile ids upward one by one at a few
    requests a second: no cookies, no referer, no assets, a common browser agent borrowed
    from the people's pool. The script is python-requests: its headers and TLS under that
    agent (`stacks.python_requests`). Deleted ids answer 404 as they do for anyone."""

    name: ClassVar[str] = "enumerator"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "python-requests"
    per_second: float = 5.0
    run_hours: float = 2.5
    """How long it runs (times the run's scale), starting at a random point of the window."""

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        window = ctx.hours * HOUR_MS
        length = min(self.run_hours * ctx.scale * HOUR_MS, window)
        begin = rng.uniform(0, window - length)
        n = int(length / 1000 * self.per_second)
        gaps = rng.gamma(8.0, 1000 / self.per_second / 8.0, n)  # steady, slightly jittered
        ts = (begin + np.cumsum(gaps)).astype(np.int64)
        first = int(rng.integers(1, site.PEOPLE // 2))
        ids = first + np.arange(n, dtype=np.int64)
        kind = np.full(n, Kind.PROFILE)
        return Frame.of(ts, ctx.render(kind, ids, ts=ts),
                        ip=pools.ipv4(rng, pools.DATACENTER, 1)[0],
                        ua=pools.draw(rng, "desktop", 1, head=8)[0],
                        identity=f"{self.name}:0")
