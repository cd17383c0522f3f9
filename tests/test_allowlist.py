"""Allowlists: verified crawlers only from their published ranges, networks, accounts, proxies."""

from __future__ import annotations

import ipaddress
import random
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.allowlist import (
    Allowlister,
    NetworkSet,
    TrustedProxies,
    parse_ip,
    search_engines,
)
from scrapeguard.policy.model import Policy

GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
BINGBOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
APPLEBOT = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like "
            "Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)")
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"


def allower(**allowlist: object) -> Allowlister:
    return Allowlister(Policy.model_validate({"allowlist": allowlist}))


def test_verified_googlebot() -> None:
    assert allower().allows("66.249.66.1", GOOGLEBOT, None) == "verified Googlebot"


def test_impostor_googlebot_is_not_allowed() -> None:
    assert allower().allows("203.0.113.9", GOOGLEBOT, None) is None
    # a real Bing address does not make a Googlebot claim true either
    assert allower().allows("157.55.39.10", GOOGLEBOT, None) is None


def test_googlebot_over_ipv6() -> None:
    assert allower().allows("2001:4860:4801:10::1", GOOGLEBOT, None) == "verified Googlebot"
    assert allower().allows("2001:4860:4802::1", GOOGLEBOT, None) is None
    assert allower().allows("::ffff:66.249.66.1", GOOGLEBOT, None) == "verified Googlebot"


def test_other_engines() -> None:
    assert allower().allows("157.55.39.10", BINGBOT, None) == "verified Bingbot"
    assert allower().allows("17.58.101.3", APPLEBOT, None) == "verified Applebot"
    duck = "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)"
    assert allower().allows("20.191.45.212", duck, None) == "verified DuckDuckBot"
    assert allower().allows("20.191.45.213", duck, None) is None


def test_a_browser_from_a_crawler_range_is_not_a_crawler() -> None:
    assert allower().allows("66.249.66.1", CHROME, None) is None
    assert allower().allows("66.249.66.1", None, None) is None


def test_search_engines_can_be_switched_off() -> None:
    assert allower(search_engines=False).allows("66.249.66.1", GOOGLEBOT, None) is None


def test_loopback_and_private_are_not_allowlisted_by_default() -> None:
    for ip in ("127.0.0.1", "::1", "10.1.2.3", "192.168.0.7", "172.16.5.5", "fd00::1"):
        assert allower().allows(ip, GOOGLEBOT, None) is None


def test_networks_and_accounts() -> None:
    allow = allower(cidrs=["10.0.0.0/8", "10.1.0.0/16", "2001:db8::/32"], accounts=["svc-export"])
    assert allow.allows("10.2.3.4", CHROME, None) == "allowlisted network 10.0.0.0/8"
    assert allow.allows("10.1.3.4", CHROME, None) == "allowlisted network 10.0.0.0/8"
    assert allow.allows("2001:db8:1::5", None, None) == "allowlisted network 2001:db8::/32"
    assert allow.allows("11.0.0.1", CHROME, None) is None
    assert allow.allows("203.0.113.1", CHROME, "svc-export") == "allowlisted account svc-export"
    assert allow.allows("203.0.113.1", CHROME, "someone") is None


def test_garbage_addresses_are_not_allowed() -> None:
    allow = allower(cidrs=["0.0.0.0/0"])
    for ip in (None, "", "-", "unknown", "1.2.3", "300.1.1.1", "66.249.66.1.5", "::g"):
        assert allow.allows(ip, GOOGLEBOT, None) is None


def test_parse_ip() -> None:
    assert parse_ip("192.0.2.1") == (4, int(ipaddress.ip_address("192.0.2.1")))
    assert parse_ip(" 2001:db8::1 ") == (6, int(ipaddress.ip_address("2001:db8::1")))
    assert parse_ip("::ffff:192.0.2.1") == parse_ip("192.0.2.1")
    assert parse_ip("fe80::1%eth0") == (6, int(ipaddress.ip_address("fe80::1")))
    assert parse_ip("not an ip") is None


def test_snapshot_is_dated_and_sane() -> None:
    snapshot, engines = search_engines()
    assert snapshot.year >= 2025
    assert {e.name for e in engines} >= {"Googlebot", "Bingbot", "Applebot"}
    for engine in engines:
        re.compile(engine.ua)
        for cidr in engine.cidrs:
            network = ipaddress.ip_network(cidr)  # strict: no host bits in the snapshot
            assert not network.is_private, (engine.name, cidr)
            assert not network.is_loopback, (engine.name, cidr)
    by_name = {e.name: e for e in engines}
    assert "66.249.64.0/19" in by_name["Googlebot"].cidrs
    assert any(c.startswith("2001:4860:4801:") for c in by_name["Googlebot"].cidrs)


