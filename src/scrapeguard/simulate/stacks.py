"""The client stack each simulated request arrives with: its header shape (`hdr`) and JA4 (`tls`).

A live deployment sees more of a client than its user agent: which headers its stack writes,
in what order, with which `Accept*` values and client hints, and the TLS ClientHello its TLS
library writes (`scrapeguard.clientshape`). Every scenario names the stack its real client
has (`Scenario.client`), and `dress` writes both columns from it:

- `own`: whatever the agent says the client is, honestly — a person's Chrome, Firefox, Safari
  or Edge writes that browser's headers over that browser's TLS; an in-app browser its web
  view's; our app its platform's HTTP stack (URLSession on iOS, OkHttp on Android), which
  claims no browser; a search engine its crawler's. A harvester that drives a real browser,
  or impersonates the one its agent names (curl_cffi), is `own` too: that is the point of it.
- `fetch`: the agent's own browser, every request a script's `fetch()` in it (an extension).
- a library (`python-requests`, `scrapy`): that library's headers and TLS under whatever
  agent it was given.

Where the project holds a capture (`captures/`, made by `tests/data/fingerprints/capture.py`
and read by the clientshape tests too) the stack is built from it: Chromium's header order
for pages and for subresources, python-requests' headers and JA4, curl_cffi's Chrome. The
others follow the browsers' published behaviour and JA4s as TLS-impersonation libraries
list them (uTLS, curl_cffi presets); a stack with no JA4 on record writes none (`tls` null)
rather than an invented one. Dressing draws no random numbers: every other column of a seed's
run stays byte-for-byte what it was.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scrapeguard import clientshape
from scrapeguard.simulate.frame import Frame, spread

Headers = tuple[tuple[str, str], ...]


class Dest(IntEnum):
    """What a request fetches, which decides a browser's `Accept` and `Sec-Fetch-*`."""

    DOCUMENT = 0
    SCRIPT = 1
    STYLE = 2
    IMAGE = 3
    FETCH = 4


def dests(paths: pa.Array) -> np.ndarray:
    """Each path's destination on the simulated site (`site.ROUTES`)."""
    out = np.full(len(paths), Dest.DOCUMENT, dtype=np.int64)
    if not len(paths):
        return out

    def where(mask: pa.Array) -> np.ndarray:
        return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)

    static = where(pc.starts_with(paths, "/static/"))
    out[static] = Dest.SCRIPT
    out[static & where(pc.ends_with(paths, ".css"))] = Dest.STYLE
    out[where(pc.starts_with(paths, "/img/")) | where(pc.equal(paths, "/favicon.ico"))] = Dest.IMAGE
    out[where(pc.starts_with(paths, "/api/"))] = Dest.FETCH
    return out


@dataclass(frozen=True)
class Language:
    """A person's language as each browser family writes `Accept-Language`."""

    chromium: str
    firefox: str
    safari: str


LANGUAGES: tuple[tuple[Language, float], ...] = (
    (Language("zh-CN,zh;q=0.9", "zh-CN,zh;q=0.8,zh-TW;q=0.7,zh-HK;q=0.5,en-US;q=0.3,en;q=0.2",
              "zh-CN,zh-Hans;q=0.9"), 0.5),
    (Language("en-US,en;q=0.9", "en-US,en;q=0.5", "en-US,en;q=0.9"), 0.38),
    (Language("en-GB,en-US;q=0.9,en;q=0.8", "en-GB,en;q=0.5", "en-GB,en;q=0.9"), 0.06),
    (Language("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de,en-US;q=0.7,en;q=0.3",
              "de-DE,de;q=0.9"), 0.06),
)
"""The site's people: mostly Chinese and English; a tool keeps its default (`ENGLISH`)."""
ENGLISH = 1
_CUMULATIVE = list(itertools.accumulate(weight for _, weight in LANGUAGES))


def language(identity: str) -> int:
    """A person's language, fixed by who they are (a hash, so no random draw is spent)."""
    u = zlib.crc32(identity.encode()) / 2**32 * _CUMULATIVE[-1]
    return min(bisect.bisect_right(_CUMULATIVE, u), len(LANGUAGES) - 1)


@dataclass(frozen=True)
class Request:
    """What a stack is asked to send: under which agent, for what, in which language."""

    ua: str
    dest: Dest
    lang: Language


Stack = Callable[[Request], tuple[Headers, str | None] | None]
"""Headers in the order sent, and the JA4 (None: none on record); None: not modelled."""


@cache
def capture(client: str) -> list[dict[str, Any]]:
    """The requests `client` sent in its capture (`captures/<client>.json`)."""
    text = resources.files("scrapeguard.simulate").joinpath(f"captures/{client}.json").read_text()
    requests: list[dict[str, Any]] = json.loads(text)["requests"]
    return requests


