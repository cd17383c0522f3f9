"""Who clients say they are and where they come from: user agents and address ranges.

One browser pool serves people and harvesters alike. Harvesters draw from its common head
(scraping kits ship lists of the most common agents), people from all of it, so no browser
string a harvester sends is one that only harvesters send. The strings follow the real
formats (Chrome's reduced `.0.0.0` versions, Safari's `Version/`, in-app browsers' brackets).
Address ranges are real-looking allocations: residential ISP blocks, carrier-grade NAT,
cloud and VPN exits, and the search engines' published crawler ranges.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np

from scrapeguard.simulate.draws import I64

_WIN = "Windows NT 10.0; Win64; x64"
_MAC = "Macintosh; Intel Mac OS X 10_15_7"
_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"
_IOS_WEBKIT = "AppleWebKit/605.1.15 (KHTML, like Gecko)"
_ANDROIDS = ("Android 10; K", "Android 14; SM-S918B", "Android 13; M2101K6G",
             "Android 14; Pixel 7", "Android 12; V2111", "Android 13; 22081212C")
_IOS = ("17_3_1", "17_4", "17_2_1", "16_7_5", "17_1_2", "15_8")


@dataclass(frozen=True)
class Agent:
    ua: str
    weight: float
    kind: str
    """`desktop`, `mobile`, `inapp` (a social app's web view) or `app` (our own mobile app)."""


def _browsers() -> list[Agent]:
    out: list[Agent] = []
    for age, v in enumerate(range(124, 112, -1)):
        share = 0.55 ** age
        out += [
            Agent(f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/{v}.0.0.0 Safari/537.36", 30 * share,
                  "desktop"),
            Agent(f"Mozilla/5.0 ({_MAC}) {_WEBKIT} Chrome/{v}.0.0.0 Safari/537.36", 9 * share,
                  "desktop"),
            Agent(f"Mozilla/5.0 (X11; Linux x86_64) {_WEBKIT} Chrome/{v}.0.0.0 Safari/537.36",
                  1.5 * share, "desktop"),
            Agent(f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/{v}.0.0.0 Safari/537.36 "
                  f"Edg/{v}.0.{2300 + v * 3}.{40 + age}", 7 * share, "desktop"),
        ]
        for i, android in enumerate(_ANDROIDS):
            out.append(Agent(f"Mozilla/5.0 (Linux; {android}) {_WEBKIT} Chrome/{v}.0.0.0 "
                             "Mobile Safari/537.36", 6 * share / (i + 1), "mobile"))
    for age, v in enumerate(range(124, 114, -1)):
        share = 0.5 ** age
        out += [
            Agent(f"Mozilla/5.0 ({_WIN}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0", 4 * share,
                  "desktop"),
            Agent(f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{v}.0) Gecko/20100101 "
                  f"Firefox/{v}.0", 1.2 * share, "desktop"),
            Agent(f"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:{v}.0) Gecko/20100101 "
                  f"Firefox/{v}.0", 0.8 * share, "desktop"),
            Agent(f"Mozilla/5.0 (Android 14; Mobile; rv:{v}.0) Gecko/{v}.0 Firefox/{v}.0",
                  0.5 * share, "mobile"),
        ]
    for age, (ios, version) in enumerate(zip(_IOS, ("17.3", "17.4", "17.2", "16.6", "17.1",
                                                    "15.6"), strict=True)):
        share = 0.6 ** age
        out += [
            Agent(f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) {_IOS_WEBKIT} "
                  f"Version/{version} Mobile/15E148 Safari/604.1", 22 * share, "mobile"),
            Agent(f"Mozilla/5.0 (iPad; CPU OS {ios} like Mac OS X) {_IOS_WEBKIT} "
                  f"Version/{version} Mobile/15E148 Safari/604.1", 2.5 * share, "mobile"),
            Agent(f"Mozilla/5.0 ({_MAC}) {_IOS_WEBKIT} Version/{version} Safari/605.1.15",
                  5 * share, "desktop"),
            Agent(f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios} like Mac OS X) {_IOS_WEBKIT} "
                  f"CriOS/122.0.6261.{60 + age} Mobile/15E148 Safari/604.1", 2 * share, "mobile"),
        ]
    out += [
        Agent("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, "
              "like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", 3, "mobile"),
        Agent("Mozilla/5.0 (Linux; U; Android 13; zh-cn; 2211133C Build/TKQ1.220905.001) "
              "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/109.0.5414.118 Mobile "
              "Safari/537.36 XiaoMi/MiuiBrowser/17.8.50221", 2, "mobile"),
        Agent("Mozilla/5.0 (Linux; Android 12; NOH-AN00; HMSCore 6.13.0.302) AppleWebKit/537.36 "
              "(KHTML, like Gecko) Chrome/99.0.4844.88 HuaweiBrowser/14.0.5.302 Mobile "
              "Safari/537.36", 1.5, "mobile"),
        Agent("Mozilla/5.0 (Windows NT 10.0; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/108.0.0.0 Safari/537.36 QIHU 360SE", 0.8, "desktop"),
        Agent(f"Mozilla/5.0 (Windows NT 6.1; Win64; x64) {_WEBKIT} Chrome/109.0.0.0 "
              "Safari/537.36", 0.9, "desktop"),
        Agent(f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/122.0.0.0 Safari/537.36 OPR/108.0.0.0",
              0.7, "desktop"),
        Agent(f"Mozilla/5.0 ({_WIN}) {_WEBKIT} Chrome/120.0.0.0 YaBrowser/24.1.0.0 "
              "Safari/537.36", 0.3, "desktop"),
        Agent("Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko", 0.1,
              "desktop"),
    ]
    return out


