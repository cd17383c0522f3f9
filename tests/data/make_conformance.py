"""Writes conformance.log: a small hand-designed combined log whose decisions are known.

Run `python tests/data/make_conformance.py` to regenerate; the output is committed so the test
reads a fixed file. Four actors, each built to show one thing:

- 198.51.100.20: a person — pages, assets, referers, a few profiles, human think times;
- 203.0.113.7: a sequential enumerator of /user/{n}, one request every 2 s, browser agent;
- account u_889: one account spread over 30 addresses, scattered profile ids;
- 66.249.66.1: genuine Googlebot (Google's published range) crawling profiles in order;
- 203.0.113.99: a Googlebot claim from outside Google's ranges: unverified, judged on behaviour.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/122.0.0.0 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def line(ts: datetime, ip: str, path: str, *, user: str = "-", status: int = 200,
         size: int = 2048, referer: str = "-", ua: str = CHROME) -> tuple[datetime, str]:
    stamp = ts.strftime("%d/%b/%Y:%H:%M:%S +0000")
    text = (f'{ip} - {user} [{stamp}] "GET {path} HTTP/1.1" {status} {size} '
            f'"{referer}" "{ua}"')
    return ts, text


def person(rng: random.Random) -> list[tuple[datetime, str]]:
    out = []
    ts = START + timedelta(minutes=3)
    ip = "198.51.100.20"
    site = "https://shop.example"
    for page in ["/", "/product/17", "/user/4411", "/product/17/reviews?page=2", "/user/4502",
                 "/search?q=lamp", "/product/23", "/user/4502", "/user/3980", "/"]:
        out.append(line(ts, ip, page, referer=site + "/", size=rng.randint(4000, 9000)))
        for asset in ["/static/app.js", "/static/site.css", "/img/p/17.jpg"]:
            ts += timedelta(milliseconds=rng.randint(40, 300))
            out.append(line(ts, ip, asset, referer=site + page, size=rng.randint(800, 90000)))
        ts += timedelta(seconds=rng.randint(20, 90))
    return out


def enumerator() -> list[tuple[datetime, str]]:
    ts = START + timedelta(minutes=10)
    out = []
    for n in range(200):
        out.append(line(ts + timedelta(seconds=2 * n), "203.0.113.7", f"/user/{5000 + n}",
                        ua=FIREFOX, size=3100 + n % 7))
    return out


def spread_account(rng: random.Random) -> list[tuple[datetime, str]]:
    ts = START + timedelta(minutes=5)
    out = []
    ids = rng.sample(range(10_000, 90_000), 150)
    for n, user_id in enumerate(ids):
        ip = f"192.0.2.{1 + n % 30}"
        ts += timedelta(seconds=rng.randint(8, 30))
        out.append(line(ts, ip, f"/api/users/{user_id}", user="u_889", ua=CHROME,
                        size=rng.randint(600, 900)))
    return out


def googlebot() -> list[tuple[datetime, str]]:
    ts = START + timedelta(minutes=1)
    out = [line(ts, "66.249.66.1", "/robots.txt", ua=GOOGLEBOT, size=120)]
    for n in range(60):
        out.append(line(ts + timedelta(seconds=5 * (n + 1)), "66.249.66.1", f"/user/{6000 + n}",
                        ua=GOOGLEBOT))
    return out


def impostor() -> list[tuple[datetime, str]]:
    ts = START + timedelta(minutes=20)
    return [line(ts + timedelta(seconds=7 * n), "203.0.113.99", f"/user/{7000 + 13 * n}",
                 ua=GOOGLEBOT) for n in range(10)]


def main() -> None:
    rng = random.Random(2026)
    rows = person(rng) + enumerator() + spread_account(rng) + googlebot() + impostor()
    rows.sort(key=lambda r: r[0])
    target = Path(__file__).with_name("conformance.log")
    target.write_text("".join(text + "\n" for _, text in rows), encoding="utf-8")
    print(f"wrote {len(rows)} lines to {target}")


if __name__ == "__main__":
    main()