def _from_capture(client: str, index: int, ua: str,
                  values: dict[str, str] | None = None) -> Headers:
    """A captured request's headers, in its order, under another agent and values; names the
    stack does not write (`Host`, `Connection`, `Referer`) are dropped as `shape` drops them."""
    values = {k.lower(): v for k, v in (values or {}).items()} | {"user-agent": ua}
    out = []
    for name, value in capture(client)[index]["headers"]:
        lowered = name.lower()
        if lowered in clientshape.SHAPE_HEADERS:
            out.append((name, values.get(lowered, value)))
    return tuple(out)


# --- Chromium: Chrome, Edge, Opera, Samsung Internet, Yandex, Android's WebView -------------

_BRANDS = (("Edg/", "Microsoft Edge"), ("OPR/", "Opera"), ("SamsungBrowser/", "Samsung Internet"),
           ("YaBrowser/", "Yandex"), ("HeadlessChrome/", None), ("; wv)", "Android WebView"))
CHROMIUM_ACCEPT = {
    Dest.DOCUMENT: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
                   "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    Dest.SCRIPT: "*/*",
    Dest.STYLE: "text/css,*/*;q=0.1",
    Dest.IMAGE: "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8",
    Dest.FETCH: "*/*",
}
"""Chromium 113-124's values (the captured 156 adds `image/jxl`)."""
CHROMIUM_JA4_OLD = "t13d1516h2_8daaf6152771_e5627efa2ab1"
"""Chrome 94 and Edge 106 as JA4 references list them."""
CHROMIUM_JA4 = "t13d1516h2_8daaf6152771_02713d6af862"
"""Chrome 120 and 131 (uTLS and curl_cffi presets): BoringSSL's fifteen suites, sixteen
extensions in a shuffled order that JA4 sorts away."""


def _platform(ua: str) -> str:
    if "Android" in ua:
        return '"Android"'
    if "Windows" in ua:
        return '"Windows"'
    if "Macintosh" in ua:
        return '"macOS"'
    return '"Linux"'


def chromium(request: Request) -> tuple[Headers, str | None]:
    """A Chromium browser: the captured Chromium's header order (page: its navigation;
    anything else: its image request), client hints naming the agent's own version and
    brand, as Chromium writes them from the same build."""
    ua, dest = request.ua, request.dest
    found = clientshape.CHROMIUM_VERSION.search(ua)
    version = int(found.group(1)) if found else 0
    brand = next((name for mark, name in _BRANDS if mark in ua), "Google Chrome")
    names = ['"Not-A.Brand";v="99"', f'"Chromium";v="{version}"']
    if brand:
        names.append(f'"{brand}";v="{version}"')
    values = {
        "sec-ch-ua": ", ".join(names), "sec-ch-ua-mobile": "?1" if "Mobile" in ua else "?0",
        "sec-ch-ua-platform": _platform(ua), "accept": CHROMIUM_ACCEPT[dest],
        "accept-encoding": "gzip, deflate, br, zstd" if version >= 123 else "gzip, deflate, br",
        "accept-language": request.lang.chromium,
    }
    headers = _from_capture("chromium", 0 if dest == Dest.DOCUMENT else 1, ua, values)
    return headers, CHROMIUM_JA4 if version >= 113 else CHROMIUM_JA4_OLD


# --- Firefox (Gecko, NSS) ----------------------------------------------------------------------

FIREFOX_ACCEPT = {
    Dest.DOCUMENT: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
                   "image/webp,*/*;q=0.8",
    Dest.SCRIPT: "*/*",
    Dest.STYLE: "text/css,*/*;q=0.1",
    Dest.IMAGE: "image/avif,image/webp,*/*",
    Dest.FETCH: "*/*",
}
FIREFOX_JA4 = "t13d1715h2_5b57614c22b0_5c2c66f702b0"
"""Firefox 118 on (uTLS `firefox-120`; NSS's seventeen suites, ECH GREASE among fifteen
extensions)."""
FIREFOX_JA4_OLD = "t13d1715h2_5b57614c22b0_3d5424432f57"
"""Firefox 105-117 (the JA4 reference's Firefox 105 capture)."""


