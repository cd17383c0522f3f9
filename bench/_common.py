"""Shared by the benchmarks: a deterministic synthetic nginx log, and commands measured one by one.

The log is one day of a shop that serves personal data (profiles, user API, product reviews),
in nginx's combined format, with known harvesters mixed in. The same seed, line count and
engine (numpy when installed, else the standard library) give the same bytes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from random import Random
from typing import Any

GENERATOR_VERSION = 1
SITE = "https://shop.example.com"
DAY_START = datetime(2024, 3, 11, tzinfo=UTC)
USER_MAX = 1_200_000
"""`/user/{id}` exists for ids 1..USER_MAX except every 23rd (deleted accounts): misses are 404s."""
PRODUCT_MAX = 40_000
N_CLIENTS = 200_000
CHUNK_SECONDS = 600
NEW_RUN = 330
"""Out of 1024: the chance a line starts a new visit (a client and its page) rather than
continuing the last one (assets and API calls of the page just shown)."""
HOUR_WEIGHTS = (2.0, 1.4, 1.0, 0.8, 0.7, 0.8, 1.2, 2.0, 3.0, 3.8, 4.2, 4.5,
                4.8, 4.6, 4.5, 4.6, 4.8, 5.0, 5.4, 5.8, 6.0, 5.5, 4.2, 3.0)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

COMBINED_RE = re.compile(
    rb'^(?P<ip>[0-9a-fA-F.:]+) - (?P<user>-|[^ ]+) '
    rb'\[(?P<ts>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] '
    rb'"(?P<method>[A-Z]+) (?P<path>[^ "]+) (?P<proto>HTTP/\d\.\d)" '
    rb'(?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>[^"]*)" "(?P<ua>[^"]*)"$'
)
"""nginx's `combined` log format, strict: one request per line, nothing after the user agent."""

BROWSER, CRAWLER, TOOL = 0, 1, 2
SHARES = {BROWSER: 0.935, CRAWLER: 0.04, TOOL: 0.025}
"""Each client class's share of visits."""
ASSETS = (("/static/app.3f2a.js", 184_311), ("/static/vendor.9c1e.js", 402_877),
          ("/static/main.77ab.css", 61_204), ("/fonts/inter.woff2", 48_256),
          ("/favicon.ico", 15_086), ("/static/logo.svg", 3_912))
JUNK = ("/wp-login.php", "/.env", "/admin/", "/xmlrpc.php", "/.git/config", "/phpmyadmin/")
PAGES = ("/", "/about", "/help/shipping", "/help/returns", "/cart", "/login", "/sitemap.xml")
CATEGORIES = ("shoes", "bags", "garden", "kitchen", "toys", "books", "phones", "sports")
WORDS = ("red+shoes", "garden+chair", "usb-c", "kids", "gift", "coffee", "lamp", "phone+case")


# ---------------------------------------------------------------- pools


def _weighted_table(weights: dict[str, float]) -> list[str]:
    """1024 slots filled in proportion to the weights, for a draw of 10 random bits."""
    total = sum(weights.values())
    table: list[str] = []
    for name, w in weights.items():
        table += [name] * round(1024 * w / total)
    return (table + [table[-1]] * 1024)[:1024]


def _public_v4(rng: Random) -> tuple[int, int, int]:
    """A /24 outside private, reserved, documentation and the crawler ranges used below."""
    while True:
        a, b, c = rng.randint(1, 223), rng.randrange(256), rng.randrange(256)
        private = a in (10, 100, 127, 169) or (a == 172 and 16 <= b < 32) or (a, b) == (192, 168)
        special = a in (192, 198, 203) and b in (0, 18, 19, 51, 88)  # reserved, documentation
        crawlers = a in (40, 66, 157, 207)  # the ranges the good crawlers come from
        if not (private or special or crawlers):
            return a, b, c


