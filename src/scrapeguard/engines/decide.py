"""From rule firings to decisions: one per actor, with the exposure before and after acting."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import ibis.expr.types as ir

from scrapeguard.decisions import Decision
from scrapeguard.engines import sqlcache
from scrapeguard.engines.batch import actor_rows
from scrapeguard.engines.firing import Firing, explain
from scrapeguard.types import MEMBER_KINDS, ActorKind, action_rank

Resolver = Callable[[str, list[int]], dict[int, str]]
"""(kind, keys) → key → text, for the few keys decisions name."""


def combine(
    firings: list[Firing], sources: Mapping[ActorKind, ir.Table], resolve: Resolver
) -> list[Decision]:
    """One decision per actor: the strongest action, the earliest time, every reason."""
    by_actor: dict[tuple[ActorKind, int], list[Firing]] = defaultdict(list)
    for firing in firings:
        by_actor[(firing.kind, firing.actor)].append(firing)
    first_action: dict[tuple[ActorKind, int], tuple[datetime, int]] = {}
    for actor, fired in by_actor.items():
        acting = [f for f in fired if f.rule.action != "allow"]
        first_action[actor] = min((f.first_ts, f.first_eid) for f in (acting or fired))
    totals = _exposure(sources, first_action)
    names = _names(by_actor, resolve)
    decisions = []
    for (kind, key), fired in by_actor.items():
        fired.sort(key=lambda f: (f.first_ts, f.first_eid, f.rule.id))
        survival = 1.0
        for f in fired:
            survival *= 1.0 - f.rule.score
        actor_text = f"{kind}:{names[kind].get(key, f'#{key:x}')}"
        requests, subjects, before = totals.get((kind, key), (0, 0, 0))
        decisions.append(Decision(
            actor=actor_text,
            kind=kind,
            action=max((f.rule.action for f in fired), key=action_rank),
            score=1.0 - survival,
            first_action_ts=first_action[(kind, key)][0],
            requests=requests,
            subjects=subjects,
            subjects_before_action=before,
            rules=list(dict.fromkeys(f.rule.id for f in fired)),
            reasons=[explain(f, actor_text) for f in fired],
            **_members(fired, names, first_action[(kind, key)][0]),
        ))
    decisions.sort(key=lambda d: d.actor)
    return decisions


def _names(
    by_actor: Mapping[tuple[ActorKind, int], list[Firing]], resolve: Resolver
) -> dict[str, dict[int, str]]:
    wanted: dict[str, set[int]] = defaultdict(set)
    for (actor_kind, actor_key), fired in by_actor.items():
        wanted[actor_kind].add(actor_key)
        for firing in fired:
            for member_kind, member_keys in (firing.members or {}).items():
                wanted[member_kind].update(member_keys)
    names: dict[str, dict[int, str]] = defaultdict(dict)
    for kind, keys in wanted.items():
        names[kind] = resolve(kind, sorted(keys))
    return names


def _members(fired: list[Firing], names: Mapping[str, dict[int, str]],
             first_action: datetime) -> dict[str, Any]:
    """`members` and, aligned with it, when the decision first applied to each: the later of
    the decision's own first action and the member's first request under the actor."""
    lists = [f.members for f in fired if f.members is not None]
    if not lists:
        return {}
    joined: dict[str, int] = {}
    for members in lists:
        for kind in MEMBER_KINDS:
            for key, first_ms in members.get(kind, {}).items():
                text = f"{kind}:{names[kind].get(key, f'#{key:x}')}"
                joined[text] = min(first_ms, joined.get(text, first_ms))
    keys = sorted(joined)
    since = [max(first_action, _from_ms(joined[k])) for k in keys]
    return {"members": keys, "members_first_action_ts": since}


def _from_ms(ms: int) -> datetime:
    """Epoch milliseconds to a datetime, exactly (a float division can land a microsecond off
    the event's own time, and the member's first request would then seem uncovered)."""
    return datetime.fromtimestamp(ms // 1000, UTC).replace(microsecond=ms % 1000 * 1000)


def _exposure(
    sources: Mapping[ActorKind, ir.Table],
    first_action: Mapping[tuple[ActorKind, int], tuple[datetime, int]],
) -> dict[tuple[ActorKind, int], tuple[int, int, int]]:
    """(requests, distinct records, distinct records before acting) per decided actor.

    Before acting is before the event at which the decision was first made: a record received
    in an earlier event stamped the same second (an access log's resolution) counts, as it
    does live, where the event's place in the stream says what came before it."""
    out: dict[tuple[ActorKind, int], tuple[int, int, int]] = {}
    kinds: dict[ActorKind, list[int]] = defaultdict(list)
    for kind, key in first_action:
        kinds[kind].append(key)
    for kind, keys in kinds.items():
        backend = sources[kind]._find_backend()
        decided = sqlcache.table_of(
            backend, "_decided",
            {"d_actor": keys, "d_first": [first_action[(kind, k)][0] for k in keys],
             "d_eid": [first_action[(kind, k)][1] for k in keys]},
            {"d_actor": "int64", "d_first": "timestamp('UTC')", "d_eid": "int64"},
        )
        scoped = actor_rows(sources[kind], kind, 1).select(
            "actor", "one", "item_key", "item_weight", "ts", "eid")
        joined = scoped.inner_join(decided, scoped.actor == decided.d_actor)
        requests = joined.group_by("actor").aggregate(requests=lambda t: t.one.sum())
        earlier = (joined.ts < joined.d_first) | ((joined.ts == joined.d_first)
                                                  & (joined.eid < joined.d_eid))
        items = (
            joined.filter(joined.item_key.notnull())
            .mutate(earlier=earlier.cast("int64"))
            .group_by(["actor", "item_key"])
            .aggregate(earlier=lambda t: t.earlier.max(), w=lambda t: t.item_weight.max())
            .group_by("actor")
            .aggregate(
                subjects=lambda t: t.w.sum(),
                before=lambda t: (t.w * t.earlier).sum(),
            )
        )
        frame = sqlcache.arrow(backend, requests.left_join(items, "actor"))
        for record in frame.to_pylist():
            out[(kind, int(record["actor"]))] = (
                int(record["requests"]),
                _count(record.get("subjects")),
                _count(record.get("before")),
            )
    return out


def _count(value: Any) -> int:
    return 0 if value is None or value != value else int(value)
