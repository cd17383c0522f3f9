"""Campaigns: actors that act as one, linked so that a crawler spread thin is seen whole.

Two links come free with the actor keys: one fingerprint over many addresses (`fp`) and one
account over many addresses (`account`). This module adds the third: disjoint slices of one
enumeration. A client (account, else session, else address) that has stepped through
neighbouring ids, or missed, `campaign_min_steps` times on one route template within the
campaign window is enumerating; every such client on the same template joins the campaign
`campaign:<template>`. Membership is decided from what was seen *up to* each event, the way a
live engine would, so a replay and the stream agree.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from scrapeguard.policy.model import Policy

CAMPAIGN_WINDOW_SECONDS = 3600


def with_campaign_key(rows: ir.Table, policy: Policy) -> ir.Table:
    """Add `campaign`: the campaign key of each enumerating lookup, null elsewhere."""
    bucket = rows.ts_ms // (CAMPAIGN_WINDOW_SECONDS * 1000)
    window = ibis.cumulative_window(
        group_by=[rows.identity, rows.template, bucket],
        order_by=[rows.ts, rows.eid, rows.item_pos],
    )
    evidence = (rows.is_seq_step + rows.is_miss).sum().over(window)
    enumerating = (rows.is_subject_route == 1) & (evidence >= policy.settings.campaign_min_steps)
    return rows.mutate(campaign=ibis.ifelse(enumerating, "enum:" + rows.template, ibis.null()))
