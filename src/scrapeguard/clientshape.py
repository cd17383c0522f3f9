"""Client fingerprints beyond the user agent: the header shape, the TLS fingerprint, and
whether either agrees with the browser the user agent claims.

A user agent is one header any client can copy. The rest of a request is harder to copy
consistently: which headers a client sends and in what order, its `Accept-Language` and
`Accept-Encoding`, Chromium's client hints (`Sec-CH-UA*`), and the TLS ClientHello its TLS
library writes (as JA4, read from a header the TLS terminator sets). A fleet that drives one
HTTP library behind rotating browser user agents shares these, and they contradict its claim.

Defined once here and used by the middleware and the service (which see the headers), the
sources (a log that carries the fields) and both engines (which derive the flags):

- `shape(ua, headers, secure)`: the header shape as text (`hdr` in the event contract);
- `hdr_key(shape)`, `tls_key(ua, tls)`: the actor values of the `hdr` and `tls` key kinds;
- `judge(ua, shape, tls)`: which consistency checks fail (`Verdict` of the two rules' flags).

Header *values* enter the shape only where they describe the client stack (Accept-Language,
Accept-Encoding, Accept, the client-hint brands without versions); cookies, referers, hosts
and whatever a proxy adds never do, so the shape is the same for a stack behind any proxy.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from scrapeguard import uaclass
from scrapeguard.policy.patterns import Matcher, compile_pattern

SHAPE_HEADERS = (
    "user-agent", "accept", "accept-language", "accept-encoding", "sec-ch-ua",
    "sec-ch-ua-mobile", "sec-ch-ua-platform", "sec-fetch-site", "sec-fetch-mode",
    "sec-fetch-user", "sec-fetch-dest", "upgrade-insecure-requests", "dnt", "te", "priority",
    "pragma",
)
"""Headers the client's own stack writes, whose presence and relative order make the shape.
Left out: `host`, `connection`, `content-length` (a TLS terminator rewrites them), `cookie`,
`authorization`, `referer`, `origin`, conditional and cache headers (they depend on the page
and on reloads, not on the stack: curl_cffi's Chrome profile sends `cache-control: max-age=0`,
a reload's), and anything a proxy adds (`x-forwarded-*`, `via`, the TLS fingerprint header)."""

CLAIMS = ("chromium", "firefox", "safari")
"""Browser families a user agent can claim; anything else claims nothing and is not judged."""

MIN_HINTS_VERSION = 90
"""Chromium sends `Sec-CH-UA` by default from version 89 on; one version of margin."""

CHROMIUM_VERSION = re.compile(r"(?:Chrome|Chromium|HeadlessChrome)/(\d+)")
"""A Chromium agent's major version (group 1); the simulator's stacks read it too."""
FIREFOX_VERSION = re.compile(r"Firefox/(\d+)")
_SAFARI = re.compile(r"Version/[\d.]+ (?:Mobile/\w+ )?Safari/")
_WEBVIEW = re.compile(r"; wv\)")
_BRAND = re.compile(r'"([^"]*)"\s*;\s*v\s*=\s*"(\d+)')
_JA4 = re.compile(r"[tqd](?:1[0-3]|s3|00)[di]\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}")
_SEP = "|"
MAX_HINTS = 512
"""Characters of `Sec-CH-UA` read: a browser's is under 100; a client's text is bounded."""


@dataclass(frozen=True)
class Claim:
    """The browser family a user agent claims, and its major version (0 when unknown)."""

    family: str | None
    version: int = 0


@lru_cache(maxsize=65536)
def claim(ua: str | None) -> Claim:
    """What browser the user agent says it is; only agents that read as a browser (or a
    headless browser, which is one) claim anything: a crawler naming Chrome claims nothing.
    Neither does an Android WebView's agent (`; wv)`): apps put it on their own HTTP
    client's calls (OkHttp, Cronet) beside the WebView's, so it names an app, not a stack."""
    if not ua or uaclass.classify(ua) not in ("browser", "browser-automation"):
        return Claim(None)
    if _WEBVIEW.search(ua):
        return Claim(None)
    if found := CHROMIUM_VERSION.search(ua):
        return Claim("chromium", int(found.group(1)))
    if found := FIREFOX_VERSION.search(ua):
        return Claim("firefox", int(found.group(1)))
    if _SAFARI.search(ua):
        return Claim("safari")
    return Claim(None)


def _clean(value: str, limit: int = 120) -> str:
    """A header value as the shape keeps it: trimmed, lower case, no separator, bounded."""
    return " ".join(value.lower().replace(_SEP, " ").split())[:limit]


def _brands(value: str) -> list[tuple[str, int]]:
    """The client-hint brands and versions, GREASE brands (`Not A;Brand`) left out."""
    return [(name, int(v)) for name, v in _BRAND.findall(value[:MAX_HINTS])
            if not name.lower().startswith("not")]


def shape(ua: str | None, headers: tuple[tuple[str, str], ...] | list[tuple[str, str]],
          secure: bool) -> str:
    """The header shape: claimed family, whether the hints agree, transport, the stack's
    header names in order, and the values that describe the stack. `headers` are (name,
    value) in the order received; names in any case. `secure`: the request came over TLS
    (Chromium sends client hints only there, and to localhost)."""
    seen: dict[str, str] = {}
    for name, value in headers:
        lowered = name.lower()
        if lowered in SHAPE_HEADERS and lowered not in seen:
            seen[lowered] = value
    said = claim(ua)
    hints = seen.get("sec-ch-ua")
    brands = _brands(hints) if hints is not None else []
    if hints is None:
        agree = "none"
    elif said.family != "chromium":
        agree = "foreign"
    else:
        versions = {v for name, v in brands if name in ("Chromium", "Google Chrome")}
        agree = "agree" if not versions or versions == {said.version} else "disagree"
    parts = [
        said.family or "-",
        agree,
        "s" if secure else "p",
        ",".join(seen),
        "al=" + _clean(seen.get("accept-language", "")),
        "ae=" + _clean(seen.get("accept-encoding", "")),
        "ac=" + _clean(seen.get("accept", "")),
        "ch=" + ",".join(sorted(name.lower() for name, _ in brands)),
    ]
    if said.family == "chromium":  # the hints' duty depends on the version and transport
        due = secure and said.version >= MIN_HINTS_VERSION
        parts.append("due" if due else "-")
    return _SEP.join(parts)


def hdr_key(text: str | None) -> str | None:
    """The `hdr` actor value of a shape: a short hash, the same in every engine and node."""
    if not text:
        return None
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]


