"""Uptime monitors: the home page every minute from the monitor's probe addresses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pyarrow as pa

from scrapeguard.simulate.draws import HOUR_MS
from scrapeguard.simulate.frame import Frame, concat
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind

MONITORS = (
    ("uptimerobot", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
     "HEAD", ("216.144.250.150", "69.162.124.235", "63.143.42.250", "208.115.199.20")),
    ("pingdom", "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", "GET",
     ("5.172.196.188", "185.180.12.65", "178.255.152.2")),
)


@register
@dataclass(frozen=True)
class Uptime(Scenario):
    """UptimeRobot (HEAD) and Pingdom (GET) checking `/` once a minute, each probe from one
    of the service's addresses in turn; they never read robots.txt and never stop."""

    name: ClassVar[str] = "uptime"
    label: ClassVar[Label] = "goodbot"
    client: ClassVar[str | None] = "own"
    interval_s: float = 60.0

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        frames = []
        for name, ua, method, ips in MONITORS:
            ts = np.arange(int(rng.integers(0, 60_000)), int(ctx.hours * HOUR_MS),
                           int(self.interval_s * 1000), dtype=np.int64)
            ts = ts + rng.integers(0, 900, len(ts))
            kind = np.full(len(ts), Kind.HOME)
            methods = pa.array([method] * len(ts))
            answer = ctx.render(kind, np.zeros(len(ts), np.int64), ts=ts, method=methods)
            ip = pa.array(ips).take(pa.array(np.arange(len(ts)) % len(ips)))
            frames.append(Frame.of(ts, answer, ip=ip, ua=ua, identity=f"{self.name}:{name}"))
        return concat(frames)
