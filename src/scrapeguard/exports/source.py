"""Address bans from decisions files, each with the moment it stops applying.

A decision carries `expires_ts` when `watch` wrote it (the store's own clock); a decision
from `analyze` expires its policy's `decision_ttl` for its action after its first action.
Only addresses and networks are exported (directly, or as members of a fingerprint or
campaign decision): the tools below enforce on addresses. Anything in the file that is not a
valid address or network is refused with its location, never written into a config.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scrapeguard.decisions import Decision, decision_lines, parse_ts
from scrapeguard.errors import SourceError
from scrapeguard.types import Action, action_rank

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Ban:
    """One address or network, the strongest action on it, and until when."""

    network: Network
    action: Action
    expires: datetime
    rules: tuple[str, ...]

    @property
    def value(self) -> str:
        """`203.0.113.7` for a single address, `198.51.100.0/24` for a network."""
        net = self.network
        return str(net.network_address) if net.num_addresses == 1 else str(net)

    def seconds_left(self, now: datetime) -> int:
        return max(0, int((self.expires - now).total_seconds()))


def read_bans(paths: Iterable[Path], ttl: dict[Action, int], *, now: datetime | None = None,
              min_action: Action = "throttle", include_expired: bool = False) -> list[Ban]:
    """Bans from decisions files, the last record of an actor winning (a journal's later
    line is that decision merged again); sorted by address."""
    now = now or datetime.now(UTC)
    latest: dict[str, tuple[Decision, datetime | None]] = {}
    for path in paths:
        for decision, expires in _records(path):
            latest[decision.actor] = (decision, expires)
    bans: dict[Network, Ban] = {}
    for actor, (decision, expires) in latest.items():
        if action_rank(decision.action) < action_rank(min_action):
            continue
        for key, since in _addressed(decision):
            end = expires or since + timedelta(seconds=ttl[decision.action])
            if end <= now and not include_expired:
                continue
            network = _network(key, actor)
            ban = Ban(network, decision.action, end, tuple(decision.rules))
            old = bans.get(network)
            if old is None or (action_rank(ban.action), ban.expires) > (
                    action_rank(old.action), old.expires):
                bans[network] = ban
    return sorted(bans.values(), key=lambda b: (b.network.version, b.network))


def _records(path: Path) -> Iterable[tuple[Decision, datetime | None]]:
    for number, record in decision_lines(path):
        try:
            expires = record.get("expires_ts") if isinstance(record, dict) else None
            yield Decision.from_json(record), parse_ts(expires) if expires else None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SourceError(f"{path}:{number}: not a decision: {exc}") from None


def _addressed(decision: Decision) -> list[tuple[str, datetime]]:
    """(ip:…, net:… or prefix:… key, since when) the decision applies to: an announced prefix
    is a network a firewall can hold as well as a /24; an AS is many, left to its members."""
    if decision.kind in ("ip", "net", "prefix"):
        return [(decision.actor, decision.first_action_ts)]
    members = decision.members or []
    since = decision.members_first_action_ts or [decision.first_action_ts] * len(members)
    return [(m, t) for m, t in zip(members, since, strict=False)
            if m.startswith(("ip:", "net:"))]


def _network(key: str, actor: str) -> Network:
    value = key.split(":", 1)[1]
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise SourceError(f"decision {actor!r}: {value!r} is not an address or a "
                          f"network") from None
