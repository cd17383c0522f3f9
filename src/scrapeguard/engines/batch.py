"""The batch engine: a rule pack compiled to dataframe expressions over a whole log.

For each (actor kind, window) the engine works in two phases. Phase one makes one pass of
integer sums over every (actor, window) group and keeps the groups whose bounds reach each
rule's volume floors (`Condition.volume_floors`): a window that never reached a floor never
satisfied the rule. Phase two replays only the surviving groups event by event with running
features and finds the first event at which each rule held — as if it had been live.
"""

from __future__ import annotations

import math
import operator
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC
from functools import reduce
from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard.engines import sqlcache
from scrapeguard.engines.calibration import Calibration
from scrapeguard.engines.firing import Firing
from scrapeguard.engines.groups import rule_groups
from scrapeguard.engines.lookups import materialize
from scrapeguard.engines.running import (
    expand,
    final_features,
    interval_bounds,
    running_features,
)
from scrapeguard.features import BY_NAME
from scrapeguard.policy.expr import Condition, Percentile, any_of, parse
from scrapeguard.policy.model import Policy, Rule
from scrapeguard.types import GROUP_KINDS, MEMBER_KINDS, ActorKind

SUB_STEPS = 12
"""Steps per window for the interval prefilter: finer prunes more, coarser scans less."""


KIND_COLUMN: dict[ActorKind, str] = {
    "ip": "ip_key", "net": "net_key", "asn": "asn_key", "prefix": "prefix_key",
    "account": "account_key", "session": "session_key",
    "fp": "fp_key", "hdr": "hdr_key", "tls": "tls_key", "campaign": "campaign_key",
}


ROW_COLUMNS = ("ts", "ts_ms", "eid", "item_pos", "one", "is_subject_route",
               *(KIND_COLUMN[k] for k in MEMBER_KINDS))
"""What every group reads besides its features' columns: the replay order, gaps, members."""