def firefox(request: Request) -> tuple[Headers, str | None]:
    """Firefox: its own order, no client hints, `Sec-Fetch-User` on navigations only."""
    ua, dest = request.ua, request.dest
    found = clientshape.FIREFOX_VERSION.search(ua)
    version = int(found.group(1)) if found else 0
    headers: list[tuple[str, str]] = [
        ("User-Agent", ua), ("Accept", FIREFOX_ACCEPT[dest]),
        ("Accept-Language", request.lang.firefox), ("Accept-Encoding", "gzip, deflate, br"),
    ]
    if dest == Dest.DOCUMENT:
        headers += [("Upgrade-Insecure-Requests", "1"), ("Sec-Fetch-Dest", "document"),
                    ("Sec-Fetch-Mode", "navigate"), ("Sec-Fetch-Site", "same-origin"),
                    ("Sec-Fetch-User", "?1")]
    else:
        headers += [("Sec-Fetch-Dest", "empty"), ("Sec-Fetch-Mode", "cors"),
                    ("Sec-Fetch-Site", "same-origin")]
    return tuple(headers), FIREFOX_JA4 if version >= 118 else FIREFOX_JA4_OLD


# --- WebKit on Apple's TLS: Safari, every iOS browser and web view, the iOS app ---------------

SAFARI_ACCEPT = {
    Dest.DOCUMENT: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    Dest.SCRIPT: "*/*",
    Dest.STYLE: "text/css,*/*;q=0.1",
    Dest.IMAGE: "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,"
                "image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5",
    Dest.FETCH: "*/*",
}
APPLE_JA4 = "t13d2014h2_a09f3c656075_14788d8d241b"
"""Safari 16-17 and iOS 16-17's system TLS, which URLSession and every web view share (uTLS
`safari-16`, `ios-16`)."""
_SAFARI_VERSION = re.compile(r"(?:OS |Version/)(\d+)[._](\d+)")


def safari(request: Request) -> tuple[Headers, str | None]:
    """WebKit: Safari's order; `Sec-Fetch-*` only from 16.4 on; no client hints."""
    ua, dest = request.ua, request.dest
    found = _SAFARI_VERSION.search(ua)
    version = (int(found.group(1)), int(found.group(2))) if found else (17, 0)
    fetch_meta = version >= (16, 4)
    headers: list[tuple[str, str]] = []
    if fetch_meta:
        headers.append(("Sec-Fetch-Dest", "document" if dest == Dest.DOCUMENT else "empty"))
    headers += [("User-Agent", ua), ("Accept", SAFARI_ACCEPT[dest])]
    if fetch_meta:
        headers += [("Sec-Fetch-Site", "same-origin"),
                    ("Sec-Fetch-Mode", "navigate" if dest == Dest.DOCUMENT else "no-cors")]
    headers += [("Accept-Language", request.lang.safari), ("Accept-Encoding", "gzip, deflate, br")]
    return tuple(headers), APPLE_JA4


def internet_explorer(request: Request) -> tuple[Headers, str | None]:
    """IE 11 on Windows' own TLS (Schannel): no JA4 on record."""
    accept = ("text/html, application/xhtml+xml, image/jxr, */*"
              if request.dest == Dest.DOCUMENT else "*/*")
    return (("Accept", accept), ("Accept-Language", request.lang.chromium.split(",")[0]),
            ("User-Agent", request.ua), ("Accept-Encoding", "gzip, deflate")), None


def browser(request: Request) -> tuple[Headers, str | None] | None:
    """The browser the agent names, as that browser sends its requests."""
    ua = request.ua
    if not ua.startswith("Mozilla/"):
        return None
    if "Trident/" in ua:
        return internet_explorer(request)
    if "Firefox/" in ua:
        return firefox(request)
    if "iPhone" in ua or "iPad" in ua or ("Macintosh" in ua and "Chrome/" not in ua):
        return safari(request)  # every iOS browser and web view is WebKit
    if clientshape.CHROMIUM_VERSION.search(ua):
        return chromium(request)
    return None


# --- Our app ------------------------------------------------------------------------------------

OKHTTP_JA4 = "t12d120700_d34a8e72043a_036209cd1ead"
"""OkHttp on Android's Conscrypt (uTLS `HelloAndroid_11_OkHttp`)."""


def app(request: Request) -> tuple[Headers, str | None] | None:
    """Our app's HTTP stack: URLSession on iOS (Apple's TLS), OkHttp on Android (its
    `Dalvik` agents are HttpURLConnection, which is OkHttp inside). None of it claims a
    browser, so no consistency check applies to it."""
    ua = request.ua
    if "iPhone" in ua or "iPad" in ua or "iOS" in ua:
        return (("Accept", "application/json"), ("Accept-Language", request.lang.safari),
                ("Accept-Encoding", "gzip, deflate, br"), ("User-Agent", ua)), APPLE_JA4
    if ua.startswith("Dalvik/"):
        return (("User-Agent", ua), ("Accept-Encoding", "gzip")), OKHTTP_JA4
    if ua.startswith(("ShopApp/", "okhttp/")):
        return (("Accept", "application/json"), ("Accept-Encoding", "gzip"),
                ("User-Agent", ua)), OKHTTP_JA4
    return None


