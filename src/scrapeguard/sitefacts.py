"""Facts about the site as a whole, learned as the log goes, shared by both engines.

"It loaded no assets" is evidence against a client only on a site where browsers demonstrably
load assets from the origin the log is kept at. A site that serves its scripts, styles and
images from a CDN or a static host sees none of them here, and there every person would look
like a bot. So the no-assets signals of form spam switch themselves on only once
`ASSET_ADDRESSES` different addresses have loaded a linked asset (not the icon a browser asks
for by name, `pathfacts.BROWSER_FETCHED`) from this origin, and stay off on a site where that
never happens.

The batch engine finds the moment once per log (`assets_expected_since_ms`); the stream
engine counts as events arrive (`AssetWitness`). Both see only the past: an event is judged
by the addresses that loaded assets strictly before it (the batch engine), or before it
arrived (the stream engine).
"""

from __future__ import annotations

import ibis.expr.types as ir

ASSET_ADDRESSES = 20
"""Distinct addresses that must have loaded a linked asset before the site counts as one that
serves its assets itself. Twenty is a few minutes of a small site's visitors, while a site
behind a CDN sees a handful of addresses fetch origin assets at most (its own staff, a
crawler following an absolute URL), never a stream of them."""


def assets_expected_since(assets: ir.Table, need: int = ASSET_ADDRESSES) -> ir.Table:
    """The time (ms, `first_ms`) at which the `need`-th address first loaded a linked asset:
    one row, none if it never happened. `assets` has one row per linked-asset request: `ip`,
    `ts_ms`. The batch engine runs the query (`enrich.py`)."""
    firsts = assets.group_by("ip").aggregate(first_ms=assets.ts_ms.min())
    return firsts.order_by(firsts.first_ms).limit(1, offset=need - 1)


class AssetWitness:
    """The stream engine's count of addresses that loaded a linked asset, until it is enough.

    It keeps at most `need` addresses, then only the answer: memory stays bounded whatever
    the traffic."""

    def __init__(self, need: int = ASSET_ADDRESSES) -> None:
        self.need = need
        self._seen: set[str] = set()
        self.since_ms: int | None = None
        """When the `need`-th address loaded a linked asset (ms), once it has."""

    @property
    def expected(self) -> bool:
        """True once `need` addresses have loaded a linked asset."""
        return self.since_ms is not None

    def expected_at(self, ts_ms: int) -> bool:
        """Whether an event at `ts_ms` is judged on a site that loads its assets: only from
        strictly after the moment it became one, as the batch engine judges (a log's seconds
        put a page and the asset that tipped the count at the same time)."""
        return self.since_ms is not None and ts_ms > self.since_ms

    def saw(self, ip: str, linked_asset: bool, ts_ms: int = 0) -> None:
        if self.since_ms is not None or not linked_asset:
            return
        self._seen.add(ip)
        if len(self._seen) >= self.need:
            self.since_ms = ts_ms
            self._seen.clear()
