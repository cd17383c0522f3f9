"""Aliases every module shares, so signatures read the same everywhere."""

from __future__ import annotations

from typing import Literal

ActorKind = Literal["ip", "net", "asn", "prefix", "account", "session", "fp", "hdr", "tls",
                   "campaign"]
"""The key kinds a rule can count by."""

Action = Literal["allow", "throttle", "challenge", "decoy", "block"]
"""What an engine does to an actor, mildest first."""

ACTIONS: tuple[Action, ...] = ("allow", "throttle", "challenge", "decoy", "block")
"""Actions in rising severity; the strongest one a rule fired wins."""

ACTOR_KINDS: tuple[ActorKind, ...] = ("ip", "net", "asn", "prefix", "account", "session", "fp",
                                      "hdr", "tls", "campaign")
"""`asn` and `prefix` exist only where an ASN database or hosting list is configured
(`netinfo.py`); `hdr`: the header shape, `tls`: the TLS fingerprint under the claimed
browser family (`clientshape.py`), both only where the middleware, the service or the log
saw them."""

MEMBER_KINDS: tuple[ActorKind, ...] = ("ip", "account", "session")
"""Keys a consumer can read off one event; decisions on the kinds below list these."""

GROUP_KINDS: tuple[ActorKind, ...] = ("fp", "hdr", "tls", "campaign")
"""Kinds whose key cannot be read off one event: their decisions carry `members`."""

ActorKey = str
"""`kind:value`, e.g. `ip:203.0.113.7` or `account:u_889`."""


def action_rank(action: Action) -> int:
    """Severity of an action, for picking the strongest of several."""
    return ACTIONS.index(action)
