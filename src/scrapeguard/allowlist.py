"""Who is let through without judgement: verified crawlers, allowlisted networks and accounts.

All offline: verified search engines come from a dated snapshot of their published ranges
(`policy/data/search_engines.yaml`), not from reverse DNS, so the batch engine can replay a log
of a million distinct clients without a network call and get the same answer every time.

The batch engine asks once per distinct (ip, user agent, account) triple, so the lookups are
built for volume: networks become sorted integer ranges per IP version, searched by bisection,
and addresses are read with `inet_pton` rather than `ipaddress` objects.
"""

from __future__ import annotations

import ipaddress
import socket
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib.resources import files

import yaml
from pydantic import BaseModel, ConfigDict

from scrapeguard.canonical import canonical_ip
from scrapeguard.policy.model import Policy, SearchEngine
from scrapeguard.policy.patterns import Matcher, compile_pattern

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_MAPPED_V4 = 0xFFFF << 32
"""`::ffff:a.b.c.d` — an IPv4 client seen through a dual-stack socket."""


def parse_ip(text: str | None) -> tuple[int, int] | None:
    """(version, integer) of an address, or None when it is not one.

    IPv4-mapped IPv6 addresses count as IPv4, and a zone (`fe80::1%eth0`) is dropped, so the
    same client always gets the same answer however the server printed it.
    """
    if not text:
        return None
    text = text.strip()
    try:
        if ":" not in text:
            return 4, int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        value = int.from_bytes(socket.inet_pton(socket.AF_INET6, text.split("%", 1)[0]), "big")
    except (OSError, ValueError):
        return None
    if value >> 32 == 0xFFFF:
        return 4, value - _MAPPED_V4
    return 6, value


class NetworkSet:
    """Networks with a label each; `find` answers which one holds an address, by bisection.

    CIDR blocks either nest or are disjoint, so dropping every block inside another leaves
    disjoint ranges, and the one whose start is the last at or below an address is the only
    candidate.
    """

    def __init__(self, entries: Iterable[tuple[Network, str]]) -> None:
        by_version: dict[int, list[tuple[int, int, str]]] = {4: [], 6: []}
        for network, label in entries:
            first = int(network.network_address)
            by_version[network.version].append((first, first + network.num_addresses - 1, label))
        self._starts: dict[int, list[int]] = {}
        self._ends: dict[int, list[int]] = {}
        self._labels: dict[int, list[str]] = {}
        for version, ranges in by_version.items():
            kept: list[tuple[int, int, str]] = []
            for start, end, label in sorted(ranges, key=lambda r: (r[0], -r[1])):
                if kept and end <= kept[-1][1]:
                    continue
                kept.append((start, end, label))
            self._starts[version] = [r[0] for r in kept]
            self._ends[version] = [r[1] for r in kept]
            self._labels[version] = [r[2] for r in kept]

    def __len__(self) -> int:
        return sum(len(s) for s in self._starts.values())

    def find(self, address: tuple[int, int] | None) -> str | None:
        """The label of the network holding a parsed address (see `parse_ip`), or None."""
        if address is None:
            return None
        version, value = address
        index = bisect_right(self._starts[version], value) - 1
        if index >= 0 and value <= self._ends[version][index]:
            return self._labels[version][index]
        return None

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and self.find(parse_ip(text)) is not None


def parse_networks(cidrs: Iterable[str]) -> list[Network]:
    """Networks from CIDR strings; a bare address is a /32 or /128, host bits are cleared.

    Raises ValueError naming the first string that is not a network (the policy loader has
    already reported these with their line numbers).
    """
    return [ipaddress.ip_network(c.strip(), strict=False) for c in cidrs]


