"""The batch engine: a rule pack compiled to dataframe expressions over a whole log.

For each (actor kind, window) the engine works in two phases. Phase one aggregates every
(actor, window) group once and keeps those whose final values reach each rule's volume floors
(`Condition.volume_floors`): a window that never reached a floor never satisfied the rule, so
the costly part runs on few rows. Phase two replays the surviving groups event by event with
running features and finds the first event at which each rule held — as if it had been live.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard.engines.running import final_features, running_features
from scrapeguard.features import BY_NAME
from scrapeguard.policy.expr import Condition, Percentile, parse
from scrapeguard.policy.model import Policy, Rule
from scrapeguard.types import ActorKind

MEMBER_KINDS = ("ip", "account", "session")
"""Keys a consumer can read off one event; fingerprint and campaign decisions list these."""

_KIND_COLUMN: dict[ActorKind, str] = {
    "ip": "ip", "net": "net", "account": "account", "session": "session", "fp": "fp",
    "campaign": "campaign",
}


@dataclass
class Firing:
    """One rule holding for one actor: when it first held and the feature values then."""

    rule: Rule
    actor: str
    kind: ActorKind
    first_ts: datetime
    values: dict[str, float]
    members: list[str] | None = None


@dataclass
class Calibration:
    """Percentile thresholds measured on this log, so a report can say what `p99` meant."""

    values: dict[str, dict[Percentile, float]] = field(default_factory=dict)


def actor_rows(rows: ir.Table, kind: ActorKind, window_seconds: int) -> ir.Table:
    """The rows one actor kind counts: actor key, window bucket; allowlisted rows left out."""
    column = rows[_KIND_COLUMN[kind]]
    return rows.filter(column.notnull() & rows.allow_reason.isnull()).mutate(
        actor=kind + ":" + column.cast("string"),
        bucket=rows.ts_ms // (window_seconds * 1000),
    )


def evaluate(rows: ir.Table, policy: Policy) -> tuple[list[Firing], Calibration]:
    """Every firing of every active rule over the enriched rows."""
    groups: dict[tuple[ActorKind, int], list[Rule]] = defaultdict(list)
    for rule in policy.active_rules():
        groups[(rule.kind, rule.window_seconds)].append(rule)
    firings: list[Firing] = []
    calibration = Calibration()
    for (kind, seconds), rules in sorted(groups.items()):
        scoped = actor_rows(rows, kind, seconds)
        firings.extend(_evaluate_group(scoped, kind, rules, calibration))
    return firings, calibration


def _evaluate_group(
    scoped: ir.Table, kind: ActorKind, rules: list[Rule], calibration: Calibration
) -> list[Firing]:
    keys = ["actor", "bucket"]
    conditions = {rule.id: parse(rule.when) for rule in rules}
    percentiles = {p for c in conditions.values() for p in c.percentiles}
    floor_names = {n for c in conditions.values() for n, _ in c.volume_floors()}
    phase_one = final_features(scoped, keys, floor_names | {p.feature for p in percentiles})
    resolved = _calibrate(phase_one, conditions, percentiles, rules, calibration)

    candidates = phase_one.filter(_any_floor(phase_one, resolved.values())).select(keys)
    if candidates.count().execute() == 0:
        return []
    replay_rows = scoped.semi_join(candidates, keys)
    used = {n for c in resolved.values() for n in c.features} | _explained(rules)
    replay = running_features(replay_rows, keys, used)
    firings: list[Firing] = []
    for rule in rules:
        condition = resolved[rule.id]
        held = replay.filter(condition.to_ibis(replay).fill_null(False))
        firings.extend(_first_firings(held, replay_rows, rule, kind, used))
    return firings


def _calibrate(
    phase_one: ir.Table,
    conditions: dict[str, Condition],
    percentiles: set[Percentile],
    rules: list[Rule],
    calibration: Calibration,
) -> dict[str, Condition]:
    values: dict[Percentile, float] = {}
    if percentiles:
        aggregates = {
            f"p{i}": phase_one[p.feature].quantile(p.q / 100) for i, p in enumerate(percentiles)
        }
        measured = phase_one.aggregate(**aggregates).execute().iloc[0]
        for i, p in enumerate(percentiles):
            value = measured[f"p{i}"]
            values[p] = 0.0 if value is None or math.isnan(float(value)) else float(value)
    for rule in rules:
        used = conditions[rule.id].percentiles
        if used:
            calibration.values[rule.id] = {p: values[p] for p in used}
    return {rule_id: c.resolve(values) for rule_id, c in conditions.items()}


def _any_floor(table: ir.Table, conditions: Iterable[Condition]) -> Any:
    """True for groups that reach every floor of at least one rule."""
    result = ibis.literal(False)
    for condition in conditions:
        floors = condition.volume_floors()
        clause = ibis.literal(True)
        for name, value in floors:
            clause = clause & (table[name] >= value)
        result = result | clause
    return result


def _explained(rules: list[Rule]) -> set[str]:
    """Features named in explanation templates, so reasons can quote their values."""
    names = set()
    for rule in rules:
        for name in BY_NAME:
            if "{" + name in rule.explain:
                names.add(name)
    return names


def _first_firings(
    held: ir.Table, replay_rows: ir.Table, rule: Rule, kind: ActorKind, used: set[str]
) -> list[Firing]:
    """The earliest row per actor at which the rule held, with the features then."""
    present = [n for n in sorted(used) if n in held.columns]
    metrics: dict[str, Any] = {"first_ts": held.ts.min()}
    for name in present:
        metrics[name] = held[name].argmin(held.ts_ms)
    firsts = held.group_by("actor").aggregate(**metrics).execute()
    members = _members(held, replay_rows) if kind in ("fp", "campaign") else None
    out = []
    for record in firsts.to_dict("records"):
        ts = record["first_ts"]
        first_ts = ts.to_pydatetime() if hasattr(ts, "to_pydatetime") else ts
        out.append(Firing(
            rule=rule,
            actor=record["actor"],
            kind=kind,
            first_ts=first_ts.astimezone(UTC),
            values={n: _number(record[n]) for n in present},
            members=members.get(record["actor"], []) if members is not None else None,
        ))
    return out


def _members(held: ir.Table, replay_rows: ir.Table) -> dict[str, list[str]]:
    """ip/account/session keys behind each fingerprint or campaign actor that fired.

    Members come from the personal-data requests of the windows in which the rule held, so an
    innocent who shares a common user agent on another day is not listed.
    """
    windows = held.select("actor", "bucket").distinct()
    rows = replay_rows.semi_join(windows, ["actor", "bucket"]).filter(
        lambda t: t.is_subject_route == 1
    )
    out: dict[str, set[str]] = defaultdict(set)
    for kind in MEMBER_KINDS:
        pairs = rows.filter(rows[kind].notnull()).select("actor", kind).distinct().execute()
        for actor, value in zip(pairs["actor"], pairs[kind], strict=True):
            out[actor].add(f"{kind}:{value}")
    return {actor: sorted(keys) for actor, keys in out.items()}


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return number
