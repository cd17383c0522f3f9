"""The stream engine: the same rule pack, evaluated event by event on a shared store.

`check` runs before the response (one store round trip: the decisions on the request's actor
keys); `record` runs after it, with the exposure the response carried (one round trip: every
counter the event touches, applied atomically). Rules fire the first time their condition
holds, as in the batch engine's replay, and their decisions apply from then on.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapeguard.decisions import Decision, format_ts, parse_ts
from scrapeguard.engines.calibration import Calibration, load_calibration
from scrapeguard.engines.campaigns import CAMPAIGN_WINDOW_SECONDS, THIN_WINDOW_SECONDS
from scrapeguard.engines.firing import Firing, explain
from scrapeguard.engines.live_rows import Deriver, EventRows
from scrapeguard.engines.running import MIN_GAPS, expand
from scrapeguard.engines.verdict import Request, Verdict
from scrapeguard.errors import StoreError
from scrapeguard.events import fingerprint, network_of
from scrapeguard.features import BY_NAME, Distinct, Ratio, Sum
from scrapeguard.policy.expr import Condition, parse
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy, Rule
from scrapeguard.stores import EventUpdate, GroupUpdate, Store, open_store
from scrapeguard.types import ACTOR_KINDS, ActorKind, action_rank

log = logging.getLogger("scrapeguard.stream")

EVENT_KINDS: tuple[ActorKind, ...] = ("ip", "net", "account", "session", "fp")
CAMPAIGN_LINKS = ("enum", "thin")
DECISION_TTL = 86400
MEMBERSHIP = "member:"
"""Prefix of the store's campaign-membership marks, kept beside the decisions: a client
marked when its evidence makes it a member (by keyed hash, like everything the store keeps),
so that a campaign acted on later applies to it from its next request."""
STORE_BACKOFF_SECONDS = 1.0

_DISTINCT_SOURCE = {
    "item_key": "item", "path_key": "path", "page_key": "page", "template_key": "template",
    "error_path_key": "error_path", "ip_key": "ip", "net_key": "net", "ua_key": "ua",
    "hour": "hour", "identity_key": "identity", "session_key": "session", "lookup_key": "lookup",
    "catalogue_key": "catalogue",
}


class StreamEngine:
    """Evaluate a rule pack live; thread-safe; state in a store picked by URI."""

    def __init__(
        self,
        policy: Policy | str | Path | None = None,
        store: Store | str = "memory://",
        *,
        calibration: Calibration | str | Path | None = None,
        secret: bytes | None = None,
        fail_open: bool = True,
    ) -> None:
        self.policy = policy if isinstance(policy, Policy) else load_policy(policy)
        if not isinstance(calibration, Calibration):
            calibration = load_calibration(calibration) if calibration else Calibration()
        self.calibration = calibration
        self.store = open_store(store) if isinstance(store, str) else store
        self.secret = secret or os.environ.get("SCRAPEGUARD_SECRET", "").encode() or os.urandom(32)
        # BLAKE2b's own keyed mode is a MAC, and a fifth of HMAC's cost per call; its key is at
        # most 64 bytes, so a secret of any length is first condensed to 32.
        self._mac_key = hashlib.blake2b(self.secret, digest_size=32,
                                        person=b"scrapeguard-key").digest()
        self.fail_open = fail_open
        self.deriver = Deriver(self.policy, calibration.subject_templates,
                               calibration.catalogue_templates, calibration.asset_templates)
        self.groups: dict[tuple[ActorKind, int], list[tuple[Rule, Condition]]] = defaultdict(list)
        for rule in self.policy.active_rules():
            condition = parse(rule.when)
            known = calibration.percentiles_for(rule.id)
            missing = condition.percentiles - set(known)
            if missing:
                log.warning("rule %s: no calibration for %s; counting them as 0, so only its "
                            "absolute floors apply (run `scrapeguard calibrate` on history)",
                            rule.id, ", ".join(f"p{p.q:g}({p.feature})" for p in missing))
            values = {**dict.fromkeys(missing, 0.0), **known}
            self.groups[(rule.kind, rule.window_seconds)].append((rule, condition.resolve(values)))
        self.features = {
            group: expand({n for _, c in rules for n in c.features} | _explained(rules))
            for group, rules in self.groups.items()
        }
        self.store_errors = 0
        self._warned = False
        self._down_until = 0.0
        self._lock = threading.Lock()
        # Load the user-agent and range data now: a first request should not pay for it, and
        # a fresh node must decide as promptly as a warm one.
        self.deriver.derive({"ts": datetime.now(UTC), "ip": "192.0.2.1", "path": "/",
                             "ua": "Mozilla/5.0"})

    # -- before the response -------------------------------------------------------------
    def check(self, request: Request) -> Verdict:
        """The strongest decision standing on any of the request's actor keys."""
        keys = self._request_keys(request)
        reason = self.deriver.allower.allows(request.ip, request.ua, request.account)
        if reason:
            return Verdict(allowlisted=reason, keys=keys)
        lookup = [f"{kind}:{value}" for kind, value in keys.items()]
        template = self.deriver.template_of(request.path)
        client = self._hash(request.account or request.session or request.ip)
        campaigns = {f"campaign:{link}:{template}": _membership_key(link, template, client)
                     for link in CAMPAIGN_LINKS}
        try:
            found = self.store.get_decisions([*lookup, *campaigns, *campaigns.values()])
        except Exception as exc:
            return self._degraded(exc, keys)
        for name, membership in campaigns.items():
            campaign, member = found.pop(name, None), found.pop(membership, None)
            if campaign and member is not None:
                found[campaign["actor"]] = campaign
        if not found:
            return Verdict(keys=keys)
        actor, record = max(found.items(), key=lambda kv: (action_rank(kv[1]["action"]),
                                                             kv[1]["score"]))
        return Verdict(action=record["action"], actor=actor, score=record["score"],
                       reasons=tuple(record["reasons"]), rules=tuple(record["rules"]), keys=keys)

    def _request_keys(self, request: Request) -> dict[str, str]:
        keys = {"ip": request.ip, "net": network_of(request.ip), "fp": fingerprint(request.ua)}
        if request.account:
            keys["account"] = request.account
        if request.session:
            keys["session"] = request.session
        return keys

    def _recovered(self) -> None:
        if self._warned:
            with self._lock:
                if self._warned:
                    self._warned = False
                    log.warning("scrapeguard store reachable again after %d failed calls",
                                self.store_errors)

    def _degraded(self, exc: Exception, keys: dict[str, str]) -> Verdict:
        with self._lock:
            self.store_errors += 1
            if not isinstance(exc, StoreError):
                # Back off: a dead store must not cost every request its timeout.
                self._down_until = time.monotonic() + STORE_BACKOFF_SECONDS
            if not self._warned:
                self._warned = True
                mode = "allowing" if self.fail_open else "blocking"
                log.warning("scrapeguard store unreachable (%s); %s requests until it is back",
                            exc, mode)
        return Verdict(action="allow" if self.fail_open else "block", degraded=True, keys=keys)

    # -- after the response ---------------------------------------------------------------
    def record(self, event: dict[str, Any]) -> list[Decision]:
        """Count one served event; return the decisions that newly applied because of it."""
        rows = self.deriver.derive(_with_utc(event))
        if rows.allow_reason:
            return []
        update = self._update(rows)
        if time.monotonic() < self._down_until:
            self._degraded(StoreError("store marked down"), {})
            return []
        try:
            result = self.store.record(update)
        except Exception as exc:
            self._degraded(exc, {})
            return []
        if self._warned and self.store_errors:
            with self._lock:
                self._warned = False
                log.warning("scrapeguard store reachable again")
        self._join_campaigns(rows, result)
        fired: list[Decision] = []
        for (kind, seconds), rules in self.groups.items():
            for actor in self._actors(kind, rows):
                key = self._group_key(kind, seconds, actor, rows.ts_ms)
                values = result.groups.get(key)
                if values is None:
                    continue
                features = self._features(values, self.features[(kind, seconds)])
                for rule, condition in rules:
                    if _holds(condition, features):
                        decision = self._fire(rule, kind, actor, rows, features, result, update)
                        if decision is not None:
                            fired.append(decision)
        return fired

    def _join_campaigns(self, rows: EventRows, result: Any) -> None:
        """Mark the client as a member of each campaign its evidence put it in, so that
        `check` applies the campaign's decision to its next request — also when the
        campaign is acted on only later."""
        for link, member, ttl in (("enum", result.member, 2 * CAMPAIGN_WINDOW_SECONDS),
                                  ("thin", result.thin, THIN_WINDOW_SECONDS)):
            if member:
                mark = _membership_key(link, rows.template, self._hash(rows.identity))
                self.store.put_decision(mark, {"member": True}, ttl)

    def _actors(self, kind: ActorKind, rows: EventRows) -> list[str]:
        if kind == "campaign":
            return [f"{link}:{rows.template}" for link in self._links(rows)]
        value = rows.keys.get(kind)
        return [value] if value else []

    def _links(self, rows: EventRows) -> list[str]:
        """Campaign links this event could count under; the store decides membership."""
        if not rows.is_lookup:
            return []
        links = ["enum"]
        if self._bare(rows) and not self._tainting(rows):
            links.append("thin")
        return links

    @staticmethod
    def _bare(rows: EventRows) -> bool:
        """No account: thin-campaign candidates (see `campaigns.py`)."""
        return rows.keys.get("account") is None

    @staticmethod
    def _tainting(rows: EventRows) -> bool:
        flags = rows.rows[0].flags
        return not flags.get("is_subject_route") or bool(flags.get("is_static"))

    def _group_key(self, kind: str, seconds: int, actor: str, ts_ms: int) -> str:
        return f"g:{kind}:{seconds}:{actor}:{ts_ms // (seconds * 1000)}"

    def _update(self, rows: EventRows) -> EventUpdate:
        lookup = rows.is_lookup
        first = rows.rows[0]
        update = EventUpdate(
            ts_ms=rows.ts_ms,
            groups=[],
            seq_key=f"s:{rows.identity}:{rows.template}" if first.numeric_id is not None else None,
            numeric_id=first.numeric_id,
            seq_step=self.policy.settings.seq_step,
            member_key=(f"m:{rows.identity}:{rows.template}:"
                        f"{rows.ts_ms // (CAMPAIGN_WINDOW_SECONDS * 1000)}") if lookup else None,
            is_miss=first.flags.get("is_miss", 0),
            member_min=self.policy.settings.campaign_min_steps,
            member_ratio=self.policy.settings.campaign_evidence_ratio,
            member_min_misses=self.policy.settings.campaign_min_misses,
        )
        if self._bare(rows):
            day = rows.ts_ms // (THIN_WINDOW_SECONDS * 1000)
            update.taint_key = f"t:{rows.identity}:{day}"
            update.tainting = self._tainting(rows)
            thin = f"n:{rows.identity}:{rows.template}:{day}"
            update.thin_key = None if update.tainting else thin
            update.thin_min = self.policy.settings.thin_min_lookups
        items = [(self._hash(r.item), r.item_weight) for r in rows.rows if r.item is not None]
        for (kind, seconds), names in self.features.items():
            for actor in self._actors(kind, rows):
                update.groups.append(self._group_update(kind, seconds, actor, rows, names))
                update.exposure[f"{kind}:{actor}"] = items
                if kind == "campaign":
                    update.exposure_link[f"{kind}:{actor}"] = actor.split(":", 1)[0]
        return update

    def _group_update(self, kind: ActorKind, seconds: int, actor: str, rows: EventRows,
                      names: set[str]) -> GroupUpdate:
        sums: dict[str, int] = defaultdict(int)
        distinct: list[tuple[str, str, int]] = []
        campaign_rows = rows.rows[:1] if kind == "campaign" else rows.rows
        for name in sorted(names):
            shape = BY_NAME[name].shape
            if isinstance(shape, Sum) and shape.column != "is_seq_step":
                for row in campaign_rows:
                    sums[shape.column] += _column(row, shape.column)
            elif isinstance(shape, Distinct):
                for row in campaign_rows:
                    value = _distinct_value(rows, row, shape.column)
                    if value is not None:
                        weight = row.item_weight if shape.weight else 1
                        distinct.append((name, self._hash(value), weight))
        gap = rows.ts_ms if "gap_cv" in names or "gap_mean" in names else None
        tracked = tuple(n for n in sorted(names) if isinstance(BY_NAME[n].shape, Distinct))
        return GroupUpdate(key=self._group_key(kind, seconds, actor, rows.ts_ms),
                           ttl=seconds * 2, sums=dict(sums), distinct=distinct, gap_ts=gap,
                           tracked=tracked,
                           campaign=actor.split(":", 1)[0] if kind == "campaign" else None)

    def _features(self, values: dict[str, float], names: set[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        for name in names:
            shape = BY_NAME[name].shape
            if isinstance(shape, Sum):
                out[name] = values.get(shape.column, 0)
            elif isinstance(shape, Distinct):
                out[name] = values.get(name, 0)
        n, s1, s2 = values.get("_gap_n", 0), values.get("_gap_s1", 0.0), values.get("_gap_s2", 0.0)
        if n >= MIN_GAPS:
            mean = s1 / n
            out["gap_mean"] = mean
            variance = max(s2 / n - mean * mean, 0.0)
            out["gap_cv"] = math.sqrt(variance) / mean if mean > 0 else math.nan
        else:
            out["gap_mean"] = out["gap_cv"] = math.nan
        for name in names:
            shape = BY_NAME[name].shape
            if isinstance(shape, Ratio):
                denominator = out.get(shape.denominator, 0)
                out[name] = out.get(shape.numerator, 0) / denominator if denominator else 0.0
        return out

    def _fire(self, rule: Rule, kind: ActorKind, actor: str, rows: EventRows,
              features: dict[str, float], result: Any, update: EventUpdate) -> Decision | None:
        key = f"{kind}:{actor}"
        with self._lock:
            stored = self.store.get_decisions([key]).get(key)
            if stored and rule.id in stored["rules"]:
                return None
            firing = Firing(rule, 0, kind, rows.ts, features)
            reason = explain(firing, key)
            before = result.exposure_before.get(key, 0)
            record = _merge(stored, rule, kind, key, rows.ts, reason, before,
                            result.requests.get(key, 0))
            self.store.put_decision(key, record, DECISION_TTL)
        return _decision(record)

    def _hash(self, value: str) -> str:
        """Keyed hash of anything that may name a person: the store never holds it in clear."""
        return hashlib.blake2b(value.encode(), key=self._mac_key, digest_size=8).hexdigest()

    def decisions(self) -> list[Decision]:
        """Every decision in the store, as the decisions file has them."""
        return sorted((_decision(r) for k, r in self.store.all_decisions().items()
                       if not k.startswith(MEMBERSHIP)), key=lambda d: d.actor)

    def close(self) -> None:
        self.store.close()


def _membership_key(link: str, template: str, client_hash: str) -> str:
    """Where the store marks a client (by keyed hash) as a member of one campaign."""
    return f"{MEMBERSHIP}{link}:{template}:{client_hash}"


def _holds(condition: Condition, features: dict[str, float]) -> bool:
    try:
        return condition.evaluate(features)
    except (TypeError, ZeroDivisionError):
        return False


def _column(row: Any, column: str) -> int:
    if column == "item_weight":
        return int(row.item_weight)
    return int(row.flags.get(column, 0))


def _distinct_value(rows: EventRows, row: Any, column: str) -> str | None:
    source = _DISTINCT_SOURCE[column]
    if source == "item":
        return row.item  # type: ignore[no-any-return]
    if source == "lookup":
        return row.lookup  # type: ignore[no-any-return]
    if source in ("ip", "net", "session"):
        return rows.keys[source]
    value = getattr(rows, source)
    return None if value is None else str(value)


def _explained(rules: list[tuple[Rule, Condition]]) -> set[str]:
    return {name for rule, _ in rules for name in BY_NAME if "{" + name in rule.explain}


def _with_utc(event: dict[str, Any]) -> dict[str, Any]:
    ts = event["ts"]
    if isinstance(ts, str):
        ts = parse_ts(ts)
    elif ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return {**event, "ts": ts}


def _merge(stored: dict[str, Any] | None, rule: Rule, kind: str, key: str, ts: datetime,
           reason: str, before: int, requests: int) -> dict[str, Any]:
    record: dict[str, Any] = dict(stored) if stored else {
        "actor": key, "kind": kind, "action": "allow", "score": 0.0,
        "first_action_ts": format_ts(ts), "requests": requests, "subjects": before,
        "subjects_before_action": before, "rules": [], "reasons": [],
    }
    if action_rank(rule.action) > action_rank(record["action"]):
        record["action"] = rule.action
    record["score"] = 1.0 - (1.0 - record["score"]) * (1.0 - rule.score)
    record["rules"] = [*record["rules"], rule.id]
    record["reasons"] = [*record["reasons"], reason]
    return record


def _decision(record: dict[str, Any]) -> Decision:
    return Decision.from_json(record)


__all__ = ["ACTOR_KINDS", "StoreError", "StreamEngine"]