def _in_app() -> list[Agent]:
    """Social apps' web views: odd strings, real people."""
    return [
        Agent(f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) {_IOS_WEBKIT} "
              "Mobile/15E148 [FBAN/FBIOS;FBAV/449.0.0.41.112;FBBV/566034339;FBDV/iPhone14,5;"
              "FBMD/iPhone;FBSN/iOS;FBSV/17.3.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5]", 3, "inapp"),
        Agent(f"Mozilla/5.0 (Linux; Android 13; SM-A536B Build/TP1A.220624.014; wv) {_WEBKIT} "
              "Version/4.0 Chrome/121.0.6167.178 Mobile Safari/537.36 [FB_IAB/FB4A;"
              "FBAV/450.0.0.39.109;]", 2.5, "inapp"),
        Agent(f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) {_IOS_WEBKIT} "
              "Mobile/15E148 Instagram 316.0.3.17.90 (iPhone14,2; iOS 17_2_1; en_US; en; "
              "scale=3.00; 1170x2532; 558601452)", 2, "inapp"),
        Agent(f"Mozilla/5.0 (Linux; Android 13; V2218A Build/TP1A.220624.014; wv) {_WEBKIT} "
              "Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 XWEB/1160027 "
              "MMWEBSDK/20231202 MMWEBID/6071 MicroMessenger/8.0.47.2560(0x28002F30) "
              "WeChat/arm64 Weixin NetType/WIFI Language/zh_CN ABI/arm64", 4, "inapp"),
        Agent(f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_3 like Mac OS X) {_IOS_WEBKIT} "
              "Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/4G Language/zh_CN",
              4, "inapp"),
        Agent(f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) {_IOS_WEBKIT} "
              "Mobile/15E148 Safari Line/13.20.0", 0.6, "inapp"),
    ]


def _apps() -> list[Agent]:
    """Our own app (the JSON API); Android HTTP stacks often send their default agent."""
    out = []
    for i, version in enumerate(("8.4.1", "8.4.0", "8.3.2", "8.2.0")):
        share = 0.45 ** i
        out += [Agent(f"ShopApp/{version} (iPhone; iOS {ios.replace('_', '.')}; Scale/3.00)",
                      8 * share / (j + 1), "app") for j, ios in enumerate(_IOS[:3])]
        out += [Agent(f"ShopApp/{version} (Linux; {android})", 7 * share / (j + 1), "app")
                for j, android in enumerate(_ANDROIDS[1:4])]
    out += [
        Agent("Dalvik/2.1.0 (Linux; U; Android 13; M2101K6G Build/TKQ1.221013.002)", 3, "app"),
        Agent("Dalvik/2.1.0 (Linux; U; Android 12; V2111 Build/SP1A.210812.003)", 2, "app"),
        Agent("okhttp/4.12.0", 1.5, "app"),
    ]
    return out


@cache
def agents(kind: str) -> tuple[tuple[str, ...], np.ndarray]:
    """User agents of a kind (`browser`: desktop and mobile browsers; `desktop`; `mobile`;
    `inapp`: social apps' web views; `app`: our app) and their popularity as probabilities."""
    chosen = {
        "browser": _browsers(),
        "desktop": [a for a in _browsers() if a.kind == "desktop"],
        "mobile": [a for a in _browsers() if a.kind == "mobile"],
        "inapp": _in_app(),
        "app": _apps(),
    }[kind]
    weights = np.array([a.weight for a in chosen])
    return tuple(a.ua for a in chosen), weights / weights.sum()


def draw(rng: np.random.Generator, kind: str, n: int, head: int | None = None) -> list[str]:
    """`n` user agents by popularity; `head` keeps only the most common ones (harvesters)."""
    names, p = agents(kind)
    if head is not None:
        keep = np.argsort(-p, kind="stable")[:head]
        names, p = tuple(names[i] for i in keep), p[keep] / p[keep].sum()
    return [names[i] for i in rng.choice(len(names), size=n, p=p)]


Block = tuple[int, int, int]
"""First octet and an inclusive range of second octets: a /8 slice of one operator."""

