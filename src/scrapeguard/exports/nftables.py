"""An nftables table whose sets hold each banned address or network with its own `timeout`.

The kernel drops each element when its timeout runs out, so a loaded file needs no
regeneration to forget expired bans. Load it with `nft -f FILE`; the chain drops packets
from the sets' addresses (only `block` by default: a firewall cannot throttle politely).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from scrapeguard.decisions import format_ts
from scrapeguard.exports.source import Ban


def render(bans: Sequence[Ban], now: datetime, table: str = "scrapeguard") -> str:
    live = _outermost([b for b in bans if b.seconds_left(now) > 0])
    out = [f"# scrapeguard decisions, {len(live)} standing at {format_ts(now)}",
           f"table inet {table} {{"]
    for family, version, name in (("ipv4_addr", 4, "deny4"), ("ipv6_addr", 6, "deny6")):
        elements = [f"{b.value} timeout {b.seconds_left(now)}s"
                    for b in live if b.network.version == version]
        out += [f"  set {name} {{", f"    type {family}", "    flags interval, timeout"]
        if elements:
            out.append("    elements = { " + ", ".join(elements) + " }")
        out.append("  }")
    out += ["  chain input {",
            "    type filter hook input priority filter; policy accept;",
            "    ip saddr @deny4 drop",
            "    ip6 saddr @deny6 drop",
            "  }",
            "}"]
    return "\n".join(out) + "\n"


def _outermost(bans: Sequence[Ban]) -> list[Ban]:
    """An interval set refuses overlapping elements: an address inside a banned network is
    left to the network's element (kept for the longer of the two times)."""
    kept: list[Ban] = []
    for ban in sorted(bans, key=lambda b: (b.network.version, b.network.prefixlen)):
        outer = next((k for k in kept if k.network.version == ban.network.version
                      and ban.network.subnet_of(k.network)), None)  # type: ignore[arg-type]
        if outer is None:
            kept.append(ban)
        elif ban.expires > outer.expires:
            kept[kept.index(outer)] = Ban(outer.network, outer.action, ban.expires,
                                          outer.rules)
    return sorted(kept, key=lambda b: (b.network.version, b.network))
