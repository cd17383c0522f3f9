"""Campaigns: actors that act as one, linked so that a crawler spread thin is seen whole.

Two links come free with the actor keys: one fingerprint over many addresses (`fp`) and one
account over many addresses (`account`). This module adds two links by behaviour, each
decided from what a client had done *up to* each event, the way a live engine sees it:

- `enum:<template>` — disjoint slices of one enumeration. A client (account, else session,
  else address) that has stepped to neighbouring ids `campaign_min_steps` times, or missed
  `campaign_min_misses` times, on one route within the hour, and for whom those lookups are
  `campaign_evidence_ratio` of its lookups there, is enumerating; every such client on the
  route joins the campaign.
- `thin:<template>` — a botnet reading a handful of records from each of thousands of
  addresses. A client without an account (a session cookie, else an address) whose every
  request of the day so far was a direct personal-data lookup — no other page, no asset —
  joins at its `thin_min_lookups`-th lookup, or at its `thin_min_direct_lookups`-th when
  that lookup is an arrival from outside (no link of this site led to it, on a site whose
  browsers load assets). A person's browser loads the page's assets and moves on to other
  pages, so people leave this pattern within a request or two. Referers can only delay a
  client's joining, never spare it: a bot can send a search engine's or this site's as
  easily as a person arrives with one, and a cookie kept all day proves nothing about a
  client that never loads an asset.

A third link is by where clients came from:

- `ref:<host>` — referer spam. A client (its `clients.identity`) whose first page of the day
  was reached from an external host (`referrals.py`: under a browser's agent, on a site
  whose browsers load assets, from a host not the site's own) joins that host's campaign
  for the day, with every request it makes from then on. The campaign is judged as a group
  (`referer-spam` in the default policy): a referral brings browsers, which load the page's
  assets; a spam host brings bots, which load none. Rules say which links they judge
  (`Rule.links`).
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard import referrals
from scrapeguard.engines.lookups import materialize
from scrapeguard.policy.model import Policy

CAMPAIGN_WINDOW_SECONDS = 3600
THIN_WINDOW_SECONDS = 86400
REFERRAL_WINDOW_SECONDS = 86400
"""A client belongs to the campaign of the host it first arrived from, for the day."""
ORDER = ("ts_ms", "eid", "item_pos")


def campaign_rows(backend: Any, rows: ir.Table, policy: Policy) -> ir.Table:
    """Member lookups of every campaign, with `campaign_key`, as a small table of its own."""
    templates = backend.table("_path_lookup").select("template_key", "template").distinct()
    # Allowlisted requests are no campaign's evidence: the stream engine never counts them.
    rows = rows.filter(rows.allow_reason.isnull())
    parts = []
    for link, members in (("enum", _enumerating(rows, policy)), ("thin", _thin(rows, policy))):
        named = members.left_join(templates, "template_key").drop("template_key_right")
        name = link + ":" + named.template
        parts.append(named.mutate(campaign_key=name.hash(), campaign_link=ibis.literal(link),
                                  campaign_name=name).drop("template"))
    referred = _referred(rows)
    # A host found to be the site's own stops counting from then (`referrals.py`).
    own = backend.table(referrals.OWN_HOSTS_TABLE)
    referred = referred.left_join(own, referred._host == own.own_host)
    referred = referred.filter(referred.own_since_ms.isnull()
                               | (referred.own_since_ms >= referred.ts_ms)).drop(
        "own_host", "own_since_ms")
    name = "ref:" + referred._host
    parts.append(referred.mutate(campaign_key=name.hash(), campaign_link=ibis.literal("ref"),
                                 campaign_name=name).drop("_host"))
    union = parts[0].union(parts[1]).union(parts[2])
    return materialize(backend, union, "_campaign_rows")


def _referred(rows: ir.Table) -> ir.Table:
    """The rows of each client's day whose first page was reached from an external host,
    with that host (`_host`): from that page on, and the assets it loaded before it.

    A browser's assets can be logged before its page (servers log at completion, and a page
    is done after its small assets), so assets that came before the client's first page
    count as loaded at that page (`ts_ms` and `eid` moved there, just before it)."""
    dated = rows.mutate(_day=rows.ts_ms // (REFERRAL_WINDOW_SECONDS * 1000))
    pages = dated.filter((dated.is_page == 1) & (dated.one == 1))
    window = ibis.window(group_by=[pages.identity_key, pages._day],
                         order_by=[pages[c] for c in ORDER])
    firsts = pages.mutate(_n=ibis.row_number().over(window))
    firsts = firsts.filter((firsts._n == 0) & firsts.referral_host.notnull()).select(
        _id=firsts.identity_key, _jday=firsts._day, _host=firsts.referral_host,
        _jts=firsts.ts_ms, _jeid=firsts.eid, _jtime=firsts.ts)
    joined = dated.inner_join(firsts, [dated.identity_key == firsts._id,
                                       dated._day == firsts._jday])
    after = (joined.ts_ms > joined._jts) | ((joined.ts_ms == joined._jts)
                                            & (joined.eid >= joined._jeid))
    early = ~after & (joined.is_static == 1)
    kept = joined.filter(after | early).mutate(
        ts_ms=early.ifelse(joined._jts, joined.ts_ms),
        ts=early.ifelse(joined._jtime, joined.ts),
        eid=early.ifelse(joined._jeid, joined.eid),
        item_pos=early.ifelse(ibis.literal(-1).cast(joined.item_pos.type()), joined.item_pos))
    return kept.drop("_id", "_jday", "_jts", "_jeid", "_jtime", "_day")


def _enumerating(rows: ir.Table, policy: Policy) -> ir.Table:
    settings = policy.settings
    lookups = rows.filter(rows.is_subject_route == 1).mutate(
        _bucket=rows.ts_ms // (CAMPAIGN_WINDOW_SECONDS * 1000))
    group = ["identity_key", "template_key", "_bucket"]
    enough = (
        lookups.group_by(group)
        .aggregate(steps=lambda t: t.is_seq_step.sum(), misses=lambda t: t.is_miss.sum())
        .filter(lambda t: (t.steps >= settings.campaign_min_steps)
                | (t.misses >= settings.campaign_min_misses))
        .select(group)
    )
    suspects = lookups.semi_join(enough, group)
    window = ibis.cumulative_window(group_by=[suspects[c] for c in group],
                                    order_by=[suspects[c] for c in ORDER])
    steps = suspects.is_seq_step.sum().over(window)
    misses = suspects.is_miss.sum().over(window)
    share = suspects.is_subject_route.sum().over(window) * settings.campaign_evidence_ratio
    marked = suspects.mutate(
        _member=((steps >= settings.campaign_min_steps) & (steps >= share))
        | ((misses >= settings.campaign_min_misses) & (misses >= share))
    )
    return marked.filter(marked._member).drop("_bucket", "_member")


def _thin(rows: ir.Table, policy: Policy) -> ir.Table:
    bare = rows.filter(rows.account_key.isnull() & (rows.one == 1))
    bare = bare.mutate(_day=bare.ts_ms // (THIN_WINDOW_SECONDS * 1000))
    tainting = (bare.is_subject_route == 0) | (bare.is_static == 1)
    # The client's first tainting request of the day, in log order (`ORDER`): a lookup logged
    # before it in the same millisecond was still clean, as the stream engine sees it.
    tainted = bare.filter(tainting)
    first = ibis.window(group_by=[tainted.identity_key, tainted._day],
                        order_by=[tainted.ts_ms, tainted.eid])
    tainted = tainted.mutate(_n=ibis.row_number().over(first))
    taint = tainted.filter(tainted._n == 0).select(
        "identity_key", "_day", _taint_ms=tainted.ts_ms, _taint_eid=tainted.eid)
    lookups = bare.filter(~tainting)
    group = ["identity_key", "template_key", "_day"]
    settings = policy.settings
    least = min(settings.thin_min_lookups, settings.thin_min_direct_lookups)
    enough = (
        lookups.group_by(group).aggregate(n=lambda t: t.count())
        .filter(lambda t: t.n >= least).select(group)
    )
    suspects = lookups.semi_join(enough, group)
    suspects = suspects.left_join(taint, ["identity_key", "_day"]).drop(
        "identity_key_right", "_day_right")
    window = ibis.cumulative_window(group_by=[suspects[c] for c in group],
                                    order_by=[suspects[c] for c in ORDER])
    count = suspects.one.sum().over(window)
    clean = (suspects._taint_ms.isnull() | (suspects._taint_ms > suspects.ts_ms)
             | ((suspects._taint_ms == suspects.ts_ms) & (suspects._taint_eid > suspects.eid)))
    need = (suspects.is_direct_lookup == 1).ifelse(settings.thin_min_direct_lookups,
                                                   settings.thin_min_lookups)
    marked = suspects.mutate(_member=(count >= need) & clean)
    return marked.filter(marked._member).drop("_day", "_taint_ms", "_taint_eid", "_member")
