"""The batch engine's networks per address equal `events.network_of`, the live engine's."""

from __future__ import annotations

import duckdb
import ibis
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.allowlist import Allowlister
from scrapeguard.engines.networks import address_table
from scrapeguard.events import network_of
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy

TRICKY = [
    "1.2.3.4", "0.0.0.0", "255.255.255.255", "10.0.0.255", "192.168.001.1", "01.2.3.4",
    "256.1.1.1", "1.2.3", "1.2.3.4.5", "1.2.3.-4", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/24",
    "\uff11.2.3.4", "2001:db8::1", "2001:db8:0:1:2:3:4:5", "::ffff:1.2.3.4", "::1", "fe80::1%eth0",
    "unknown", "-", "", "example.com", "1.2.3.04", "299.2.3.4", "1.2.3.255",
]

_octet = st.integers(0, 255).map(str)
_text_octet = st.one_of(_octet, st.from_regex(r"\A[0-9]{1,4}\Z"), st.text(max_size=3))
ADDRESSES = st.one_of(
    st.ip_addresses().map(str),
    st.ip_addresses(v=6).map(lambda a: a.exploded),
    st.tuples(_text_octet, _text_octet, _text_octet, _text_octet).map(".".join),
    st.text(max_size=20),
)


def _rows(addresses: list[str], policy: Policy) -> list[dict[str, str | None]]:
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE events (ip VARCHAR NOT NULL)")
    con.executemany("INSERT INTO events VALUES (?)", [(ip,) for ip in addresses])
    backend = ibis.duckdb.from_connection(con)
    rows: list[dict[str, str | None]] = (address_table(backend, "events", policy)
                                          .to_pyarrow().to_pylist())
    assert len(rows) == len(set(addresses)), "one row per distinct address"
    return rows


def _networks(addresses: list[str]) -> dict[str, str | None]:
    return {str(row["ip_text"]): row["net"] for row in _rows(addresses, load_policy(None))}


def test_tricky_spellings_get_the_network_python_gives() -> None:
    got = _networks(TRICKY)
    assert got == {ip: network_of(ip) for ip in TRICKY}


@settings(max_examples=15, deadline=None, database=None)
@given(st.lists(ADDRESSES, min_size=1, max_size=60))
def test_any_address_gets_the_network_python_gives(addresses: list[str]) -> None:
    addresses = [ip.replace("\x00", "") for ip in addresses]
    got = _networks(addresses)
    assert got == {ip: network_of(ip) for ip in addresses}


def test_allowlisted_networks_give_their_reason() -> None:
    policy = Policy.model_validate({"allowlist": {"cidrs": ["10.0.0.0/8", "2001:db8::/32"]}})
    addresses = ["10.2.3.4", "11.0.0.1", "2001:db8:1::5", "unknown", "10.2.3.9"]
    rows = _rows(addresses, policy)
    allower = Allowlister(policy)
    assert {row["ip_text"]: row["cidr_reason"] for row in rows} == {
        ip: allower.allows(ip, None) for ip in addresses}
    assert {row["ip_text"]: row["net"] for row in rows} == {ip: network_of(ip) for ip in addresses}
    assert sum(row["cidr_reason"] is not None for row in rows) == 3