RESIDENTIAL: tuple[Block, ...] = (
    (36, 96, 127), (58, 16, 63), (60, 160, 191), (112, 64, 95), (113, 64, 127), (114, 80, 95),
    (117, 128, 143), (119, 112, 127), (121, 32, 47), (123, 112, 127), (171, 8, 15),
    (180, 96, 111), (183, 0, 63), (222, 128, 143), (223, 104, 111), (27, 36, 47),
    (39, 128, 191), (106, 32, 47), (73, 0, 255), (98, 192, 255), (24, 0, 63), (71, 160, 191),
    (174, 48, 63), (86, 128, 191), (92, 32, 47), (82, 64, 127), (79, 192, 223), (2, 80, 95),
    (49, 224, 255), (1, 32, 63),
)
"""Consumer ISPs (broadband and mobile, China, the US, Europe): people and residential
proxies alike. Wide enough that two unrelated clients rarely share an address by chance."""

RESIDENTIAL6 = ("2408:8456", "240e:3b0", "2409:8a1e", "2601:600", "2a02:8108", "2409:8900")
"""IPv6 prefixes of the same ISPs; a /64 per household or phone."""

DATACENTER: tuple[Block, ...] = (
    (3, 80, 95), (18, 160, 191), (44, 192, 255), (34, 64, 127), (35, 184, 191), (20, 160, 191),
    (52, 168, 175), (159, 89, 89), (167, 99, 99), (134, 209, 209), (139, 59, 59), (95, 216, 217),
    (5, 75, 75), (51, 38, 38), (145, 239, 239), (89, 187, 187), (146, 70, 70), (47, 88, 91),
    (8, 208, 223), (43, 128, 135), (45, 76, 77),
)
"""Cloud providers and VPN exits: VPN users, cloud desktops, rented servers. None overlaps a
search engine's crawler ranges."""

OFFICES = ("114.255.40.18", "202.96.128.86", "199.91.138.20", "61.135.169.125", "218.30.103.50")
"""Egress addresses of office networks."""


def within(ip: str, blocks: tuple[Block, ...]) -> bool:
    """Whether an IPv4 address lies in one of the blocks."""
    parts = ip.split(".")
    if len(parts) != 4:
        return False
    first, second = int(parts[0]), int(parts[1])
    return any(first == f and lo <= second <= hi for f, lo, hi in blocks)


def residential(ip: str) -> bool:
    """Whether an address is in the consumer ISPs' ranges (v4 blocks or v6 prefixes)."""
    if ":" in ip:
        return ip.startswith(tuple(f"{p}:" for p in RESIDENTIAL6))
    return within(ip, RESIDENTIAL)


def ipv4(rng: np.random.Generator, blocks: tuple[Block, ...], n: int) -> list[str]:
    """`n` addresses in the given blocks, hosts .1-.254."""
    which = rng.integers(0, len(blocks), n)
    spans = np.array([(lo, hi - lo + 1) for _, lo, hi in blocks], dtype=np.int64)
    second = spans[which, 0] + (rng.random(n) * spans[which, 1]).astype(np.int64)
    third, fourth = rng.integers(0, 256, n), rng.integers(1, 255, n)
    return [f"{blocks[w][0]}.{b}.{c}.{d}"
            for w, b, c, d in zip(which, second, third, fourth, strict=True)]


def ipv6(rng: np.random.Generator, n: int) -> list[str]:
    """`n` addresses, each in its own residential /64."""
    which = rng.integers(0, len(RESIDENTIAL6), n)
    net = rng.integers(0, 1 << 16, (n, 2))
    host = rng.integers(0, 1 << 16, (n, 4))
    return [f"{RESIDENTIAL6[w]}:{a:x}:{b:x}:{c:x}:{d:x}:{e:x}:{f:x}"
            for w, (a, b), (c, d, e, f) in zip(which, net, host, strict=True)]


def mixed(rng: np.random.Generator, n: int, *, v6: float = 0.2, vpn: float = 0.04) -> list[str]:
    """People's addresses: mostly residential v4, some v6, a few VPN or cloud exits."""
    roll = rng.random(n)
    kind = np.where(roll < vpn, 0, np.where(roll < vpn + v6, 1, 2))
    made = [iter(ipv4(rng, DATACENTER, int((kind == 0).sum()))),
            iter(ipv6(rng, int((kind == 1).sum()))),
            iter(ipv4(rng, RESIDENTIAL, int((kind == 2).sum())))]
    return [next(made[k]) for k in kind]


def hex_ids(rng: np.random.Generator, n: int, width: int = 16) -> list[str]:
    """Opaque ids (session cookies, device ids)."""
    raw: I64 = rng.integers(0, 1 << 62, n, dtype=np.int64)
    return [f"{x:0{width}x}"[-width:] for x in raw]


def distinct(rng: np.random.Generator, make: Callable[[np.random.Generator, int], list[str]],
             n: int) -> list[str]:
    """`n` different values from a generator of values (addresses a campaign holds at once)."""
    seen: dict[str, None] = {}
    while len(seen) < n:
        for value in make(rng, 2 * (n - len(seen)) + 8):
            seen.setdefault(value, None)
    return list(seen)[:n]
