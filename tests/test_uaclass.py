"""User-agent classes: the packages' own answers, found fast, on real user agents."""

from __future__ import annotations

import random
import re
import time
from functools import cache

import crawleruseragents
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realdata import ELASTIC, read_lines
from scrapeguard import uaclass

LOG = ELASTIC

CHROME = ("Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/32.0.1700.107 Safari/537.36")
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:27.0) Gecko/20100101 Firefox/27.0"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
GOOGLEBOT_PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 6_0 like Mac OS X) AppleWebKit/536.26 (KHTML, like "
    "Gecko) Version/6.0 Mobile/10A5376e Safari/8536.25 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)"
)


@cache
def log_agents() -> tuple[str, ...]:
    """Distinct user agents of the real Apache log (the sixth quoted-field boundary)."""
    agents = set()
    for line in read_lines(LOG, errors="replace"):
        parts = line.split('"')
        if len(parts) >= 6:
            agents.add(parts[5])
    return tuple(sorted(agents))


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (GOOGLEBOT, "search-engine"),
        (GOOGLEBOT_PHONE, "search-engine"),
        ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
         "search-engine"),
        ("Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
         "search-engine"),
        (CHROME, "browser"),
        (FIREFOX, "browser"),
        ("Feedly/1.0 (+http://www.feedly.com/fetcher.html; like FeedFetcher-Google)",
         "feed-reader"),
        ("Tiny Tiny RSS/1.11 (http://tt-rss.org/)", "feed-reader"),
        ("curl/7.22.0 (i686-pc-linux-gnu) libcurl/7.22.0 OpenSSL/1.0.1 zlib/1.2.3.4 "
         "libidn/1.23 librtmp/2.3", "http-library"),
        ("python-requests/1.2.0 CPython/2.7.4 Linux/3.8.0-33-generic", "http-library"),
        ("Wget/1.13.4 (linux-gnu)", "http-library"),
        ("Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/534.34 (KHTML, like Gecko) "
         "PhantomJS/1.9.2 Safari/534.34", "browser-automation"),
        ("Mozilla/5.0 (compatible; AhrefsBot/5.0; +http://ahrefs.com/robot/)", "crawler"),
        ("Mozilla/5.0 (compatible; archive.org_bot +http://www.archive.org/details/"
         "archive.org_bot)", "crawler"),
        # Not in crawler-user-agents 1.67 and unknown to ua-parser: not a browser, not a
        # declared bot either.
        ("UniversalFeedParser/4.2-pre-314-svn +http://feedparser.org/", "unknown"),
    ],
)
def test_real_user_agents_from_the_log(ua: str, expected: str) -> None:
    assert ua in log_agents()
    assert uaclass.classify(ua) == expected


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "HeadlessChrome/120.0.0.0 Safari/537.36", "browser-automation"),
        ("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000003)", "scanner"),
        ("Scrapy/2.11.0 (+https://scrapy.org)", "http-library"),
        ("python-requests/2.31.0", "http-library"),
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
         "+https://openai.com/gptbot)", "ai-crawler"),
        ("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
         "monitoring"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/124.0.0.0 Safari/537.36", "browser"),
        ("zz-not-a-client", "unknown"),
    ],
)
def test_known_clients(ua: str, expected: str) -> None:
    assert uaclass.classify(ua) == expected


@pytest.mark.parametrize(("ua", "library"), [
    ("Java/1.6.0_04", True), ("Go-http-client/1.1", True), ("Python-urllib/2.7", True),
    ("Apache-HttpClient/4.3.6 (java 1.5)", True), ("libwww-perl/6.08", True), (None, True),
    ("", True), ("Feedly/1.0", False), ("WordPress/4.4.2; http://blog.example", False),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", False),
    ("Mozilla/5.0 (Windows NT 6.1; rv:7.0) Gecko/20100101 Firefox/7.0", False),
    # A bare token naming a bot is a named crawler (X's card fetcher sends exactly this).
    ("Twitterbot/1.0", False), ("redditbot/1.0", False), ("okhttp/4.12.0", True),
])
def test_library_agents(ua: str | None, library: bool) -> None:
    """A library left at its default string, whether the bot list names it or not."""
    assert uaclass.is_library(ua) is library


@pytest.mark.parametrize("ua", [None, "", "-", "  "])
def test_empty(ua: str | None) -> None:
    assert uaclass.classify(ua) == "empty"


def test_bot_classes() -> None:
    assert set(uaclass.CLASSES) - {"browser", "unknown", "empty"} == uaclass.BOT_CLASSES
    assert uaclass.is_bot_class("search-engine")
    assert uaclass.is_bot_class("crawler")
    assert not uaclass.is_bot_class("browser")
    assert not uaclass.is_bot_class("unknown")
    assert not uaclass.is_bot_class("empty")


def test_every_result_is_a_class() -> None:
    assert set(uaclass.classify_many(log_agents()).values()) <= set(uaclass.CLASSES)


