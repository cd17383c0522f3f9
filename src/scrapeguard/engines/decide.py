"""From rule firings to decisions: one per actor, with the exposure before and after acting."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard.decisions import Decision
from scrapeguard.engines.batch import Firing, actor_rows
from scrapeguard.types import ActorKind, action_rank


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def explain(firing: Firing) -> str:
    """The rule's explanation template filled with the feature values when it first held."""
    rule = firing.rule
    values: dict[str, Any] = _Defaulting(window=rule.window, actor=firing.actor)
    for name, value in firing.values.items():
        values[name] = int(value) if float(value).is_integer() else value
    template = rule.explain or f"rule {rule.id} held: {rule.when}"
    try:
        return template.format_map(values)
    except (ValueError, TypeError):
        return f"rule {rule.id} held: {rule.when}"


def combine(firings: list[Firing], rows: ir.Table) -> list[Decision]:
    """One decision per actor: the strongest action, the earliest time, every reason."""
    by_actor: dict[str, list[Firing]] = defaultdict(list)
    for firing in firings:
        by_actor[firing.actor].append(firing)
    first_action: dict[str, datetime] = {}
    for actor, fired in by_actor.items():
        acting = [f for f in fired if f.rule.action != "allow"]
        first_action[actor] = min(f.first_ts for f in (acting or fired))
    totals = _exposure(rows, by_actor, first_action)
    decisions = []
    for actor, fired in sorted(by_actor.items()):
        fired.sort(key=lambda f: (f.first_ts, f.rule.id))
        action = max((f.rule.action for f in fired), key=action_rank)
        survival = 1.0
        for f in fired:
            survival *= 1.0 - f.rule.score
        members = _merge_members(fired)
        requests, subjects, before = totals.get(actor, (0, 0, 0))
        decisions.append(Decision(
            actor=actor,
            kind=fired[0].kind,
            action=action,
            score=1.0 - survival,
            first_action_ts=first_action[actor],
            requests=requests,
            subjects=subjects,
            subjects_before_action=before,
            rules=list(dict.fromkeys(f.rule.id for f in fired)),
            reasons=[explain(f) for f in fired],
            members=members,
        ))
    return decisions


def _merge_members(fired: list[Firing]) -> list[str] | None:
    lists = [f.members for f in fired if f.members is not None]
    if not lists:
        return None
    return sorted({m for members in lists for m in members})


def _exposure(
    rows: ir.Table, by_actor: dict[str, list[Firing]], first_action: dict[str, datetime]
) -> dict[str, tuple[int, int, int]]:
    """(requests, distinct records, distinct records before acting) per decided actor."""
    out: dict[str, tuple[int, int, int]] = {}
    kinds: dict[ActorKind, list[str]] = defaultdict(list)
    for actor, fired in by_actor.items():
        kinds[fired[0].kind].append(actor)
    for kind, actors in kinds.items():
        decided = ibis.memtable({
            "d_actor": actors,
            "d_first": [first_action[a] for a in actors],
        })
        scoped = actor_rows(rows, kind, 1).select("actor", "one", "item", "item_weight", "ts")
        joined = scoped.inner_join(decided, scoped.actor == decided.d_actor)
        requests = joined.group_by("actor").aggregate(requests=lambda t: t.one.sum())
        items = (
            joined.filter(joined.item.notnull())
            .group_by(["actor", "item"])
            .aggregate(first=lambda t: t.ts.min(), w=lambda t: t.item_weight.max(),
                       d_first=lambda t: t.d_first.max())
            .group_by("actor")
            .aggregate(
                subjects=lambda t: t.w.sum(),
                before=lambda t: (t.w * (t.first < t.d_first).cast("int64")).sum(),
            )
        )
        frame = requests.left_join(items, "actor").execute()
        for record in frame.to_dict("records"):
            subjects = record.get("subjects")
            before = record.get("before")
            out[record["actor"]] = (
                int(record["requests"]),
                0 if subjects is None or subjects != subjects else int(subjects),
                0 if before is None or before != before else int(before),
            )
    return out
