"""A residential-proxy fleet running one HTTP library behind rotating browser user agents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate import pools, site
from scrapeguard.simulate.draws import DAY_MS, EVENING, segments, times
from scrapeguard.simulate.frame import Frame, spread
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind


@register
@dataclass(frozen=True)
class StackFleet(Scenario):
    """Residential proxy networks sell exits on thousands of home connections; the operator
    behind them runs one scraper, python-requests, and puts a common browser's user agent on
    each exit to pass as a person. Each exit fetches a handful of random profiles a day — no
    address ever looks busy, no cookie, no referer, no assets — but every request carries the
    same client stack: requests' headers in requests' order (no `Accept-Language`, no client
    hints under Chrome's name) over requests' TLS, which the live middleware or the TLS
    terminator sees (`hdr`, `tls`; docs/features.md; `stacks.python_requests`, from the
    capture of python-requests). Not in the day's catalogue
    (`default`)."""

    name: ClassVar[str] = "stack_fleet"
    label: ClassVar[Label] = "scraper"
    client: ClassVar[str | None] = "python-requests"
    default: ClassVar[bool] = False
    addresses: int = 3_000
    """Exits used in a day; each day's are new (the proxy network rotates them)."""
    per_day: tuple[int, int] = (2, 6)
    """Profiles one exit fetches in its day (inclusive)."""

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        days = int(np.ceil(ctx.hours / 24))
        exits = max(1, round(self.addresses * ctx.scale)) * days
        counts = rng.integers(self.per_day[0], self.per_day[1] + 1, exits)
        exit_of, _ = segments(counts)
        day = exit_of % days
        ts = day * DAY_MS + times(rng, len(exit_of), 24, EVENING) % DAY_MS
        ids = rng.integers(1, site.PEOPLE + 1, len(exit_of))
        ip = pools.distinct(rng, lambda r, k: pools.ipv4(r, pools.RESIDENTIAL, k), exits)
        agents = pools.draw(rng, "browser", exits, head=40)
        return Frame.of(
            ts, ctx.render(np.full(len(exit_of), Kind.PROFILE), ids, ts=ts),
            ip=spread(ip, exit_of), ua=spread(agents, exit_of), identity=f"{self.name}:0",
        )