def _browser_uas(rng: Random, count: int) -> list[str]:
    android = ("SM-G991B", "SM-A515F", "SM-S918B", "Pixel 7", "Pixel 8 Pro", "M2101K6G",
               "CPH2451", "moto g(60)", "SM-A536B", "2201117TG", "RMX3630", "V2111", "K")
    uas: set[str] = set()
    while len(uas) < count:
        major = rng.randint(116, 124)
        full = f"{major}.0.{rng.randint(5800, 6400)}.{rng.randint(0, 210)}"
        chrome = full if rng.random() < 0.5 else f"{major}.0.0.0"
        kind = rng.random()
        if kind < 0.30:
            ua = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
                  f" Chrome/{chrome} Safari/537.36")
            if rng.random() < 0.25:
                ua += f" Edg/{major}.0.{rng.randint(2000, 2500)}.{rng.randint(0, 99)}"
        elif kind < 0.42:
            ua = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"
                  f" (KHTML, like Gecko) Chrome/{chrome} Safari/537.36")
        elif kind < 0.66:
            ua = (f"Mozilla/5.0 (Linux; Android {rng.randint(10, 14)}; {rng.choice(android)})"
                  f" AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{chrome} Mobile Safari/537.36")
        elif kind < 0.86:
            ios = f"{rng.randint(15, 17)}_{rng.randint(0, 7)}"
            device = "iPhone; CPU iPhone OS" if rng.random() < 0.85 else "iPad; CPU OS"
            version = ios.replace("_", ".")
            ua = (f"Mozilla/5.0 ({device} {ios} like Mac OS X) AppleWebKit/605.1.15"
                  f" (KHTML, like Gecko) Version/{version} Mobile/15E148 Safari/604.1")
        else:
            rv = rng.randint(115, 125)
            system = rng.choice(("Windows NT 10.0; Win64; x64", "X11; Linux x86_64",
                                 "X11; Ubuntu; Linux x86_64", "Macintosh; Intel Mac OS X 10.15"))
            ua = f"Mozilla/5.0 ({system}; rv:{rv}.0) Gecko/20100101 Firefox/{rv}.0"
        uas.add(ua)
    return sorted(uas)


GOOGLEBOT = ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
             "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36"
             " (KHTML, like Gecko) Chrome/124.0.6367.91 Mobile Safari/537.36"
             " (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
OTHER_CRAWLERS = (
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko)"
    " Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
)
TOOLS = ("curl/7.88.1", "curl/8.5.0", "python-requests/2.31.0", "python-requests/2.28.2",
         "Scrapy/2.11.2 (+https://scrapy.org)", "Go-http-client/1.1", "Wget/1.21.3",
         "okhttp/4.12.0", "python-httpx/0.27.0", "Java/17.0.9",
         "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
         " HeadlessChrome/124.0.0.0 Safari/537.36")


@dataclass
class Client:
    cls: int
    ip: str
    ua: str
    account: str
    proto: str

    @property
    def head(self) -> str:
        return f"{self.ip} - {self.account} ["

    @property
    def tail(self) -> str:
        return f'"{self.ua}"\n'