class _Snapshot(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    snapshot: date
    engines: list[SearchEngine]


@lru_cache(maxsize=1)
def search_engines() -> tuple[date, tuple[SearchEngine, ...]]:
    """The shipped snapshot of published crawler ranges: its date and the engines."""
    text = files("scrapeguard.policy").joinpath("data/search_engines.yaml").read_text("utf-8")
    snapshot = _Snapshot.model_validate(yaml.safe_load(text))
    return snapshot.snapshot, tuple(snapshot.engines)


@dataclass(frozen=True)
class _Engine:
    name: str
    claim: Matcher
    """Matched against a client's user agent: RE2, linear in however long an agent is sent."""
    networks: NetworkSet


class Allowlister:
    """Answers whether a request is let through unjudged, and why.

    Order: an allowlisted account, an allowlisted network, then a crawler whose user agent
    claims a search engine and whose address is in that engine's ranges. A claim from outside
    them is an impostor and gets no pass (it is then judged like any other client).
    """

    def __init__(self, policy: Policy, engines: Sequence[SearchEngine] | None = None) -> None:
        allow = policy.allowlist
        self._accounts = frozenset(allow.accounts)
        self._networks = NetworkSet(
            (net, f"allowlisted network {net}") for net in parse_networks(allow.cidrs)
        )
        if engines is None:
            engines = search_engines()[1] if allow.search_engines else ()
        self._engines = tuple(
            _Engine(
                e.name,
                compile_pattern(e.ua, ignore_case=True),
                NetworkSet((net, f"verified {e.name}") for net in parse_networks(e.cidrs)),
            )
            for e in engines
        )
        # Per-instance caches: a live service sees the same few clients over and over.
        self._claimed = lru_cache(maxsize=65_536)(self._claimed_engine)
        self._by_address = lru_cache(maxsize=262_144)(self._address_reason)

    def allows(self, ip: str | None, ua: str | None, account: str | None = None) -> str | None:
        """Why this request is allowlisted ('verified Googlebot', …), or None."""
        if account is not None and account in self._accounts:
            return f"allowlisted account {account}"
        return self._by_address(ip, ua)

    def claimed_engine(self, ua: str | None) -> str | None:
        """The search engine a user agent claims to be, verified or not."""
        engine = self._claimed(ua)
        return None if engine is None else engine.name

    def _claimed_engine(self, ua: str | None) -> _Engine | None:
        if not ua:
            return None
        for engine in self._engines:
            if engine.claim.search(ua):
                return engine
        return None

    def _address_reason(self, ip: str | None, ua: str | None) -> str | None:
        address = parse_ip(ip)
        if address is None:
            return None
        reason = self._networks.find(address)
        if reason is not None:
            return reason
        engine = self._claimed(ua)
        return None if engine is None else engine.networks.find(address)


FORWARDED_HOPS = 16
"""X-Forwarded-For entries read, from the right. No deployment puts this many proxies in
front of an application, and entries further left were written by the client (any of them is
a forgery it chose); reading every entry let a header of thousands of `1,` cost thousands of
address parses per request, and per log line a list of them (1 GB for a 16 MB log). Both the
middleware and the log readers (`sources.xff`) stop here."""


class TrustedProxies:
    """The client address behind the proxies we run, read from X-Forwarded-For.

    Each proxy appends the address it received the request from, so the entries to the right
    are the trustworthy ones: walking from the right, the first address that is not one of our
    proxies is the client. Anything left of it was written by the client and may be forged,
    and an XFF header from a peer that is not our proxy is ignored altogether.
    """

    def __init__(self, cidrs: Iterable[str]) -> None:
        self._networks = NetworkSet((net, str(net)) for net in parse_networks(cidrs))

    def is_trusted(self, address: str | None) -> bool:
        return self._networks.find(parse_ip(address)) is not None

    def resolve(self, remote: str, xff: str | None) -> str:
        """The client address: `remote` itself unless it is a trusted proxy with an XFF; in its
        one spelling (`canonical_ip`), as the engines count it."""
        if not xff or not self.is_trusted(remote):
            return canonical_ip(remote)
        client = remote
        for entry in reversed(xff.rsplit(",", FORWARDED_HOPS)[-FORWARDED_HOPS:]):
            candidate = canonical_ip(_strip_port(entry.strip()))
            if parse_ip(candidate) is None:
                continue  # malformed or `unknown`: skip it, keep looking left
            client = candidate
            if not self.is_trusted(candidate):
                break
        return canonical_ip(client)


def _strip_port(entry: str) -> str:
    """`[2001:db8::1]:443` → `2001:db8::1`, `203.0.113.7:8080` → `203.0.113.7`."""
    if entry.startswith("["):
        return entry[1:].split("]", 1)[0]
    if entry.count(":") == 1:
        return entry.split(":", 1)[0]
    return entry
