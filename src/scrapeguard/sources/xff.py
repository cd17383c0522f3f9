"""X-Forwarded-For resolution as DuckDB macros, so it runs per row without Python.

Behind a load balancer the remote address of every line is the balancer. When that peer is a
trusted proxy, the client is the right-most X-Forwarded-For hop that is *not* a trusted proxy
(hops further left were written by the client and can be forged); if every hop is trusted, the
left-most one. An XFF sent by an untrusted peer is ignored, and so is a hop that is not an
address (the peer is kept). Addresses are compared as fixed-width text keys
(`4` + three digits per octet, `6` + 32 hex digits), so CIDR membership is a string range test.
Only the right-most `FORWARDED_HOPS` hops are read, as by the middleware: a list of every hop
cost 32 bytes and a few lists per hop, for 2,048 lines at once.
IPv6 written with an embedded IPv4 tail (`::ffff:1.2.3.4`) or a zone (`%eth0`) is not parsed
and therefore never trusted. After loading, IPv6 addresses are rewritten canonically
(`canonicalize`), so `2001:0db8::0001` and `2001:db8::1` are one actor.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from scrapeguard.allowlist import FORWARDED_HOPS
from scrapeguard.errors import SourceError
from scrapeguard.sources.base import sql_str

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

ADDRESS_LIST_RE = r"\s*[0-9A-Fa-f.:]+(?:\s*,\s*[0-9A-Fa-f.:]+)*\s*"
"""What an X-Forwarded-For value looks like: addresses separated by commas."""
_LAST_HOPS_RE = f"(?:[^,]*,){{0,{FORWARDED_HOPS - 1}}}[^,]*$"
"""The right-most hops: the left-most match that reaches the end starts after a comma."""

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IP4_RE = _OCTET + r"(?:\." + _OCTET + "){3}"
"""Dotted quad without leading zeros (as Python's ipaddress)."""


def _let(value: str, name: str, body: str) -> str:
    """`body` with `name` bound to `value`, evaluated once: macros that repeat an argument
    would otherwise copy its whole expression (and nested macros multiply the copies)."""
    return f"list_transform([{value}], lambda {name}: {body})[1]"


_V6_GROUPS = (
    "CASE WHEN len(p) = 1 THEN string_split(p[1], ':') WHEN len(p) = 2 THEN "
    + _let(
        "[CASE WHEN p[1] = '' THEN []::VARCHAR[] ELSE string_split(p[1], ':') END, "
        "CASE WHEN p[2] = '' THEN []::VARCHAR[] ELSE string_split(p[2], ':') END]",
        "lr",
        "CASE WHEN len(lr[1]) + len(lr[2]) <= 7 THEN lr[1] || "
        "list_transform(range(8 - len(lr[1]) - len(lr[2])), lambda i: '0') || lr[2] END",
    )
    + " END"
)
_V6_KEY = (
    "CASE WHEN len(g) = 8 AND list_bool_and(list_transform(g, "
    "lambda h: regexp_full_match(h, '[0-9a-f]{1,4}'))) "
    "THEN '6' || array_to_string(list_transform(g, lambda h: lpad(h, 4, '0')), '') END"
)

_ADDRESS_MACROS: dict[str, str] = {
    "_sg_ip4key": (
        f"(a) AS CASE WHEN regexp_full_match(a, {sql_str(_IP4_RE)}) THEN '4' || "
        "array_to_string(list_transform(string_split(a, '.'), lambda o: lpad(o, 3, '0')), '') END"
    ),
    "_sg_ip6key": (
        "(a) AS CASE WHEN regexp_full_match(a, '[0-9a-fA-F:]{2,39}') THEN "
        + _let("string_split(lower(a), '::')", "p", _let(_V6_GROUPS, "g", _V6_KEY))
        + " END"
    ),
    "_sg_ipkey": "(a) AS coalesce(_sg_ip4key(a), _sg_ip6key(a))",
}
"""Address parsing, created first; callers pass cheap arguments (columns, lambda names)."""

_CLIENT_MACROS: dict[str, str] = {
    "_sg_client": "(peer, xff) AS " + _let(
        "xff", "x",
        f"CASE WHEN regexp_full_match(x, {sql_str(ADDRESS_LIST_RE)}) AND _sg_trusted(peer) THEN "
        + _let(
            f"list_transform(string_split(regexp_extract(x, {sql_str(_LAST_HOPS_RE)}), ','), "
            "lambda h: trim(h))", "hops",
            _let("coalesce(list_filter(list_reverse(hops), lambda h: NOT _sg_trusted(h))[1], "
                 "hops[1])", "c", "CASE WHEN _sg_ipkey(c) IS NULL THEN peer ELSE c END"),
        )
        + " ELSE peer END",
    ),
}
"""Client selection, created after `_sg_trusted` (which is built per load)."""


def parse_networks(cidrs: Sequence[str]) -> list[Network]:
    """Trusted proxies as networks; a bare address is a /32 or /128."""
    networks: list[Network] = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(cidr.strip(), strict=False))
        except ValueError as exc:
            raise SourceError(f"invalid trusted proxy {cidr!r}: {exc}") from None
    return networks