def _clients(rng: Random, uas: list[str]) -> tuple[list[Client], list[float]]:
    """The client population and each client's share of visits (heavy-tailed)."""
    nets = [_public_v4(rng) for _ in range(60_000)]
    net_w = list(accumulate(1 / (i + 5) ** 0.8 for i in range(len(nets))))
    v6_nets = [f"2001:db8:{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}"
               for _ in range(4000)]
    uas = rng.sample(uas, len(uas))  # popularity independent of spelling
    ua_w = list(accumulate(1 / (i + 3) for i in range(len(uas))))
    seen: set[str] = set()
    clients: list[Client] = []
    weights: list[float] = []

    def add(cls: int, ip: str, ua: str, account: str, proto: str, weight: float) -> None:
        if ip not in seen:
            seen.add(ip)
            clients.append(Client(cls, ip, ua, account, proto))
            weights.append(weight)

    while len(clients) < 120:
        ip = f"66.249.{rng.randint(64, 95)}.{rng.randint(1, 254)}"
        add(CRAWLER, ip, rng.choice(GOOGLEBOT), "-", "HTTP/1.1", 60.0)
    for _ in range(60):
        net = rng.choice(("157.55.39", "40.77.167", "207.46.13"))
        add(CRAWLER, f"{net}.{rng.randint(1, 254)}", BINGBOT, "-", "HTTP/1.1", 40.0)
    for _ in range(100):
        a, b, c = rng.choice(nets[30_000:])
        add(CRAWLER, f"{a}.{b}.{c}.{rng.randint(1, 254)}", rng.choice(OTHER_CRAWLERS), "-",
            "HTTP/1.1", 20.0)
    for _ in range(6000):
        a, b, c = rng.choice(nets[40_000:])
        key = f"key_{rng.randrange(1 << 32):08x}" if rng.random() < 0.3 else "-"
        add(TOOL, f"{a}.{b}.{c}.{rng.randint(1, 254)}", rng.choice(TOOLS), key, "HTTP/1.1", 1.5)
    while len(clients) < N_CLIENTS:
        if rng.random() < 0.05:
            ip = f"{rng.choice(v6_nets)}:{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}:" \
                 f"{rng.randrange(1 << 16):x}:{rng.randrange(1 << 16):x}"
        else:
            a, b, c = rng.choices(nets, cum_weights=net_w)[0]
            ip = f"{a}.{b}.{c}.{rng.randint(1, 254)}"
        ua = rng.choices(uas, cum_weights=ua_w)[0]
        account = f"u_{rng.randint(1, USER_MAX)}" if rng.random() < 0.08 else "-"
        proto = "HTTP/2.0" if rng.random() < 0.7 else "HTTP/1.1"
        add(BROWSER, ip, ua, account, proto, 1 / (len(clients) + 30) ** 0.75)
    for cls, share in SHARES.items():
        total = sum(w for c, w in zip(clients, weights, strict=True) if c.cls == cls)
        weights = [w * share / total if c.cls == cls else w
                   for c, w in zip(clients, weights, strict=True)]
    order = list(range(len(clients)))
    rng.shuffle(order)
    return [clients[i] for i in order], [weights[i] for i in order]


# ---------------------------------------------------------------- routes


def user_exists(uid: int) -> bool:
    return 1 <= uid <= USER_MAX and uid % 23 != 0


def user_page(uid: int, jitter: int) -> tuple[int, int]:
    return (200, 18_000 + uid % 9_000 + jitter) if user_exists(uid) else (404, 5_214)


def user_api(uid: int, jitter: int) -> tuple[int, int]:
    return (200, 620 + uid % 700 + jitter) if user_exists(uid) else (404, 58)


Request = tuple[str, str, int, int, bool]
"""method, path, status, bytes, whether it is a page (the referer of what follows)."""