def tls_key(ua: str | None, tls: str | None) -> str | None:
    """The `tls` actor value: the fingerprint under the family the agent claimed. A decision
    on python-requests' TLS behind Chrome's user agent must not reach the honest clients of
    the same library, which claim nothing."""
    if not tls:
        return None
    text = tls.strip()
    if not _JA4.fullmatch(text):
        text = hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()[:16]
    return f"{claim(ua).family or '-'}/{text}"


@dataclass(frozen=True)
class Judgement:
    """Which consistency checks a request fails; empty tuples when it claims no browser."""

    header: tuple[str, ...] = ()
    tls: tuple[str, ...] = ()


HEADER_CHECKS = {
    "no-language": "a browser's user agent without Accept-Language, which every browser sends",
    "no-hints": "Chromium's user agent over TLS without the Sec-CH-UA client hints it sends",
    "hints-disagree": "the client hints name another Chromium version than the user agent",
    "foreign-hints": "Firefox's or Safari's user agent with Chromium's client hints",
}
TLS_CHECKS = {"foreign-tls": "a browser's user agent over a TLS stack that browser never uses"}


@lru_cache(maxsize=65536)
def judge(ua: str | None, text: str | None, tls: str | None) -> Judgement:
    """The consistency checks (`HEADER_CHECKS`, `TLS_CHECKS`) a request fails."""
    said = claim(ua)
    if said.family is None:
        return Judgement()
    header: list[str] = []
    if text:
        fields = text.split(_SEP)
        agree, names = fields[1], fields[3].split(",")
        if "accept-language" not in names:
            header.append("no-language")
        if said.family == "chromium" and agree == "none" and fields[-1] == "due":
            header.append("no-hints")
        if agree == "disagree":
            header.append("hints-disagree")
        if agree == "foreign":
            header.append("foreign-hints")
    found: list[str] = []
    if tls and _JA4.fullmatch(tls.strip()) and tls.strip()[0] == "t":
        patterns = browser_tls().get(said.family)
        if patterns is not None and not patterns.match(tls.strip()):
            found.append("foreign-tls")
    return Judgement(tuple(header), tuple(found))


@lru_cache(maxsize=1)
def browser_tls() -> dict[str, Matcher]:
    """Family → the JA4s (over TCP) its TLS stack writes (`policy/data/browser_tls.txt`).
    A family without a line is not judged on TLS."""
    text = resources.files("scrapeguard.policy").joinpath("data/browser_tls.txt").read_text()
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            family, pattern = line.split(None, 1)
            found.setdefault(family, []).append(pattern.strip())
    return {family: compile_pattern("^(?:" + "|".join(f"(?:{p})" for p in patterns) + ")$")
            for family, patterns in found.items()}
