"""Campaigns: actors that act as one, linked so that a crawler spread thin is seen whole.

Two links come free with the actor keys: one fingerprint over many addresses (`fp`) and one
account over many addresses (`account`). This module adds the third: disjoint slices of one
enumeration. A client (account, else session, else address) that has stepped through
neighbouring ids, or missed, `campaign_min_steps` times on one route template within the
campaign window, and for whom such lookups are most of its lookups there, is enumerating (a
person who follows three stale links among fifty profile views is not); every such client on
the same template joins the campaign `campaign:enum:<template>`. Membership is decided from
what was seen *up to* each event, the way a live engine would, so a replay and the stream
agree.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard.engines.lookups import materialize
from scrapeguard.policy.model import Policy

CAMPAIGN_WINDOW_SECONDS = 3600


def campaign_rows(backend: Any, rows: ir.Table, policy: Policy) -> ir.Table:
    """The rows of enumerating lookups, with `campaign_key`; a small table of its own.

    Clients whose window never reached the evidence floor are dropped before the replay, so
    the running window sorts only the lookups of clients that could be enumerating.
    """
    lookups = rows.filter(rows.is_subject_route == 1).mutate(
        _bucket=rows.ts_ms // (CAMPAIGN_WINDOW_SECONDS * 1000),
        _evidence=rows.is_seq_step + rows.is_miss,
    )
    group = ["identity_key", "template_key", "_bucket"]
    enough = (
        lookups.group_by(group)
        .aggregate(total=lambda t: t._evidence.sum())
        .filter(lambda t: t.total >= policy.settings.campaign_min_steps)
        .select(group)
    )
    suspects = lookups.semi_join(enough, group)
    window = ibis.cumulative_window(
        group_by=[suspects[c] for c in group],
        order_by=[suspects.ts_ms, suspects.eid, suspects.item_pos],
    )
    evidence = suspects._evidence.sum().over(window)
    looked = suspects.is_subject_route.sum().over(window)
    marked = suspects.mutate(
        _member=(evidence >= policy.settings.campaign_min_steps) & (evidence * 2 >= looked)
    )
    members = marked.filter(marked._member).drop("_bucket", "_evidence", "_member")
    templates = backend.table("_path_lookup").select("template_key", "template").distinct()
    named = members.left_join(templates, "template_key").drop("template_key_right")
    keyed = named.mutate(campaign_key=("enum:" + named.template).hash()).drop("template")
    return materialize(backend, keyed, "_campaign_rows")
