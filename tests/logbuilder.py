"""Build small combined logs in tests: one call per request, times as offsets in seconds.

A log whose requests carry a header shape or a TLS fingerprint (`hdr`, `tls`) is written as
JSON lines of the event contract instead, as the middleware and the service see requests.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/122.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"
SAFARI = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.3 Mobile/15E148 Safari/604.1")
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@dataclass
class Log:
    """Requests collected out of order, written sorted by time as nginx combined lines."""

    rows: list[tuple[float, str]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    stacks: bool = False
    """Some request carried `hdr` or `tls`: written as JSON lines."""

    def hit(self, at: float, ip: str, path: str, *, status: int = 200, size: int = 2048,
            user: str = "-", referer: str = "-", ua: str = CHROME, method: str = "GET",
            hdr: str | None = None, tls: str | None = None) -> None:
        ts = START + timedelta(seconds=at)
        stamp = ts.strftime("%d/%b/%Y:%H:%M:%S +0000")
        self.rows.append((at, f'{ip} - {user} [{stamp}] "{method} {path} HTTP/1.1" {status} '
                              f'{size} "{referer}" "{ua}"'))
        self.events.append({"at": at, "ts": ts.isoformat(), "ip": ip, "method": method,
                            "path": path, "status": status, "bytes": size,
                            "ua": ua, "referer": None if referer == "-" else referer,
                            "account": None if user == "-" else user, "hdr": hdr, "tls": tls})
        self.stacks = self.stacks or hdr is not None or tls is not None

    def person(self, ip: str = "198.51.100.20", at: float = 0.0, seed: int = 1) -> None:
        """A person: pages with their assets and referers, a few profiles, human pauses."""
        rng = random.Random(seed)
        for page in ["/", "/product/17", "/user/4411", "/product/17/reviews",
                     "/user/4502", "/search?q=lamp", "/user/3980", "/"]:
            self.hit(at, ip, page, referer="https://shop.example/", size=rng.randint(4000, 9000))
            for asset in ["/static/app.js", "/static/site.css", "/img/p/17.jpg"]:
                at += rng.uniform(0.05, 0.4)
                self.hit(at, ip, asset, referer="https://shop.example" + page)
            at += rng.uniform(15, 90)

    def write(self, path: Path) -> Path:
        if self.stacks:
            events = sorted(self.events, key=lambda event: float(event["at"]))  # type: ignore[arg-type]
            path.write_text("".join(json.dumps({k: v for k, v in e.items() if k != "at"}) + "\n"
                                    for e in events), encoding="utf-8")
            return path
        self.rows.sort(key=lambda row: row[0])
        path.write_text("".join(text + "\n" for _, text in self.rows), encoding="utf-8")
        return path
