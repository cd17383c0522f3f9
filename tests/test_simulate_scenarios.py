"""Each scenario has the shape it claims, and no single field gives harvesters away.

One day of every scenario at a few percent of the default volume: shapes are properties of
behaviour, not of volume, so they hold at any scale.
"""

from __future__ import annotations

import ipaddress
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest

from scrapeguard.simulate import simulate
from scrapeguard.simulate.pools import DATACENTER, residential, within
from scrapeguard.simulate.scenarios.botnet import Botnet
from scrapeguard.simulate.scenarios.bought_accounts import BoughtAccounts
from scrapeguard.simulate.scenarios.contact_importer import ContactImporter
from test_simulate import PERSONAL, Row, load, route


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> list[Row]:
    """A whole day of every scenario at 4 % of the default volume."""
    out = tmp_path_factory.mktemp("day")
    simulate(out, seed=11, hours=24, scale=0.04)
    return load(out)


def of(rows: list[Row], scenario: str) -> list[Row]:
    return [r for r in rows if r["scenario"] == scenario]


def by(rows: list[Row], key: str) -> dict[Any, list[Row]]:
    groups: dict[Any, list[Row]] = defaultdict(list)
    for r in rows:
        groups[r[key]].append(r)
    return groups


def test_subjects_follow_the_contract(day: list[Row]) -> None:
    """null where a route carries no personal data, a list where it does, [] for a miss."""
    for r in day:
        personal = route(r["path"]) in PERSONAL
        assert (r["subjects"] is not None) == personal, r
        assert (r["fields"] is not None) == personal
        if personal and r["subjects"]:
            assert r["fields"]
    lookups = [r for r in day if route(r["path"]) == "/api/contacts/lookup"]
    assert any(r["subjects"] == [] and r["status"] == 200 for r in lookups)


def test_contact_importer_stays_under_every_address_cap(day: list[Row]) -> None:
    rows = of(day, "contact_importer")
    cap = ContactImporter()
    for ip, hits in by(rows, "ip").items():
        ts = np.array(sorted(_ms(r["ts"]) for r in hits))
        in_minute = np.searchsorted(ts, ts + 60_000, side="left") - np.arange(len(ts))
        in_hour = np.searchsorted(ts, ts + 3_600_000, side="left") - np.arange(len(ts))
        assert in_minute.max() <= cap.per_minute, ip
        assert in_hour.max() <= cap.per_hour, ip
    assert len(by(rows, "ip")) >= 50
    assert all(residential(r["ip"]) for r in rows)
    misses = sum(1 for r in rows if r["subjects"] == [])
    assert misses / len(rows) > 0.8


def test_enumerator_walks_ids_one_by_one(day: list[Row]) -> None:
    rows = of(day, "enumerator")
    ids = [int(r["path"].rsplit("/", 1)[1]) for r in rows]
    assert len(ids) > 100
    assert np.all(np.diff(ids) == 1)
    assert len({r["ip"] for r in rows}) == 1


def test_botnet_takes_a_handful_per_address_per_day(day: list[Row]) -> None:
    rows = of(day, "botnet")
    per_day = Counter((r["ip"], r["ts"][:10]) for r in rows)
    assert len({ip for ip, _ in per_day}) >= 100
    assert max(per_day.values()) <= Botnet().max_per_day