def actor_rows(rows: ir.Table, kind: ActorKind, window_seconds: int,
               columns: set[str] | None = None, offset: int = 0) -> ir.Table:
    """The rows one actor kind counts, with `actor` and window `bucket`; allowlisted left out.

    With `columns`, only those are kept: a group's replay table is written with what its rules
    read, not the whole enriched row.
    """
    column = KIND_COLUMN[kind]
    kept = rows.filter(rows[column].notnull() & rows.allow_reason.isnull())
    if columns is not None:
        kept = kept.select(*sorted(c for c in columns | {column} if c in rows.columns))
    # A sliding window's phase starts `offset` seconds after the epoch-aligned one (`Rule.hop`).
    return kept.mutate(actor=kept[column],
                       bucket=(kept.ts_ms - offset * 1000) // (window_seconds * 1000))


def feature_columns(names: set[str]) -> set[str]:
    """The row columns the named features (and those they are computed from) read."""
    out: set[str] = set()
    for name in expand(names):
        shape = BY_NAME[name].shape
        out |= {v for v in vars(shape).values() if isinstance(v, str)}
    return out


def evaluate(
    sources: Mapping[ActorKind, ir.Table], policy: Policy
) -> tuple[list[Firing], Calibration]:
    """Every firing of every active rule; `sources` gives the rows each kind counts over."""
    firings: list[Firing] = []
    calibration = Calibration()
    for (kind, seconds, links, offset), rules in rule_groups(policy):
        source = sources[kind]
        if links:  # a campaign rule judges only the links it names (`Rule.links`)
            source = source.filter(source.campaign_link.isin(links))
        named = {n for rule in rules for n in parse(rule.when).features} | _explained(rules)
        wanted = set(ROW_COLUMNS) | feature_columns(named)
        if "ref" in links:  # referral members are judged on all they asked (`_members`)
            wanted |= {"is_static", "identity_key"}
        scoped = actor_rows(source, kind, seconds, wanted, offset)
        firings.extend(_evaluate_group(scoped, kind, rules, calibration, offset))
    return _earliest(firings), calibration


def _earliest(firings: list[Firing]) -> list[Firing]:
    """One firing per rule and actor: a sliding window's phases may each hold the rule, and
    its decision dates from the first (the stream engine fires once, at that event)."""
    first: dict[tuple[str, ActorKind, int], Firing] = {}
    for firing in firings:
        key = (firing.rule.id, firing.kind, firing.actor)
        if key not in first or ((firing.first_ts, firing.first_eid)
                                < (first[key].first_ts, first[key].first_eid)):
            first[key] = firing
    return list(first.values()) if len(first) < len(firings) else firings


def _evaluate_group(
    scoped: ir.Table, kind: ActorKind, rules: list[Rule], calibration: Calibration,
    offset: int = 0,
) -> list[Firing]:
    # The window first: on the bench log's referral campaign (one actor with two thirds of
    # 351k rows) DuckDB 2.0 ran running sums partitioned by (64-bit actor key, bucket) nine
    # times slower than by (bucket, actor), the same groups (`bench/running_sums.py`).
    keys = ["bucket", "actor"]
    conditions = {rule.id: parse(rule.when) for rule in rules}
    percentiles = {p for c in conditions.values() for p in c.percentiles}
    if offset:  # later phases of a sliding window judge by the first phase's percentiles
        resolved = {rule.id: conditions[rule.id].resolve(calibration.percentiles_for(rule.id))
                    for rule in rules}
    else:
        resolved = _calibrate(scoped, keys, conditions, percentiles, rules, calibration)
    used = {n for c in resolved.values() for n in c.features}
    step_ms = max(1000, rules[0].window_seconds * 1000 // SUB_STEPS)
    def possible_in(bounds: dict[str, Any]) -> Any:
        return any_of([c.possible(bounds) for c in resolved.values()])

    steps, bounds = interval_bounds(scoped, keys, used, step_ms, possible_in)
    possible = possible_in(bounds)
    if possible is False:
        return []
    candidates = (steps if possible is True else steps.filter(possible)).select(keys).distinct()
    backend = scoped._find_backend()
    links = "_".join(sorted(rules[0].links)) if kind == "campaign" else ""
    links += f"_at{offset}" if offset else ""
    replay_rows = materialize(backend, scoped.semi_join(candidates, keys),
                              f"_replay_{kind}_{rules[0].window_seconds}{links}")
    if not sqlcache.has_rows(backend, replay_rows):
        return []
    quoted = used | _explained(rules)
    replay = running_features(replay_rows, keys, quoted)
    # Every rule of the group is tested on one pass of the running features: each rule's
    # flag is a column, and only rows where some rule held are kept (few).
    flags = {_held(i): resolved[rule.id].to_ibis(replay).fill_null(False)
             for i, rule in enumerate(rules)}
    marked = replay.mutate(**flags)
    held = materialize(backend, marked.filter(reduce(operator.or_, [marked[c] for c in flags])),
                       f"_held_{kind}_{rules[0].window_seconds}{links}")
    # Members are dated from their first request under the actor, in whatever window: the
    # replay keeps only the windows a rule could hold in (`scoped` has them all).
    return _first_firings(held, scoped, rules, kind, quoted)


def _held(index: int) -> str:
    """The column that says rule `index` of its group held at this row."""
    return f"_held_{index}"


def _calibrate(
    scoped: ir.Table,
    keys: list[str],
    conditions: dict[str, Condition],
    percentiles: set[Percentile],
    rules: list[Rule],
    calibration: Calibration,
) -> dict[str, Condition]:
    """Resolve `pNN(feature)` to numbers measured over this kind's (actor, window) groups."""
    values: dict[Percentile, float] = {}
    if percentiles:
        finals = final_features(scoped, keys, {p.feature for p in percentiles})
        aggregates = {
            f"p{i}": finals[p.feature].quantile(p.q / 100) for i, p in enumerate(percentiles)
        }
        measured = sqlcache.arrow(finals._find_backend(),
                                  finals.aggregate(**aggregates)).to_pylist()[0]
        for i, p in enumerate(percentiles):
            value = measured[f"p{i}"]
            values[p] = 0.0 if value is None or math.isnan(float(value)) else float(value)
    for rule in rules:
        used = conditions[rule.id].percentiles
        if used:
            calibration.percentiles[rule.id] = {p: values[p] for p in used}
    return {rule_id: c.resolve(values) for rule_id, c in conditions.items()}


def _explained(rules: list[Rule]) -> set[str]:
    """Features named in explanation templates, so reasons can quote their values."""
    return {name for rule in rules for name in BY_NAME if "{" + name in rule.explain}


def _first_firings(
    held: ir.Table, scoped: ir.Table, rules: list[Rule], kind: ActorKind, used: set[str]
) -> list[Firing]:
    """The earliest row per actor at which each rule held, with the features then.

    One aggregation for the whole group: per rule a `FILTER`ed minimum and arg-minimum. The
    order is the replay's own (time, event), so of two rows in one second the earlier
    event's values are quoted; within the event its last row that held, for a rule is
    evaluated after each event (docs/features.md): a page that carried several records
    quotes the count with all of them, as the stream engine does.
    """
    present = [n for n in sorted(used) if n in held.columns]
    order = ibis.struct({"ts_ms": held.ts_ms, "eid": held.eid, "item_pos": -held.item_pos})
    metrics: dict[str, Any] = {}
    for i in range(len(rules)):
        where = held[_held(i)]
        metrics[f"_first_ts_{i}"] = held.ts.min(where=where)
        metrics[f"_first_eid_{i}"] = held.eid.argmin(order, where=where)
        for name in present:
            metrics[f"_{name}_{i}"] = held[name].argmin(order, where=where)
    records = sqlcache.arrow(held._find_backend(),
                             held.group_by("actor").aggregate(**metrics)).to_pylist()
    out = []
    for i, rule in enumerate(rules):
        # A referral campaign's members are its clients whatever they asked (`campaigns.py`).
        every = kind == "campaign" and "ref" in rule.links
        members = (_members(held.filter(held[_held(i)]), scoped, every,
                            identities=kind == "campaign")
                   if kind in GROUP_KINDS else None)
        for record in records:
            first_ts = record[f"_first_ts_{i}"]
            if first_ts is None:
                continue  # this rule never held for this actor
            actor = int(record["actor"])
            out.append(Firing(
                rule=rule,
                actor=actor,
                kind=kind,
                first_ts=first_ts.astimezone(UTC),
                values={n: _number(record[f"_{n}_{i}"]) for n in present},
                members=members.get(actor, {}) if members is not None else None,
                first_eid=int(record[f"_first_eid_{i}"]),
            ))
    return out


def _members(held: ir.Table, scoped: ir.Table, every: bool = False, *,
             identities: bool = False) -> dict[int, dict[str, dict[int, int]]]:
    """ip/account/session keys behind each fingerprint or campaign actor that fired, each with
    the time (ms) of its first personal-data request under that actor: a client that joins a
    campaign late is covered by the campaign's decision only from then.

    Members come from the personal-data requests of the windows in which the rule held, so an
    innocent who shares a common user agent on another day is not listed. With `every`, all
    of a member's requests count, not only its personal-data ones (referral campaigns).

    With `identities` (campaigns), an address is listed only from a member's requests made
    without an account: a campaign's member is its client (`clients.identity`: the account,
    else the address), as the live engine marks it. A residential proxy's exit is someone's
    home, and the person logged in behind it is not the importer that borrowed it.
    """
    windows = held.select("actor", "bucket").distinct()
    lookups = scoped if every else scoped.filter(scoped.is_subject_route == 1)
    listed = lookups.semi_join(windows, ["actor", "bucket"])
    if every:  # a member that loaded an asset behaved like a browser: it is spared
        browsers = listed.filter(listed.is_static == 1).select("actor", "bucket",
                                                               "identity_key").distinct()
        listed = listed.anti_join(browsers, ["actor", "bucket", "identity_key"])
    out: dict[int, dict[str, dict[int, int]]] = defaultdict(dict)
    for kind in MEMBER_KINDS:
        column = KIND_COLUMN[kind]
        mine, since = listed.filter(listed[column].notnull()), lookups
        if identities and kind == "ip":
            mine = mine.filter(mine.account_key.isnull())
            since = since.filter(since.account_key.isnull())
        pairs = mine.select("actor", column).distinct()
        firsts = sqlcache.arrow(
            held._find_backend(),
            since.semi_join(pairs, ["actor", column]).group_by(["actor", column])
            .aggregate(first_ms=lambda t: t.ts_ms.min()))
        grouped: dict[int, dict[int, int]] = defaultdict(dict)
        for record in firsts.to_pylist():
            grouped[int(record["actor"])][int(record[column])] = int(record["first_ms"])
        for actor, values in grouped.items():
            out[actor][kind] = values
    return out


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")
