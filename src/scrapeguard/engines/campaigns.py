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
  joins at its `thin_min_lookups`-th lookup. A person's browser loads the page's assets and
  moves on to other pages, so people leave this pattern within a request or two. Referers do
  not count either way: a bot can send a search engine's as easily as a person arrives with
  one, and a cookie kept all day proves nothing about a client that never loads an asset.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard.engines.lookups import materialize
from scrapeguard.policy.model import Policy

CAMPAIGN_WINDOW_SECONDS = 3600
THIN_WINDOW_SECONDS = 86400
ORDER = ("ts_ms", "eid", "item_pos")


def campaign_rows(backend: Any, rows: ir.Table, policy: Policy) -> ir.Table:
    """Member lookups of every campaign, with `campaign_key`, as a small table of its own."""
    templates = backend.table("_path_lookup").select("template_key", "template").distinct()
    parts = []
    for link, members in (("enum", _enumerating(rows, policy)), ("thin", _thin(rows, policy))):
        named = members.left_join(templates, "template_key").drop("template_key_right")
        parts.append(named.mutate(campaign_key=(link + ":" + named.template).hash())
                     .drop("template"))
    return materialize(backend, parts[0].union(parts[1]), "_campaign_rows")


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
    taint = (
        bare.filter(tainting).group_by(["identity_key", "_day"])
        .aggregate(_taint_ms=lambda t: t.ts_ms.min())
    )
    lookups = bare.filter(~tainting)
    group = ["identity_key", "template_key", "_day"]
    enough = (
        lookups.group_by(group).aggregate(n=lambda t: t.count())
        .filter(lambda t: t.n >= policy.settings.thin_min_lookups).select(group)
    )
    suspects = lookups.semi_join(enough, group)
    suspects = suspects.left_join(taint, ["identity_key", "_day"]).drop(
        "identity_key_right", "_day_right")
    window = ibis.cumulative_window(group_by=[suspects[c] for c in group],
                                    order_by=[suspects[c] for c in ORDER])
    count = suspects.one.sum().over(window)
    clean = suspects._taint_ms.isnull() | (suspects._taint_ms > suspects.ts_ms)
    marked = suspects.mutate(_member=(count >= policy.settings.thin_min_lookups) & clean)
    return marked.filter(marked._member).drop("_day", "_taint_ms", "_member")
