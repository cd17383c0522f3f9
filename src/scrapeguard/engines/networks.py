"""Networks per distinct address, in the database: `events.network_of` for a whole log.

`network_of` (Python, one address at a time) is the definition and what the live engine
calls. A log has hundreds of thousands of distinct addresses, so the batch engine spells the
common case — an IPv4 address in dotted decimal, the only spelling `canonical.py` leaves for
IPv4 — as a column expression, and sends only the rest (IPv6, text that is no address) through
`network_of`. `tests/test_networks.py` holds the two spellings equal.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard.allowlist import Allowlister
from scrapeguard.engines import sqlcache
from scrapeguard.engines.lookups import materialize
from scrapeguard.events import network_of
from scrapeguard.netinfo import for_policy
from scrapeguard.policy.model import Policy

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_DOTTED = rf"^(?:{_OCTET}\.){{3}}{_OCTET}$"
"""An IPv4 address as Python's `ipaddress` reads it: four decimal octets, no leading zeros."""


def network_v4(ip: ir.StringValue) -> ir.StringValue:
    """`network_of(ip)` for a dotted-decimal IPv4 address (its /24); null for anything else."""
    return ibis.ifelse(ip.re_search(IPV4_DOTTED), ip.re_replace(r"\.[0-9]+$", ".0/24"),
                       ibis.null().cast("string"))


def address_table(backend: Any, table: str, policy: Policy) -> ir.Table:
    """Per distinct address: its network (/24, /64), autonomous system, announced prefix and
    hosting list (`net_asn`, `net_prefix`, `net_hosting`), and why it is allowlisted, if it is."""
    events = backend.table(table)
    distinct = events.select(ip_text=events.ip).distinct()
    # Written once: the log is scanned for its distinct addresses once, not once per half.
    spelled = materialize(backend, distinct.mutate(net=network_v4(distinct.ip_text)),
                          "_address_nets")
    in_sql = spelled.filter(spelled.net.notnull())
    unspelled = spelled.filter(spelled.net.isnull()).select("ip_text")
    others: list[str] = [ip for ip in sqlcache.arrow(backend, unspelled).column(0).to_pylist()
                         if ip is not None]
    rest = sqlcache.table_of(backend, "_address_nets_rest",
                             {"ip_text": others, "net": [network_of(ip) for ip in others]},
                             in_sql.schema())  # the union needs its nullability too
    nets = _beyond(backend, in_sql.union(rest), policy)
    if not policy.allowlist.cidrs:
        return nets.mutate(cidr_reason=ibis.null().cast("string"))
    # Allowlisted ranges are matched in Python (`allowlist.py`), one address at a time: only
    # policies that list ranges pay for it.
    allower = Allowlister(policy)
    ips: list[str] = sqlcache.arrow(backend, nets.select("ip_text")).column(0).to_pylist()
    reasons = sqlcache.table_of(
        backend, "_cidr_reasons",
        {"r_ip": ips, "cidr_reason": [allower.allows(ip, None) for ip in ips]},
        {"r_ip": "string", "cidr_reason": "string"})
    return nets.left_join(reasons, nets.ip_text == reasons.r_ip).drop("r_ip")


def _beyond(backend: Any, nets: ir.Table, policy: Policy) -> ir.Table:
    """`nets` with what `netinfo` knows of each address: null columns without a directory,
    else one `NetworkDirectory.lookup` per distinct address, the live engines' own call."""
    found = for_policy(policy)
    if not found.enabled:
        null = ibis.null().cast("string")
        return nets.mutate(net_asn=null, net_prefix=null, net_hosting=null)
    ips: list[str] = [ip for ip in sqlcache.arrow(backend, nets.select("ip_text")).column(0)
                      .to_pylist() if ip is not None]
    infos = [found.lookup(ip) for ip in ips]
    known = sqlcache.table_of(
        backend, "_address_networks",
        {"k_ip": ips, "net_asn": [i.asn for i in infos], "net_prefix": [i.prefix for i in infos],
         "net_hosting": [i.hosting for i in infos]},
        {"k_ip": "string", "net_asn": "string", "net_prefix": "string",
         "net_hosting": "string"})
    return nets.left_join(known, nets.ip_text == known.k_ip).drop("k_ip")