@pytest.mark.parametrize(
    ("ua", "engine"),
    [
        (GOOGLEBOT, "Googlebot"),
        ("Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)", "Googlebot"),
        ("AdsBot-Google (+http://www.google.com/adsbot.html)", "Googlebot"),
        ("msnbot/2.0b (+http://search.msn.com/msnbot.htm)", "Bingbot"),
        (BINGBOT, "Bingbot"),
        (APPLEBOT, "Applebot"),
        (CHROME, None),
    ],
)
def test_claims(ua: str, engine: str | None) -> None:
    assert allower().claimed_engine(ua) == engine


networks = st.one_of(
    st.builds(lambda a, p: ipaddress.ip_network((a, p), strict=False),
              st.integers(0, 2**32 - 1), st.integers(0, 32)),
    st.builds(lambda a, p: ipaddress.ip_network((a, p), strict=False),
              st.integers(0, 2**128 - 1), st.integers(0, 128)),
)


@settings(max_examples=200, deadline=None)
@given(
    nets=st.lists(networks, max_size=12),
    probes=st.lists(st.one_of(st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
                              st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address)),
                    max_size=20),
)
def test_network_set_agrees_with_ipaddress(
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network],
    probes: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
) -> None:
    found = NetworkSet((n, str(n)) for n in nets)
    # probe the edges of every network too, where off-by-one mistakes live
    edges = [a for n in nets for a in (n.network_address, n.broadcast_address)]
    for address in [*probes, *edges]:
        holders = [n for n in nets if address in n]
        label = found.find(parse_ip(str(address)))
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            continue  # read as IPv4 on purpose
        assert (label is not None) == bool(holders)
        if label is not None:
            broadest = min(holders, key=lambda n: n.prefixlen)
            assert label == str(broadest)


class TestTrustedProxies:
    proxies = TrustedProxies(["10.0.0.0/8", "2001:db8:ffff::/48"])

    def test_client_behind_our_proxies(self) -> None:
        assert self.proxies.resolve("10.0.0.2", "203.0.113.7, 10.0.0.3") == "203.0.113.7"

    def test_spoofed_entries_left_of_the_client_are_ignored(self) -> None:
        # the client wrote 66.249.66.1 itself; our proxy appended the address it really saw
        assert self.proxies.resolve("10.0.0.2", "66.249.66.1, 198.51.100.9") == "198.51.100.9"

    def test_xff_from_an_untrusted_peer_is_ignored(self) -> None:
        assert self.proxies.resolve("198.51.100.9", "66.249.66.1") == "198.51.100.9"
        assert self.proxies.resolve("198.51.100.9", "10.0.0.5, 66.249.66.1") == "198.51.100.9"

    def test_malformed_entries_are_skipped(self) -> None:
        xff = "203.0.113.7, unknown, , 999.1.1.1, 10.0.0.3"
        assert self.proxies.resolve("10.0.0.2", xff) == "203.0.113.7"

    def test_no_header(self) -> None:
        assert self.proxies.resolve("10.0.0.2", None) == "10.0.0.2"
        assert self.proxies.resolve("10.0.0.2", "") == "10.0.0.2"
        assert self.proxies.resolve("10.0.0.2", "garbage") == "10.0.0.2"

    def test_all_hops_trusted_gives_the_farthest(self) -> None:
        assert self.proxies.resolve("10.0.0.2", "10.9.9.9, 10.0.0.3") == "10.9.9.9"

    def test_ports_and_ipv6(self) -> None:
        assert self.proxies.resolve("2001:db8:ffff::1", "[2001:db8::7]:443") == "2001:db8::7"
        assert self.proxies.resolve("10.0.0.2", "203.0.113.7:5123") == "203.0.113.7"

    def test_nobody_trusted(self) -> None:
        assert TrustedProxies([]).resolve("10.0.0.2", "203.0.113.7") == "10.0.0.2"


def test_throughput_on_distinct_triples() -> None:
    """The batch engine checks every distinct (ip, ua, account); 1M must take seconds."""
    allow = allower(cidrs=["10.0.0.0/8", "2001:db8::/32"], accounts=["svc"])
    rng = random.Random(5)
    uas = [GOOGLEBOT, BINGBOT, CHROME, *(f"agent {n}" for n in range(500))]
    triples = [
        (f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}."
         f"{rng.randrange(256)}" if n % 4 else f"2001:{rng.getrandbits(16):x}::{n:x}",
         rng.choice(uas), None if n % 3 else f"u{n}")
        for n in range(50_000)
    ]
    started = time.perf_counter()
    for ip, ua, account in triples:
        allow.allows(ip, ua, account)
    rate = len(triples) / (time.perf_counter() - started)
    assert rate > 50_000  # measured ~700k/s; loose so a busy CI box does not flake
