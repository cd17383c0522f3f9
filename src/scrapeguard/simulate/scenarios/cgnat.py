"""Phones on carrier-grade NAT: thousands of people sharing a few addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate.browse import browse
from scrapeguard.simulate.draws import EVENING
from scrapeguard.simulate.frame import Frame
from scrapeguard.simulate.people import crowd, starts, visits
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.scenarios.shoppers import BROWSING


@register
@dataclass(frozen=True)
class Cgnat(Scenario):
    """Mobile-web shoppers on a carrier that puts its subscribers behind a few shared
    addresses in 100.64.0.0/10; each new connection may leave from another of them."""

    name: ClassVar[str] = "cgnat"
    label: ClassVar[Label] = "human"
    client: ClassVar[str | None] = "own"
    visits_per_day: float = 6_000
    addresses: int = 24

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        ips = [f"100.{64 + int(rng.integers(0, 64))}.{int(rng.integers(0, 256))}."
               f"{int(rng.integers(1, 255))}" for _ in range(self.addresses)]
        at = starts(ctx, self.visits_per_day, EVENING)
        people = crowd(ctx, self.name, max(1, int(len(at) / 1.5)), logged_in=0.4, in_app=0.2,
                       ips=ips, agents="mobile")
        pages = rng.geometric(0.2, len(at)).astype(np.int64)
        return browse(ctx, visits(ctx, people, at, pages, roam=0.5), BROWSING)
