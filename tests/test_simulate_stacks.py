"""Every scenario's client stack is the one its real client would present.

People's browsers, app users and good bots must pass every consistency check (a mismatch on a
real browser is a bug in the stack model or in the check); a harvester on an HTTP library
behind browser agents must fail them; a harvester that drives or impersonates real browsers
must not. The browser stacks are built from the same captures the clientshape tests use.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from captured import captured
from scrapeguard import clientshape
from scrapeguard.simulate import SCENARIOS, simulate, stacks
from scrapeguard.simulate.pools import agents
from test_simulate import Row, load

TOOLS_THAT_ARE_BROWSERS_OR_APPS = {"own", "fetch"}
LIBRARIES_BEHIND_BROWSER_AGENTS = {"enumerator", "stack_fleet"}
"""Their docstrings name python-requests under a borrowed browser agent."""


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Row]]:
    """A day of every registered scenario at 2 % volume, by scenario."""
    out = tmp_path_factory.mktemp("stacks")
    simulate(out, seed=13, hours=24, scale=0.02, scenarios=["all"])
    rows: dict[str, list[Row]] = defaultdict(list)
    for row in load(out):
        rows[row["scenario"]].append(row)
    return rows


def _judged(row: Row) -> clientshape.Judgement:
    return clientshape.judge(row["ua"], row["hdr"], row["tls"])


def test_every_scenario_names_a_known_stack() -> None:
    for name, cls in SCENARIOS.items():
        assert cls.client in stacks.STACKS, name


def test_browsers_apps_and_good_bots_pass_every_check(day: dict[str, list[Row]]) -> None:
    """People, app users, good bots, and harvesters running real browsers or the real app."""
    for name, rows in day.items():
        if SCENARIOS[name].client not in TOOLS_THAT_ARE_BROWSERS_OR_APPS:
            continue
        failed = [(r["ua"], _judged(r)) for r in rows if _judged(r) != clientshape.Judgement()]
        assert not failed, (name, failed[:3])
        claimed = [r for r in rows if clientshape.claim(r["ua"]).family]
        if SCENARIOS[name].label == "human" and name != "mobile_app":
            assert len(claimed) > 0.5 * len(rows), name  # the check did look at them


def test_every_browser_and_app_agent_in_the_pools_passes() -> None:
    """Every agent people are drawn with, for every kind of request, in every language."""
    for kind in ("browser", "inapp", "app"):
        for ua in agents(kind)[0]:
            for dest in stacks.Dest:
                for lang in range(len(stacks.LANGUAGES)):
                    hdr, tls = stacks.stack_of("own", ua, dest, lang)
                    assert hdr is not None, ua
                    assert clientshape.judge(ua, hdr, tls) == clientshape.Judgement(), (ua, dest)


def test_libraries_behind_browser_agents_fail_the_checks(day: dict[str, list[Row]]) -> None:
    for name in LIBRARIES_BEHIND_BROWSER_AGENTS:
        rows = [r for r in day[name] if clientshape.claim(r["ua"]).family]
        assert rows, name
        assert all(_judged(r).header for r in rows), name
        # requests' JA4 is judged only against a family with a list (Chromium's)
        chromium = [r for r in rows if clientshape.claim(r["ua"]).family == "chromium"]
        assert chromium, name
        assert all(_judged(r).tls for r in chromium), name
        assert len({r["tls"] for r in day[name]}) == 1


def test_app_agents_on_a_library_and_declared_tools_claim_nothing(
        day: dict[str, list[Row]]) -> None:
    """contact_importer's script and Scrapy share one stack, but claim no browser: nothing
    contradicts, so nothing is judged."""
    for name in ("contact_importer", "scrapy_crawler"):
        rows = day[name]
        assert all(r["hdr"] for r in rows)
        assert all(_judged(r) == clientshape.Judgement() for r in rows)
    assert {r["tls"] for r in day["contact_importer"]} == {
        captured("python-requests").ja4}


def test_impersonating_and_headless_fleets_carry_browser_stacks(
        day: dict[str, list[Row]]) -> None:
    """botnet impersonates its agents' browsers; headless drives real ones; merchant tools
    run in the merchant's browser: the checks cannot see any of them."""
    for name in ("botnet", "headless", "merchant_tool", "paced_crawl"):
        rows = day[name]
        assert rows, name
        assert all(r["hdr"] for r in rows), name
        assert all(_judged(r) == clientshape.Judgement() for r in rows), name


def test_chromium_stack_is_the_captured_chromium() -> None:
    """The simulator's Chrome writes the header shape curl_cffi's Chrome profile wrote (the
    same Chrome version, agent and language), and the captured headless Chromium's order."""
    chrome = captured("curl_cffi-chrome")
    hdr, tls = stacks.stack_of("own", chrome.ua, stacks.Dest.DOCUMENT, stacks.ENGLISH)
    assert hdr == chrome.shape()
    assert tls is not None
    assert clientshape.browser_tls()["chromium"].match(tls)
    assert clientshape.browser_tls()["chromium"].match(chrome.ja4)
    for index, dest in ((0, stacks.Dest.DOCUMENT), (1, stacks.Dest.IMAGE)):
        headless = captured("chromium", index)
        hdr, _ = stacks.stack_of("own", headless.ua, dest, stacks.ENGLISH)
        assert hdr is not None
        assert hdr.split("|")[3] == headless.shape().split("|")[3]  # the same names, in order


def test_requests_stack_is_the_captured_requests() -> None:
    fleet = captured("python-requests-chrome-ua")
    assert stacks.stack_of("python-requests", fleet.ua, stacks.Dest.DOCUMENT, 0) == (
        fleet.shape(), fleet.ja4)


def test_good_bots_and_apps_claim_no_browser_even_when_their_agent_names_chrome() -> None:
    googlebot = ("Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
                 "(KHTML, like Gecko) Chrome/122.0.6261.94 Mobile Safari/537.36 (compatible; "
                 "Googlebot/2.1; +http://www.google.com/bot.html)")
    hdr, tls = stacks.stack_of("own", googlebot, stacks.Dest.DOCUMENT, 0)
    assert hdr is not None
    assert hdr.startswith("-|none|")
    assert tls is None  # no capture of Google's TLS: none invented
    hdr, tls = stacks.stack_of("own", "ShopApp/8.4.1 (iPhone; iOS 17.3.1; Scale/3.00)",
                               stacks.Dest.FETCH, 0)
    assert hdr is not None
    assert hdr.startswith("-|none|")
    assert tls == stacks.APPLE_JA4