def _request(kind: str, r: int) -> Request:
    """One request of a kind; `r` carries the random bits (bits 20.. are still unused)."""
    x = (r >> 20) & 0x3FFFFF
    aux = (r >> 42) & 0x3FF
    jitter = aux * 7
    if kind == "asset":
        path, size = ASSETS[aux % len(ASSETS)]
        return ("GET", path, 304, 0, False) if aux < 300 else ("GET", path, 200, size, False)
    if kind == "image":
        pid = 1 + (x * x * PRODUCT_MAX >> 44)
        return "GET", f"/img/p/{pid}.jpg", 200, 20_000 + jitter * 9, False
    if kind in ("user", "api_user"):
        uid = 1 + (x * x * USER_MAX >> 44)
        if kind == "user":
            status, size = user_page(uid, jitter)
            return "GET", f"/user/{uid}", status, size, True
        status, size = user_api(uid, aux)
        return "GET", f"/api/users/{uid}", status, size, False
    if kind == "product":
        pid = 1 + (x * x * PRODUCT_MAX >> 44)
        return "GET", f"/product/{pid}", 200, 31_000 + jitter, True
    if kind == "reviews":
        pid = 1 + (x * x * PRODUCT_MAX >> 44)
        page = 1 + (aux & 3) + (aux >> 8) * (aux & 7)
        status, size = (200, 9_000 + jitter * 3) if page <= 12 else (404, 5_214)
        return "GET", f"/product/{pid}/reviews?page={page}", status, size, True
    if kind == "category":
        path = f"/category/{CATEGORIES[x % len(CATEGORIES)]}"
        path += f"?page={aux % 9 + 2}" if aux < 200 else ""
        return "GET", path, 200, 24_000 + jitter, True
    if kind == "search":
        path = f"/search?q={WORDS[x % len(WORDS)]}&page={1 + aux % 3}"
        return "GET", path, 200, 22_000 + jitter, True
    if kind == "api_other":
        if aux < 120:
            return "POST", "/api/cart", 200, 212, False
        return "GET", f"/api/recommendations?product={1 + x % PRODUCT_MAX}", 200, 1_900 + aux, False
    if kind == "page":
        path = PAGES[x % len(PAGES)]
        if path == "/login" and aux < 400:
            return "POST", path, 200, 1_120, False
        return "GET", path, 200, 12_000 + jitter, True
    if kind == "robots":
        return "GET", "/robots.txt", 200, 286, False
    path = JUNK[x % len(JUNK)]
    return ("HEAD" if aux < 100 else "GET"), path, 404, 153, False


FIRST = (  # what a visit starts with, by client class
    _weighted_table({"product": 33, "category": 12, "search": 10, "user": 15, "reviews": 10,
                     "page": 12, "junk": 0.5}),
    _weighted_table({"product": 40, "category": 12, "reviews": 15, "user": 15, "page": 8,
                     "robots": 3, "junk": 1}),
    _weighted_table({"api_user": 30, "user": 15, "product": 20, "reviews": 10, "page": 10,
                     "junk": 15}),
)
NEXT = (  # what follows within the visit: the page's assets and API calls, or another page
    _weighted_table({"asset": 45, "image": 20, "api_user": 9, "api_other": 10, "product": 6,
                     "user": 4, "reviews": 3, "category": 2, "search": 1}),
    FIRST[1],
    FIRST[2],
)
REFERERS = _weighted_table({"-": 35, "https://www.google.com/": 25, "https://www.bing.com/": 5,
                            "https://duckduckgo.com/": 3, "https://t.co/": 2,
                            "https://www.facebook.com/": 3, SITE + "/": 27})


# ---------------------------------------------------------------- harvesters


@dataclass
class Harvester:
    name: str
    description: str
    actors: list[str]
    members: list[str]
    events: list[tuple[int, str]]
    """(second of the day, log line)"""


def _line(head: str, sec: int, tz: int, req: Request, proto: str, ref: str, tail: str,
          stamps: Callable[[int, int], str]) -> str:
    method, path, status, size, _ = req
    return f'{head}{stamps(sec, tz)}] "{method} {path} {proto}" {status} {size} "{ref}" {tail}'