# --- Crawlers and libraries -------------------------------------------------------------------

def crawler(request: Request) -> tuple[Headers, str | None] | None:
    """Declared crawlers as they document their requests; their TLS is not on record."""
    ua = request.ua
    if "Googlebot" in ua:
        return (("Accept", "text/html,application/xhtml+xml,application/signed-exchange;v=b3,"
                           "application/xml;q=0.9,*/*;q=0.8"),
                ("User-Agent", ua), ("Accept-Encoding", "gzip, deflate, br")), None
    if "bingbot" in ua:
        return (("Accept", "*/*"), ("User-Agent", ua), ("Accept-Encoding", "gzip, deflate")), None
    return None


def python_requests(request: Request) -> tuple[Headers, str | None]:
    """python-requests 2.34 as captured, under whatever agent it was given."""
    return (_from_capture("python-requests", 0, request.ua),
            capture("python-requests")[0]["ja4"])


def scrapy(request: Request) -> tuple[Headers, str | None]:
    """Scrapy's default headers in the order its middlewares add them; its Twisted/OpenSSL
    handshake is not on record."""
    return (("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            ("Accept-Language", "en"), ("User-Agent", request.ua),
            ("Accept-Encoding", "gzip, deflate, br")), None


def own(request: Request) -> tuple[Headers, str | None] | None:
    """Whatever the agent says the client is: a crawler (Googlebot's agent names Chrome too),
    our app, a browser."""
    return crawler(request) or app(request) or browser(request)


def in_fetch(request: Request) -> tuple[Headers, str | None] | None:
    """The agent's own browser, every request made by a script's `fetch()` inside it."""
    return browser(Request(request.ua, Dest.FETCH, request.lang))


STACKS: dict[str, tuple[Stack, bool]] = {
    "own": (own, True),
    "fetch": (in_fetch, True),
    "python-requests": (python_requests, False),
    "scrapy": (scrapy, False),
}
"""Stack name → (how it writes a request, whether it speaks each person's language: a tool
keeps its default)."""


@lru_cache(maxsize=8192)
def stack_of(name: str, ua: str, dest: Dest, lang: int) -> tuple[str | None, str | None]:
    """The (`hdr`, `tls`) values of one request: the header shape as the site's TLS
    terminator passes it on, and the JA4."""
    write, _ = STACKS[name]
    sent = write(Request(ua, dest, LANGUAGES[lang][0]))
    if sent is None:
        return None, None
    headers, ja4 = sent
    return clientshape.shape(ua, headers, secure=True), ja4


def dress(frame: Frame, name: str | None) -> Frame:
    """`frame` with `hdr` and `tls` written by stack `name` (None: not modelled); a frame that
    already carries stacks keeps them."""
    if name is None or frame.hdr is not None or not len(frame):
        return frame
    _, speaks = STACKS[name]
    ua_codes, ua_pool = _codes(frame.ua)
    if speaks:
        ident_codes, ident_pool = _codes(frame.identity)
        langs = np.array([language(i or "") for i in ident_pool], dtype=np.int64)[ident_codes]
    else:
        langs = np.full(len(frame), ENGLISH, dtype=np.int64)
    key = (ua_codes * len(Dest) + dests(frame.path)) * len(LANGUAGES) + langs
    unique, inverse = np.unique(key, return_inverse=True)
    hdr: list[str | None] = []
    tls: list[str | None] = []
    for k in unique.tolist():
        ua_code, rest = divmod(k, len(Dest) * len(LANGUAGES))
        dest, lang = divmod(rest, len(LANGUAGES))
        agent = ua_pool[ua_code]
        shape, ja4 = (None, None) if agent is None else stack_of(name, agent, Dest(dest), lang)
        hdr.append(shape)
        tls.append(ja4)
    frame.hdr = spread(hdr, inverse)
    frame.tls = spread(tls, inverse)
    return frame


def _codes(column: pa.Array) -> tuple[np.ndarray, list[str | None]]:
    """Row codes into a pool of values (a coded column's own pool, nulls coded past its end):
    no text is decoded per row."""
    if not isinstance(column, pa.DictionaryArray):
        column = pc.dictionary_encode(column)
    pool: list[str | None] = [*column.dictionary.to_pylist(), None]
    codes = pc.fill_null(column.indices, len(pool) - 1)
    return np.asarray(codes.to_numpy(zero_copy_only=False), dtype=np.int64), pool
