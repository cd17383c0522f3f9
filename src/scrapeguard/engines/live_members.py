"""Who a fingerprint or campaign decision lists as its `members`, counted as events stream in.

The definition is the batch engine's (`batch._members`): the ip/account/session keys of the
personal-data requests (every request, for a referral campaign, less the clients that loaded
an asset there) counted under the actor in the windows in which one of the decision's rules
held, each with the time of its first such request under the actor, so that a client who
shares a common user agent on another day is not listed. A rule counted in phases (`hop`)
lists the windows of the phase in which it first held.

The store keeps actors and clients by keyed hash only, so members are named by the process
that served their requests and kept here, in memory and bounded: a node lists the members it
saw, and past `MAX_ENTRIES` it starts over.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scrapeguard.engines.live_rows import EventRows
from scrapeguard.types import MEMBER_KINDS

MAX_ENTRIES = 200_000
"""Entries of each table below this process keeps before it starts over."""

Window = tuple[str, int, int, int]
"""(actor ref, window seconds, phase offset, bucket): one window of one rule group."""
Clients = dict[str, tuple[set[str], bool]]
"""Identity → (its member keys in a window, whether it loaded an asset there)."""


class MemberBook:
    """Clients counted under group actors, by window, and the windows their rules held in."""

    def __init__(self) -> None:
        self._first: dict[tuple[str, str], int] = {}
        """(actor ref, member key) → epoch ms of the member's first counted request."""
        self._windows: dict[str, dict[tuple[int, int, int], Clients]] = {}
        """Actor ref → (seconds, offset, bucket) → the clients counted in that window."""
        self._clients = 0
        """Clients noted in `_windows`, all windows together: the bound that matters."""
        self._held: dict[tuple[str, str], tuple[int, int, set[int]]] = {}
        """(actor ref, rule) → (seconds, offset) of the phase in which it first held, and
        the buckets of that phase in which it held."""

    def counted(self, window: Window, rows: EventRows, every: bool,
                identities: bool = False) -> None:
        """One event counted under a group actor: note its client, if it lists. With
        `identities` (campaigns), a request made under an account lists the account, not
        the address it came from (`batch._members`): a person sharing a proxy's exit with a
        campaign's account is not its member."""
        flags = rows.rows[0].flags
        if not every and not flags.get("is_subject_route"):
            return
        ref, seconds, offset, bucket = window
        under_account = identities and rows.keys.get("account") is not None
        keys = [f"{kind}:{value}" for kind in MEMBER_KINDS
                if (value := rows.keys.get(kind)) is not None
                and not (under_account and kind == "ip")]
        for key in keys:
            if (ref, key) not in self._first:
                _bound(self._first)
                self._first[(ref, key)] = rows.ts_ms
        if self._clients >= MAX_ENTRIES:  # a header shape every browser shares lists many
            self._windows.clear()
            self._clients = 0
        clients = self._windows.setdefault(ref, {}).setdefault((seconds, offset, bucket), {})
        if rows.identity not in clients:
            self._clients += 1
        listed, loaded = clients.get(rows.identity, (set(), False))
        listed.update(keys)
        # Assets a referred client loaded before its first page count at that page.
        asset = bool(flags.get("is_static") or rows.campaign_prior.get("is_static"))
        clients[rows.identity] = (listed, loaded or (every and asset))

    def held(self, window: Window, rule: str) -> None:
        """A rule of the window's group held after an event counted in it."""
        ref, seconds, offset, bucket = window
        if (ref, rule) not in self._held:
            _bound(self._held)
            self._held[(ref, rule)] = (seconds, offset, set())
        first_seconds, first_offset, buckets = self._held[(ref, rule)]
        if (seconds, offset) == (first_seconds, first_offset):
            buckets.add(bucket)

    def members(self, ref: str, rules: list[str],
                first_action: datetime) -> tuple[list[str], list[datetime]]:
        """The decision's members, sorted, and when it first applied to each: the later of
        its own first action and the member's first request under the actor."""
        listed: set[str] = set()
        windows = self._windows.get(ref, {})
        for rule in rules:
            seconds, offset, buckets = self._held.get((ref, rule), (0, 0, set()))
            for bucket in buckets:
                for keys, loaded in windows.get((seconds, offset, bucket), {}).values():
                    if not loaded:
                        listed |= keys
        ordered = sorted(listed)
        since = [max(first_action, _from_ms(self._first.get((ref, k), 0))) for k in ordered]
        return ordered, since


def _bound(table: dict[Any, Any]) -> None:
    if len(table) >= MAX_ENTRIES:
        table.clear()


def _from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)