def test_bought_accounts_stay_under_quota_on_rotating_cloud_addresses(day: list[Row]) -> None:
    rows = of(day, "bought_accounts")
    for account, hits in by(rows, "account").items():
        assert max(Counter(r["ts"][:10] for r in hits).values()) <= BoughtAccounts().quota
        assert len({r["ip"] for r in hits}) >= min(10, len(hits) // 2), account
    assert all(within(r["ip"], DATACENTER) for r in rows)


def test_good_bots_come_from_their_ranges_and_read_robots(day: list[Row]) -> None:
    ranges = {
        "searchbots:googlebot": [ipaddress.ip_network("66.249.64.0/19")],
        "searchbots:bingbot": [ipaddress.ip_network(n) for n in
                               ("157.55.39.0/24", "207.46.13.0/24", "40.77.167.0/24")],
    }
    for identity, hits in by(of(day, "searchbots"), "identity").items():
        assert all(any(ipaddress.ip_address(r["ip"]) in n for n in ranges[identity])
                   for r in hits)
        assert any(r["path"] == "/robots.txt" for r in hits), identity
    monitors = of(day, "uptime")
    assert {r["path"] for r in monitors} == {"/"}
    assert len(monitors) >= 2 * 24 * 60 - 10


def test_people_first_request_has_no_session(day: list[Row]) -> None:
    for scenario in ("shoppers", "cgnat", "office_nat", "merchants"):
        for identity, hits in by(of(day, scenario), "identity").items():
            assert hits[0]["session"] is None, identity
            assert any(r["session"] for r in hits) or len(hits) == 1


def test_every_account_belongs_to_one_identity(day: list[Row]) -> None:
    """An account shared by a person and a harvester would make account-keyed decisions
    unscorable; bought and merchant accounts are each used by one campaign only."""
    owners: dict[str, set[str]] = defaultdict(set)
    for r in day:
        if r["account"]:
            owners[r["account"]].add(r["identity"])
    assert len(owners) > 100
    assert all(len(who) == 1 for who in owners.values())


def test_shared_addresses_hold_many_people(day: list[Row]) -> None:
    office = by(of(day, "office_nat"), "ip")
    assert max(len({r["identity"] for r in hits}) for hits in office.values()) >= 30
    cgnat = of(day, "cgnat")
    assert all(ipaddress.ip_address(r["ip"]) in ipaddress.ip_network("100.64.0.0/10")
               for r in cgnat)
    assert len({r["identity"] for r in cgnat}) > 5 * len({r["ip"] for r in cgnat})


def test_people_are_varied(day: list[Row]) -> None:
    """Tidy people flatter detection: check the untidy parts are there."""
    people = [r for r in day if r["label"] == "human"]
    agents = {r["ua"] for r in people}
    assert len(agents) > 60
    for marker in ("FBAN/", "Instagram", "MicroMessenger", "okhttp", "Firefox", "CriOS"):
        assert any(marker in ua for ua in agents), marker
    assert any(":" in r["ip"] for r in people)  # IPv6
    assert any(within(r["ip"], DATACENTER) for r in people)  # VPNs, cloud desktops
    assert any(r["status"] == 404 for r in people)
    assert any(r["status"] == 304 for r in people)
    assert any(r["referer"] is None for r in people if route(r["path"]) == "/user/{n}")
    assert any(r["account"] for r in people)
    assert any(r["account"] is None for r in people)
    app = of(day, "mobile_app")
    assert all(r["referer"] is None and r["session"] for r in app)
    merchants = by(of(day, "merchants"), "identity")
    busiest = max(merchants.values(), key=len)
    views = [r["path"] for r in busiest if route(r["path"]) == "/user/{n}"]
    assert len(set(views)) >= 100
    assert len(views) > len(set(views))


def test_harvesters_behave_as_described(day: list[Row]) -> None:
    tool = of(day, "merchant_tool")
    assert all(r["account"] and r["session"] for r in tool)
    profiles = [r for r in tool if route(r["path"]) == "/user/{n}"]
    assert sum(1 for r in profiles if r["referer"]) >= 0.98 * len(profiles)  # but after re-login
    headless = of(day, "headless")
    assert any(route(r["path"]) == "/static/*" for r in headless)
    assert any("HeadlessChrome" in r["ua"] for r in headless)
    assert any("HeadlessChrome" not in r["ua"] for r in headless)
    scrapy = of(day, "scrapy_crawler")
    assert scrapy[0]["path"] == "/robots.txt"
    assert scrapy[0]["session"] is None
    assert all(r["ua"].startswith("Scrapy/2.11") for r in scrapy)


def test_no_single_field_separates_harvesters_by_artifact(day: list[Row]) -> None:
    """Each field a detector may read must not give harvesters away through how the
    simulator made them, only through what they do. For every route both use:

    - status: the site answers by route and outcome (found, cached, gone), never by who asks;
      a status only harvesters get would let a detector learn the simulator, not the crime.
      5xx outages hit whoever is there and are left out.
    - bytes: sizes come from the same resource for everyone; harvesters' sizes must fall in
      people's range for the same route and status, or size alone would label them.
    - ua: every browser agent a harvester sends is also sent by people, since scraping kits
      copy common agents; agents that declare a tool (Scrapy, HeadlessChrome) are real tells
      and may stay.
    - session, referer presence and method: harvesters that keep cookies or fake referers
      exist and so do people without them; the mere presence of either must not separate.
    The only route people never use is /robots.txt, which polite crawlers really do fetch.
    """
    from scrapeguard.uaclass import classify, is_bot_class

    people = [r for r in day if r["label"] == "human"]
    harvest = [r for r in day if r["label"] == "scraper"]
    seen: dict[str, dict[str, set[Any]]] = defaultdict(lambda: defaultdict(set))
    sizes: dict[tuple[str, int], list[int]] = defaultdict(list)
    for r in people:
        values = seen[route(r["path"])]
        values["status"].add(r["status"])
        values["session"].add(r["session"] is not None)
        values["referer"].add(r["referer"] is not None)
        values["method"].add(r["method"])
        sizes[route(r["path"]), r["status"]].append(r["bytes"])
    people_agents = {r["ua"] for r in people}
    assert {route(r["path"]) for r in harvest} - set(seen) <= {"/robots.txt"}
    outside: Counter[tuple[str, int]] = Counter()
    compared: set[str] = set()
    for r in harvest:
        where = route(r["path"])
        if where not in seen or r["status"] >= 500:
            continue
        compared.add(where)
        values = seen[where]
        assert r["status"] in values["status"], (where, r["status"])
        assert (r["session"] is not None) in values["session"], (where, "session")
        assert (r["referer"] is not None) in values["referer"], (where, "referer")
        assert r["method"] in values["method"], (where, r["method"])
        known = sizes[where, r["status"]]
        if not min(known) <= r["bytes"] <= max(known):
            outside[where, r["status"]] += 1
        if not is_bot_class(classify(r["ua"])) and "HeadlessChrome" not in r["ua"]:
            assert r["ua"] in people_agents, r["ua"]
    assert sum(outside.values()) <= 0.01 * len(harvest), outside
    assert {"/user/{n}", "/api/v1/users/{n}", "/api/contacts/lookup", "/product/{n}/reviews",
            "/static/*", "/img/p/{n}.jpg"} <= compared  # the check is not vacuous


def _ms(ts: str) -> int:
    day, clock = int(ts[8:10]) - 2, ts[11:23]
    h, m, s = clock.split(":")
    return ((day * 24 + int(h)) * 60 + int(m)) * 60_000 + round(float(s) * 1000)