def address_key(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """The text key the SQL macro `_sg_ipkey` computes for the same address."""
    if isinstance(addr, ipaddress.IPv4Address):
        return "4" + "".join(f"{octet:03d}" for octet in addr.packed)
    return "6" + addr.packed.hex()


def trusted_sql(networks: Sequence[Network]) -> str:
    """`_sg_trusted(a)`: is the address inside any trusted network."""
    tests = [
        f"k BETWEEN {sql_str(address_key(n.network_address))} "
        f"AND {sql_str(address_key(n.broadcast_address))}"
        for n in networks
    ]
    inside = "coalesce(" + (" OR ".join(tests) or "false") + ", false)"
    return "(a) AS " + _let("_sg_ipkey(a)", "k", inside)


def install(con: Any, networks: Sequence[Network]) -> None:
    """Create the temporary macros on `con`; `uninstall` removes them."""
    for name, body in _ADDRESS_MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")
    con.execute("CREATE OR REPLACE TEMP MACRO _sg_trusted" + trusted_sql(networks))
    for name, body in _CLIENT_MACROS.items():
        con.execute(f"CREATE OR REPLACE TEMP MACRO {name}{body}")


def canonical(text: str) -> str | None:
    """RFC 5952 text of an IPv6 address (an IPv4-mapped one as its IPv4 address), or None
    when `text` is not an IPv6 address. Actor keys must not depend on how a server spelt it."""
    try:
        addr = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return str(addr.ipv4_mapped or addr)


def canonicalize(con: Any, table: str, where: str) -> None:
    """Rewrite IPv6 addresses in `table`.ip to their canonical text. Servers mostly log them
    canonically already, so only the few distinct spellings that differ are updated."""
    result = con.execute(f"SELECT DISTINCT ip FROM {table} WHERE contains(ip, ':') AND {where}")
    raw: list[str] = []
    fixed: list[str] = []
    while chunk := result.fetchmany(50_000):
        for (text,) in chunk:
            good = canonical(text)
            if good is not None and good != text:
                raw.append(text)
                fixed.append(good)
    if raw:
        con.execute(
            f"UPDATE {table} SET ip = m.fixed FROM (SELECT unnest($raw::VARCHAR[]) AS raw, "
            f"unnest($fixed::VARCHAR[]) AS fixed) AS m WHERE {table}.ip = m.raw",
            {"raw": raw, "fixed": fixed},
        )


def uninstall(con: Any) -> None:
    """Drop the macros again, newest first (later ones call earlier ones)."""
    names = [*_ADDRESS_MACROS, "_sg_trusted", *_CLIENT_MACROS]
    for name in reversed(names):
        con.execute(f"DROP MACRO IF EXISTS {name}")
