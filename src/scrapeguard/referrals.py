"""Referrals: the external host a client arrived from, and the site's own hosts, learned.

A referer-spam bot requests a page with a referer naming the site it advertises, so that the
site's statistics link back to it. One address per host is a person as often as a bot; what
gives spam away is the *group*: the clients that arrived from one host load none of the
page's assets, where the browsers a genuine referral (a search engine, a forum, a newsletter)
brings load them. `engines/campaigns.py` (`ref:<host>`) links the clients by host; this
module says which host an event arrived from, the same way in both engines.

A combined log does not name the site's own host. Its pages are the referers of the assets
browsers load, so a host that `OWN_HOST_ADDRESSES` different addresses named as the referer
of an asset request is the site's own, from then on; internal navigation never opens a
campaign. Search engines are not listed anywhere: their visitors are browsers, and the group
rule leaves them alone.
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir

OWN_HOST_ADDRESSES = 3
"""Addresses that must have named a host as the referer of an asset before it counts as the
site's own. A page's assets are requested with the page as referer by every browser, so a
site's host reaches this within its first few visitors; a spam bot loads no assets."""
MAX_HOSTS = 10_000
"""Hosts the stream engine tracks while it learns which are the site's own; past this, new
hosts are not tracked (and counted in `OwnHosts.dropped`): memory stays bounded."""

OWN_HOSTS_TABLE = "_own_hosts"
"""The batch engine's table of `own_hosts_since`, for campaigns to stop counting a host's
campaign once it is known as the site's own."""

HOST_PATTERN = r"^https?://(?:www\.)?([^/?#:@\s]+)"
"""The host of an absolute http(s) referer, matched on the lower-cased referer; a leading
`www.` is dropped, so a site reached with and without it is one host."""
_HOST = re.compile(HOST_PATTERN)


def referer_host(referer: str | None) -> str | None:
    """The host a referer names (`https://WWW.Example.com:8080/x` → `example.com`)."""
    if not referer:
        return None
    found = _HOST.match(referer.lower())
    return found.group(1) if found else None


def referer_host_expr(referer: ir.StringValue) -> ir.StringValue:
    """The batch twin of `referer_host`: null where the referer names no http(s) host."""
    host = referer.lower().re_extract(HOST_PATTERN, 1)
    return (host != "").ifelse(host, None)


def own_hosts_since(assets: ir.Table, need: int = OWN_HOST_ADDRESSES) -> ir.Table:
    """Per host, the time (ms) at which the `need`-th address named it as the referer of an
    asset: `host`, `own_since_ms`. `assets` has `host`, `ip`, `ts_ms` per asset request."""
    firsts = assets.filter(assets.host.notnull()).group_by(["host", "ip"]).aggregate(
        first_ms=lambda t: t.ts_ms.min())
    window = ibis.window(group_by=firsts.host, order_by=[firsts.first_ms, firsts.ip])
    ranked = firsts.mutate(rank=ibis.row_number().over(window))
    return ranked.filter(ranked.rank == need - 1).select(
        own_host=ranked.host, own_since_ms=ranked.first_ms)


class OwnHosts:
    """The stream engine's twin of `own_hosts_since`: which hosts are the site's own, learned
    from the referers of asset requests as events arrive; bounded to `MAX_HOSTS` hosts."""

    def __init__(self, need: int = OWN_HOST_ADDRESSES, max_hosts: int = MAX_HOSTS) -> None:
        self.need = need
        self.max_hosts = max_hosts
        self._learning: dict[str, set[str]] = {}
        self._own: dict[str, int] = {}
        """Host → the time (ms) of the asset request that made it the site's own."""
        self.first_ms: int | None = None
        """When the first host became the site's own (`enrich._first_own_ms`)."""
        self.dropped = 0
        """Hosts not tracked because `max_hosts` were already being learned."""

    def is_own(self, host: str, ts_ms: int | None = None) -> bool:
        """Whether `host` is the site's own for an event at `ts_ms`: strictly after the time
        it was learned at, as the batch engine's `own_since_ms < ts_ms` (events of that same
        millisecond, the request that taught it included, are from before); with no time,
        whether it has been learned at all."""
        since = self._own.get(host)
        return since is not None and (ts_ms is None or ts_ms > since)

    def known(self, ts_ms: int) -> bool:
        """Whether some host is the site's own for an event at `ts_ms` (`lookups.from_site`)."""
        return self.first_ms is not None and ts_ms > self.first_ms

    def saw(self, host: str | None, ip: str, linked_asset: bool, ts_ms: int = 0) -> None:
        if host is None or not linked_asset or host in self._own:
            return
        seen = self._learning.get(host)
        if seen is None:
            if len(self._learning) + len(self._own) >= self.max_hosts:
                self.dropped += 1
                return
            seen = self._learning[host] = set()
        seen.add(ip)
        if len(seen) >= self.need:
            del self._learning[host]
            self._own[host] = ts_ms
            if self.first_ms is None:
                self.first_ms = ts_ms


def arrival_host(host: str | None, is_page: bool, assets_expected: bool,
                 own: bool, browser: bool) -> str | None:
    """The external host an event arrived from, if it opens or joins a referral campaign: a
    page (not an asset), under a browser's agent, on a site whose browsers load assets, from
    a host not the site's.

    Only a browser's agent: referer spam pays where a site's statistics count the visit as a
    person's, and analytics and log reports set named bots and tools apart. An agent that
    names itself (an uptime monitor sending its own site as referer, a crawler following a
    link) gains a spammer nothing and is left to the crawler rules."""
    arrived = host is not None and is_page and assets_expected and not own and browser
    return host if arrived else None