def test_classify_many_keys_each_distinct_agent() -> None:
    result = uaclass.classify_many([GOOGLEBOT, CHROME, GOOGLEBOT, None])
    assert result == {GOOGLEBOT: "search-engine", CHROME: "browser", None: "empty"}


def test_tag_order_decides_between_two_classes() -> None:
    """An entry tagged ['advertising', 'search-engine'] is a search engine: the first tag
    that is a class of its own wins, other tags alone make a plain crawler."""
    assert uaclass._tag_class(["advertising", "search-engine"]) == "search-engine"
    assert uaclass._tag_class(["ai-crawler", "search-engine"]) == "ai-crawler"
    assert uaclass._tag_class(["seo"]) == "crawler"
    assert uaclass._tag_class([]) == "crawler"


def brute_first(patterns: list[re.Pattern[str]], text: str) -> int | None:
    return next((n for n, p in enumerate(patterns) if p.search(text)), None)


def every_example() -> list[str]:
    examples = [i for e in crawleruseragents.CRAWLER_USER_AGENTS_DATA
                for i in e.get("instances", ())]
    return [*log_agents(), *examples]


@pytest.mark.parametrize("index", ["_crawlers", "_browsers", "_devices", "_spiders"])
def test_index_finds_the_same_first_match_as_trying_every_pattern(index: str) -> None:
    first_match: uaclass._FirstMatch = getattr(uaclass, index)()
    patterns = [first_match.pattern(n) for n in range(len(first_match._compiled))]
    mismatches = [ua for ua in every_example()
                  if first_match.first(ua) != brute_first(patterns, ua)]
    assert mismatches == []


def test_crawler_classes_follow_the_first_matching_pattern() -> None:
    data = crawleruseragents.CRAWLER_USER_AGENTS_DATA
    patterns = [re.compile(e["pattern"]) for e in data]
    for ua in log_agents():
        first = brute_first(patterns, ua)
        if first is not None and ua.strip() not in ("", "-"):
            assert uaclass.classify(ua) == uaclass._tag_class(data[first].get("tags", []))


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("Googlebot\\/", {"googlebot/"}),
        ("[wW]get", {"wget"}),
        ("Ahrefs(Bot|SiteAudit)", {"ahrefs"}),
        ("(sistrix|SISTRIX) [cC]rawler", {" crawler"}),
        ("Automaton|Newsify Feed Fetcher", {"automaton", "newsify feed fetcher"}),
        ("^curl", {"curl"}),
        ("a?bcd", {"bcd"}),
        ("(?i)FooBar", {"foobar"}),
        ("(?=abc)de+f", {"de"}),
        ("x{2,}yz", {"yz"}),
        ("BlogTraffic\\/\\d\\.\\d+ Feed-Fetcher", {" feed-fetcher"}),
        ("(?:a|)bc", {"bc"}),
        ("\\x41bc", None),  # escapes it does not model: tried on every input
        ("(?x) a b c", None),
        (".*", None),
    ],
)
def test_required_literals(pattern: str, expected: set[str] | None) -> None:
    keys = uaclass.required_literals(pattern)
    assert (None if keys is None else set(keys)) == expected


SAMPLED = sorted(random.Random(7).sample(range(len(crawleruseragents.CRAWLER_USER_AGENTS_DATA)),
                                         200))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_required_literals_are_in_every_match(data: st.DataObject) -> None:
    """Soundness: any text a pattern matches contains one of its required literals."""
    number = data.draw(st.sampled_from(SAMPLED))
    pattern = crawleruseragents.CRAWLER_USER_AGENTS_DATA[number]["pattern"]
    keys = uaclass.required_literals(pattern)
    text = data.draw(st.from_regex(re.compile(pattern)))
    if keys is not None:
        assert any(k in text.casefold() for k in keys), (pattern, text)


def test_throughput_on_distinct_agents() -> None:
    """The batch engine classifies every distinct agent of a log; 100k must take seconds."""
    rng = random.Random(3)
    base = every_example()
    agents = {re.sub(r"\d+", lambda _: str(rng.randint(0, 9999)), rng.choice(base))
              for _ in range(6000)}
    uaclass.classify.cache_clear()
    uaclass._crawlers()
    uaclass._browsers()
    uaclass._devices()
    uaclass._spiders()
    uaclass._declared_scanners()
    started = time.perf_counter()
    uaclass.classify_many(agents)
    rate = len(agents) / (time.perf_counter() - started)
    assert rate > 5_000  # measured ~40-60k/s; a loose bound so a busy CI box does not flake


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_required_literals_hold_for_ua_parser_patterns(data: st.DataObject) -> None:
    """The same soundness over ua-parser's browser and device patterns (some ignore case)."""
    patterns = [(m.regex, m.flags) for m in uaclass._ua_matchers()]
    patterns += [(m.regex, m.flags) for m in uaclass._device_matchers()]
    regex, flags = data.draw(st.sampled_from(patterns))
    keys = uaclass.required_literals(regex)
    text: str = data.draw(st.from_regex(re.compile(regex, flags)))
    if keys is not None:
        assert any(k in text.casefold() for k in keys), (regex, text)