def _harvesters(rng: Random, lines: int, uas: list[str]) -> list[Harvester]:
    def ip() -> str:
        a, b, c = _public_v4(rng)
        return f"{a}.{b}.{c}.{rng.randint(1, 254)}"

    def stamp(sec: int, tz: int) -> str:
        return format_stamp(sec, tz)

    out: list[Harvester] = []

    enum_ip, n = ip(), max(300, lines * 3 // 1000)
    head, tail, start = f"{enum_ip} - - [", '"python-requests/2.31.0"\n', 5_400
    events = []
    for k in range(n):
        uid = 381_000 + k
        status, size = user_page(uid, 0)
        sec = start + int(k * 0.6) + rng.randrange(2)
        events.append((sec, _line(head, sec, 0, ("GET", f"/user/{uid}", status, size, True),
                                  "HTTP/1.1", "-", tail, stamp)))
    out.append(Harvester("enumerator", "one address walks /user/{id} upward, 0.6 s apart",
                         [f"ip:{enum_ip}"], [], events))

    spread_ips = sorted({ip() for _ in range(500)})
    ua = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
          " Chrome/119.0.0.0 Safari/537.36")
    events = []
    for _ in range(max(600, lines * 2 // 1000)):
        sec, uid = rng.randrange(86_400), rng.randint(1, USER_MAX * 21 // 20)
        status, size = user_api(uid, rng.randrange(300))
        events.append((sec, _line(f"{rng.choice(spread_ips)} - u_889 [", sec, 0,
                                  ("GET", f"/api/users/{uid}", status, size, False),
                                  "HTTP/1.1", "-", f'"{ua}"\n', stamp)))
    out.append(Harvester("account-spread", "account u_889 reads random profiles via the API"
                         " from 500 addresses", ["account:u_889"],
                         [f"ip:{a}" for a in spread_ips], events))

    slow_ips = sorted({ip() for _ in range(min(40, max(4, lines // 5000)))})
    events = []
    for k, addr in enumerate(slow_ips):
        head, tail = f"{addr} - - [", f'"{rng.choice(uas[:200])}"\n'
        sec, uid = rng.randrange(600), 700_000 + k * 150
        while sec < 86_400:
            status, size = user_page(uid, 0)
            events.append((sec, _line(head, sec, 0, ("GET", f"/user/{uid}", status, size, True),
                                      "HTTP/2.0", SITE + "/", tail, stamp)))
            sec, uid = sec + 570 + rng.randrange(61), uid + 1
    out.append(Harvester("low-and-slow", f"{len(slow_ips)} addresses each walk their own slice"
                         " of /user/{id}, one page every ~10 minutes",
                         [f"ip:{a}" for a in slow_ips], [], events))

    net = _public_v4(rng)
    scraper_ips = [f"{net[0]}.{net[1]}.{net[2]}.{h}" for h in (11, 12, 13)]
    tail = '"Scrapy/2.11.2 (+https://scrapy.org)"\n'
    events, pid, page, t = [], 1, 1, 43_200.0
    for _ in range(max(300, lines // 1000)):
        sec = int(t)
        req = ("GET", f"/product/{pid}/reviews?page={page}", 200, 9_000 + 131 * page, True)
        events.append((sec, _line(f"{scraper_ips[pid % 3]} - - [", sec, 0, req, "HTTP/1.1", "-",
                                  tail, stamp)))
        t += 0.25 + rng.random() * 0.5
        pid, page = (pid + 1, 1) if page >= 1 + pid % 9 else (pid, page + 1)
    out.append(Harvester("review-scraper", "Scrapy pages through every product's reviews"
                         " (names and comments) from one /24", [f"ip:{a}" for a in scraper_ips],
                         [], events))
    return out


# ---------------------------------------------------------------- the log


def format_stamp(sec: int, tz: int) -> str:
    """`dd/Mon/yyyy:HH:MM:SS +0000` for a second of the day; tz=1: the same instant at +0200."""
    t = DAY_START + timedelta(seconds=sec + 7_200 * tz)
    return (f"{t.day:02d}/{MONTHS[t.month - 1]}/{t.year}:{t.hour:02d}:{t.minute:02d}:"
            f"{t.second:02d} {'+0200' if tz else '+0000'}")


class _Draws:
    """Bulk random draws: numpy's PCG64 when numpy is installed, else Python's Mersenne Twister."""

    def __init__(self, seed: int, cum_weights: list[float], use_numpy: bool = True) -> None:
        self.cum = cum_weights
        self.rnd = Random(seed)
        self.np: Any = None
        if use_numpy:
            try:
                import numpy as np
            except ImportError:
                pass
            else:
                self.np = np
                self.gen = np.random.default_rng(seed)
                self.np_cum = np.asarray(cum_weights)
        self.engine = "numpy" if self.np is not None else "random"

    def clients(self, n: int) -> list[int]:
        if self.np is not None:
            u = self.gen.random(n) * self.cum[-1]
            idx = self.np.searchsorted(self.np_cum, u, side="right")
            clipped: list[int] = self.np.minimum(idx, len(self.cum) - 1).tolist()
            return clipped
        return self.rnd.choices(range(len(self.cum)), cum_weights=self.cum, k=n)

    def bits(self, n: int) -> list[int]:
        if self.np is not None:
            out: list[int] = self.gen.integers(0, 1 << 62, size=n, dtype=self.np.int64).tolist()
            return out
        return [self.rnd.getrandbits(62) for _ in range(n)]


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights`, summing exactly."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    parts = [int(x) for x in raw]
    for i in sorted(range(len(raw)), key=lambda i: parts[i] - raw[i])[: total - sum(parts)]:
        parts[i] += 1
    return parts


def generate_log(path: Path, lines: int, seed: int, *, use_numpy: bool = True) -> dict[str, Any]:
    """Write the synthetic log; return its ground truth (also written beside it as .truth.json)."""
    rng = Random(seed)
    uas = _browser_uas(rng, 3_000)
    clients, weights = _clients(rng, uas)
    harvesters = _harvesters(Random(seed + 1), lines, uas)
    extra = sorted((ev for h in harvesters for ev in h.events), key=lambda ev: ev[0])
    if len(extra) > lines // 4:
        raise ValueError(f"--lines {lines} is too small for the embedded harvesters")
    draws = _Draws(seed, list(accumulate(weights)), use_numpy)
    heads = [c.head for c in clients]
    tails = [c.tail for c in clients]
    protos = [c.proto for c in clients]
    classes = [c.cls for c in clients]
    per_chunk = _split(lines - len(extra), [w for w in HOUR_WEIGHTS for _ in range(6)])
    extra_secs = [sec for sec, _ in extra]

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="ascii", newline="\n", buffering=1 << 22) as out:
        for chunk, m in enumerate(per_chunk):
            t0 = chunk * CHUNK_SECONDS
            stamps = [format_stamp(t0 + s, tz) for s in range(CHUNK_SECONDS) for tz in (0, 1)]
            body = _chunk_lines(m, draws, stamps, heads, tails, protos, classes)
            lo = bisect_right(extra_secs, t0 - 1)
            hi = bisect_right(extra_secs, t0 + CHUNK_SECONDS - 1)
            if lo < hi:  # merge the harvesters' lines in at their seconds
                secs = [t0 + (j * CHUNK_SECONDS) // m for j in range(m)]
                merged: list[str] = []
                j = 0
                for sec, line in extra[lo:hi]:
                    k = bisect_right(secs, sec)
                    merged += body[j:k]
                    merged.append(line)
                    j = max(j, k)
                body = merged + body[j:]
            out.write("".join(body))
    tmp.replace(path)
    truth = {
        "generator": GENERATOR_VERSION, "engine": draws.engine, "seed": seed, "lines": lines,
        "harvesters": [{"name": h.name, "description": h.description, "actors": h.actors,
                        "members": h.members, "lines": len(h.events)} for h in harvesters],
        "benign_crawlers": [f"ip:{c.ip}" for c in clients if c.cls == CRAWLER],
    }
    truth_path(path).write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def truth_path(log: Path) -> Path:
    return log.with_name(log.name + ".truth.json")


def _chunk_lines(m: int, draws: _Draws, stamps: list[str], heads: list[str],
                 tails: list[str], protos: list[str], classes: list[int]) -> list[str]:
    body: list[str] = []
    if m == 0:
        return body
    add = body.append
    who = draws.clients(m)
    bits = draws.bits(m)
    c = who[0]
    page = "/"
    for j in range(m):
        r = bits[j]
        if j == 0 or r & 1023 < NEW_RUN:
            c = who[j]
            cls = classes[c]
            req = _request(FIRST[cls][(r >> 10) & 1023], r)
            ref = REFERERS[(r >> 52) & 1023] if cls == BROWSER else "-"
        else:
            cls = classes[c]
            req = _request(NEXT[cls][(r >> 10) & 1023], r)
            ref = SITE + page if cls == BROWSER else "-"
        if cls == CRAWLER and req[0] == "POST":  # crawlers read; they post no passwords
            req = ("GET", req[1], req[2], 12_000, True)
        if req[4]:
            page = req[1]
        sec = (j * CHUNK_SECONDS) // m
        tz = 1 if (r >> 32) & 1023 < 31 else 0
        add(f'{heads[c]}{stamps[2 * sec + tz]}] "{req[0]} {req[1]} {protos[c]}" '
            f'{req[2]} {req[3]} "{ref}" {tails[c]}')
    return body


# ---------------------------------------------------------------- checking and measuring


def check_log(path: Path, limit: int = 5) -> tuple[int, list[str]]:
    """Count the lines and return up to `limit` that are not nginx combined."""
    n = 0
    bad: list[str] = []
    with path.open("rb") as f:
        for line in f:
            n += 1
            if not COMBINED_RE.match(line.rstrip(b"\n")) and len(bad) < limit:
                bad.append(f"line {n}: {line[:200]!r}")
    return n, bad


@dataclass
class Run:
    """One measured command: wall seconds, peak resident memory of it and its children."""

    wall_s: float
    max_rss_kib: int
    returncode: int
    stderr_tail: str


GNU_TIME = Path("/usr/bin/time")
_WRAPPER = """import os, subprocess, sys
try:
    p = subprocess.Popen(sys.argv[2:])
except OSError as e:
    print(f"cannot run {sys.argv[2]}: {e}", file=sys.stderr)
    sys.exit(127)
_, status, usage = os.wait4(p.pid, 0)
open(sys.argv[1], "w").write(f"{usage.ru_maxrss}\\n")
code = os.waitstatus_to_exitcode(status)
sys.exit(128 - code if code < 0 else code)
"""


def rss_method() -> str:
    if GNU_TIME.is_file():
        return "GNU time"
    return "python wrapper (its own ~10 MB count in)"


def run_measured(cmd: Sequence[str], stdout: Path | None = None) -> Run:
    """Run `cmd` under a small parent that reports the peak memory of that command alone.

    The peak a parent reads from wait4 includes what the child had before exec, which after a
    fork (or vfork) of this process is this process's own peak: measured directly from here,
    `wc -l` would look as big as the log generator. So GNU time (apt package `time`) is the
    parent, or failing it a fresh Python that does nothing else.
    """
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryFile() as err:
        report = Path(tmp) / "rss"
        if GNU_TIME.is_file():
            full = [str(GNU_TIME), "-f", "%M", "-o", str(report), *cmd]
        else:
            full = [sys.executable, "-I", "-S", "-c", _WRAPPER, str(report), *cmd]
        with stdout.open("wb") if stdout else open(os.devnull, "wb") as out:
            t0 = time.perf_counter()
            proc = subprocess.run(full, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                  check=False)
            wall = time.perf_counter() - t0
        err.seek(0)
        tail = err.read()[-3_000:].decode("utf-8", errors="replace")
        notes = report.read_text().splitlines() if report.is_file() else []
        rss = int(notes.pop()) if notes and notes[-1].isdigit() else 0
        tail += "".join(f"{note}\n" for note in notes)  # GNU time: "terminated by signal 9"
    return Run(wall, rss, proc.returncode, tail)
