"""The stream engine: the same rule pack, evaluated event by event on a shared store.

`check` runs before the response (one store round trip: the decisions on the request's actor
keys); `record` runs after it, with the exposure the response carried (one round trip: every
counter the event touches, applied atomically). Rules fire the first time their condition
holds, as in the batch engine's replay, and their decisions apply from then on.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from scrapeguard import clients, clientshape
from scrapeguard.canonical import canonical_ip
from scrapeguard.decisions import Decision, format_ts, parse_ts
from scrapeguard.engines.calibration import Calibration, load_calibration
from scrapeguard.engines.campaigns import (
    CAMPAIGN_WINDOW_SECONDS,
    REFERRAL_WINDOW_SECONDS,
    THIN_WINDOW_SECONDS,
)
from scrapeguard.engines.firing import Firing, explain
from scrapeguard.engines.live_members import MemberBook
from scrapeguard.engines.live_rows import Deriver, EventRows
from scrapeguard.engines.running import GAP_FEATURES, MIN_GAPS, expand
from scrapeguard.engines.verdict import Request, Verdict
from scrapeguard.errors import StoreError
from scrapeguard.events import fingerprint
from scrapeguard.features import BY_NAME, DAY_MS, Beyond, Distinct, Ratio, Sum
from scrapeguard.netinfo import network_keys
from scrapeguard.policy.expr import Condition, parse
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy, Rule
from scrapeguard.routes.live import RouteLearner, method_group
from scrapeguard.routes.live import Seen as RouteSeen
from scrapeguard.routes.model import RouteTable
from scrapeguard.stores import EventUpdate, GroupUpdate, Store, open_store
from scrapeguard.stores.keys import StateHasher, load_secret
from scrapeguard.types import ACTOR_KINDS, GROUP_KINDS, Action, ActorKind, action_rank

log = logging.getLogger("scrapeguard.stream")

NO_CALIBRATION = ("rule %s: no calibration for %s; counting them as 0, so only its absolute "
                  "floors apply (run `scrapeguard calibrate` on history)")
"""The warning an engine built without a calibration gives per relative rule; a process
that builds a second engine from the same settings (serve's record lane) filters it out."""

EVENT_KINDS: tuple[ActorKind, ...] = ("ip", "net", "asn", "prefix", "account", "session", "fp",
                                     "hdr", "tls")
CAMPAIGN_LINKS = ("enum", "thin")
"""Links decided by the store, by route template; `ref` is decided here, by client day."""
MAX_REFERRED = 100_000
"""Client days whose referral campaign this process remembers (`_referred`), and clients
whose assets before their first page it holds (`_early`): past this, it starts over."""
MEMBERSHIP = "member:"
"""Prefix of the store's campaign-membership marks, kept beside the decisions: a client
marked when its evidence makes it a member (by keyed hash, like everything the store keeps),
so that a campaign acted on later applies to it from its next request."""
SINCE = "since:"
"""Prefix of the store's first sightings of sessions the guard did not sign (a log's, an app
hook's), by keyed hash: their history, which `clients.py` asks of a session."""
_SINCE_CACHE = 100_000
MANUAL = "manual:"
"""Prefix of the store's operator decisions (`set_manual`), by the actor's keyed hash: kept
apart from the rules' decisions, so a manual allow stands over a block without erasing it, and
each lapses at its own time to live."""
SEP = "\x1f"
REF_CACHE = 16_384
"""Actor refs (keyed hashes) remembered: an event asks for its actors' refs once per window
and again for its rules, and a decision for the stack and campaign refs its neighbours
share; each is a keyed BLAKE2b, a twentieth of the record lane's time when computed anew."""
MAX_NAMES = 100_000
"""Clear actor keys this process remembers for the decisions it made or met (oldest first
out), so that `decisions()` can name them: the store itself holds only their keyed hashes."""
STORE_BACKOFF_SECONDS = 1.0

_DISTINCT_SOURCE = {
    "item_key": "item", "path_key": "path", "page_key": "page", "template_key": "template",
    "error_path_key": "error_path", "ip_key": "ip", "net_key": "net", "ua_key": "ua",
    "asn_key": "asn", "prefix_key": "prefix",
    "hour": "hour", "identity_key": "identity", "client_key": "client", "session_key": "session",
    "lookup_key": "lookup", "author_key": "author", "catalogue_key": "catalogue",
    "target_key": "target_miss", "script_key": "script_miss",
    "library_page_key": "library_page", "headless_page_key": "headless_page",
    "library_path_key": "library_path", "login_agent_key": "login_agent",
    "feed_agent_key": "feed_agent", "arrival_agent_key": "arrival_agent",
    "target_guess_key": "target_guess", "browser_page_key": "browser_page",
    "asked_key": "asked",
}


@dataclass(frozen=True)
class _Shape:
    """One rule group's features, resolved from `features.BY_NAME` once: what each event
    counts for the group, and how its counts read back as features (`_features`)."""

    sums: tuple[str, ...]
    """Columns the event adds to (a Sum feature's, `is_seq_step` aside: the store finds
    that one), in feature-name order, a column repeated as often as features share it."""
    distinct: tuple[tuple[str, str, bool], ...]
    """(feature, column, weighted) of each Distinct feature, in feature-name order."""
    gap: bool
    tracked: tuple[str, ...]
    read: tuple[tuple[str, str, int | None], ...]
    """(feature, column, None) of a Sum, (feature, feature, floor) of a Distinct."""
    ratios: tuple[tuple[str, str, str], ...]
    beyond: tuple[tuple[str, str], ...] = ()
    """(feature, column) of each Beyond feature: counted as a distinct under its own name
    and again under `name@day` (`_daily`), the day's own distinct set; read back as the
    first less the largest of the second (`_features`)."""

    @classmethod
    def of(cls, names: set[str]) -> _Shape:
        ordered = sorted(names)
        sums: list[str] = []
        distinct: list[tuple[str, str, bool]] = []
        read: list[tuple[str, str, int | None]] = []
        ratios: list[tuple[str, str, str]] = []
        beyond: list[tuple[str, str]] = []
        for name in ordered:
            shape = BY_NAME[name].shape
            if isinstance(shape, Sum) and shape.column != "is_seq_step":
                sums.append(shape.column)
            elif isinstance(shape, Distinct):
                distinct.append((name, shape.column, bool(shape.weight)))
            elif isinstance(shape, Beyond):
                beyond.append((name, shape.column))
        for name in names:  # the set's own order, as the features were read before
            shape = BY_NAME[name].shape
            if isinstance(shape, Sum):
                read.append((name, shape.column, None))
            elif isinstance(shape, Distinct):
                read.append((name, name, shape.floor))
            elif isinstance(shape, Ratio):
                ratios.append((name, shape.numerator, shape.denominator))
        tracked = (*(name for name, _, _ in distinct), *(name for name, _ in beyond))
        return cls(tuple(sums), tuple(distinct), bool(names & GAP_FEATURES),
                   tracked, tuple(read), tuple(ratios), tuple(beyond))


def _daily(name: str, day: int) -> str:
    """The counter of a Beyond feature's values on one day of its window."""
    return f"{name}@{day}"


@dataclass(frozen=True)
class _Lookup:
    """One request's store keys for `check`: its actor refs (to clear names), its
    campaigns (ref to name and membership mark) and the operator's keys (to actor ref)."""

    keys: dict[str, str]
    clear: dict[str, str]
    campaigns: dict[str, tuple[str, str]]
    manual: dict[str, str]

    @property
    def wanted(self) -> list[str]:
        marks = [mark for _, mark in self.campaigns.values()]
        return [*self.clear, *self.campaigns, *marks, *self.manual]


class StreamEngine:
    """Evaluate a rule pack live; thread-safe; state in a store picked by URI."""

    def __init__(
        self,
        policy: Policy | str | Path | None = None,
        store: Store | str = "memory://",
        *,
        calibration: Calibration | str | Path | None = None,
        secret: bytes | None = None,
        secret_file: str | Path | None = None,
        fail_open: bool = True,
        budget: float | None = None,
        learn_routes: bool = True,
    ) -> None:
        self.policy = policy if isinstance(policy, Policy) else load_policy(policy)
        if not isinstance(calibration, Calibration):
            calibration = load_calibration(calibration) if calibration else Calibration()
        self.calibration = calibration
        self.store = open_store(store) if isinstance(store, str) else store
        self.budget = budget
        """Seconds `check` may wait on the store; a lookup that fails after waiting that long
        is a stalled store, and the engine backs off (see `back_off`)."""
        if budget is not None:
            self.store.read_timeout(budget)
        self.secret = load_secret(secret, secret_file)
        self._hash = StateHasher(self.secret)
        self._refs = lru_cache(maxsize=REF_CACHE)(self._ref_uncached)
        self._names: dict[str, str] = {}
        self.decision_ttl = self.policy.settings.decision_ttl_seconds()
        self.fail_open = fail_open
        self.deriver = Deriver(self.policy, calibration.subject_templates,
                               calibration.catalogue_templates, calibration.asset_templates)
        self.learner = RouteLearner(self.policy, self._hash) if learn_routes else None
        """What each route is, learned from the requests served (`routes/live.py`); None
        when only declared routes, the calibration and `X-Subjects` say."""
        if self.learner is not None:
            self._learned()
        self.groups: dict[tuple[ActorKind, int, tuple[str, ...], int],
                          list[tuple[Rule, Condition]]] = defaultdict(list)
        """(kind, window, campaign links, phase offset) → the rules counted in that group."""
        for rule in self.policy.active_rules():
            condition = parse(rule.when)
            known = calibration.percentiles_for(rule.id)
            missing = condition.percentiles - set(known)
            if missing:
                log.warning(NO_CALIBRATION, rule.id,
                            ", ".join(f"p{p.q:g}({p.feature})" for p in missing))
            values = {**dict.fromkeys(missing, 0.0), **known}
            links = tuple(sorted(rule.links)) if rule.kind == "campaign" else ()
            for offset in rule.phases:  # a sliding window's phases (`Rule.hop`)
                self.groups[(rule.kind, rule.window_seconds, links, offset)].append(
                    (rule, condition.resolve(values)))
        self.features = {
            group: expand({n for _, c in rules for n in c.features} | _explained(rules))
            for group, rules in self.groups.items()
        }
        self._shapes = {group: _Shape.of(names) for group, names in self.features.items()}
        self.store_errors = 0
        self._warned = False
        self._down_until = 0.0
        self._stalled_until = 0.0
        self._lock = threading.Lock()
        self._since: dict[str, datetime] = {}
        """First sightings by session hash, so a node asks the store once per session."""
        self._referred: dict[tuple[str, int], tuple[str | None, bool]] = {}
        """(client hash, day) → the external host its first page came from (or None), and
        whether it has loaded an asset (spared by its campaign's decision)."""
        self._early: dict[tuple[str, int], dict[str, int]] = {}
        """(client hash, day) → sums of the assets it loaded before its first page."""
        self.members = MemberBook()
        """Who this node saw counted under fingerprint and campaign actors: their
        decisions' `members` (`live_members.py`)."""
        # Load the user-agent and range data now: a first request should not pay for it, and
        # a fresh node must decide as promptly as a warm one.
        self.deriver.derive({"ts": datetime.now(UTC), "ip": "192.0.2.1", "path": "/",
                             "ua": "Mozilla/5.0"})

    # -- before the response -------------------------------------------------------------
    def check(self, request: Request) -> Verdict:
        """The strongest decision standing on any of the request's actor keys."""
        return self.check_many([request])[0]

    def check_many(self, requests: list[Request]) -> list[Verdict]:
        """`check` for several requests with one store lookup for all of them: a service
        deciding concurrent requests pays one round trip per batch, not per request."""
        plans, wanted = self._plan_many(requests)
        if not wanted:
            return self._concluded(plans, {})
        asked = time.monotonic()
        try:
            found = self.store.get_decisions(wanted)
        except Exception as exc:
            return self._failed(plans, exc, asked)
        return self._concluded(plans, found)

    @property
    def reads_async(self) -> bool:
        """Whether `check_many_async` reads the store on the event loop (a networked store
        with an asyncio client); else it would block the loop, and callers use a thread."""
        return self.store.get_decisions_async is not None

    async def check_many_async(self, requests: list[Request]) -> list[Verdict]:
        """`check_many` on an event loop: the same plan and verdicts, the store read awaited.

        The decision service sent each batch's lookup to a worker thread: a thread hop and
        two GIL hand-offs per batch. Awaited here, nothing leaves the loop, and the decision
        process spent about a tenth less CPU per request under bench/service.py
        (docs/service.md, 'Cost'). Call only when `reads_async`."""
        read = self.store.get_decisions_async
        assert read is not None
        plans, wanted = self._plan_many(requests)
        if not wanted:
            return self._concluded(plans, {})
        asked = time.monotonic()
        try:
            found = await read(wanted)
        except Exception as exc:
            return self._failed(plans, exc, asked)
        return self._concluded(plans, found)

    def _plan_many(self, requests: list[Request]) -> tuple[list[_Lookup | Verdict], list[str]]:
        plans: list[_Lookup | Verdict] = [self._plan(request) for request in requests]
        wanted = list(dict.fromkeys(key for plan in plans if isinstance(plan, _Lookup)
                                    for key in plan.wanted))
        return plans, wanted

    def _concluded(self, plans: list[_Lookup | Verdict],
                   found: dict[str, dict[str, Any]]) -> list[Verdict]:
        return [self._conclude(plan, found) if isinstance(plan, _Lookup) else plan
                for plan in plans]

    def _failed(self, plans: list[_Lookup | Verdict], exc: Exception,
                asked: float) -> list[Verdict]:
        """A lookup that failed: every request that needed it answers as the store were down,
        and a lookup that failed only after waiting out the budget backs the engine off."""
        if self.budget is not None and time.monotonic() - asked >= self.budget:
            self.back_off()
        return [self._degraded(exc, plan.keys) if isinstance(plan, _Lookup) else plan
                for plan in plans]

    def _plan(self, request: Request) -> _Lookup | Verdict:
        """What to ask the store about one request, or its verdict if no need to ask."""
        ip = canonical_ip(request.ip)  # as `record` will count it
        if ip != request.ip:
            request = replace(request, ip=ip)
        keys = self._request_keys(request)
        reason = self.deriver.allower.allows(request.ip, request.ua, request.account)
        if reason:
            return Verdict(allowlisted=reason, keys=keys)
        if time.monotonic() < self._stalled_until:
            return self._degraded(StoreError("store too slow, backing off"), keys)
        # The store knows every actor by keyed hash; the clear keys stay in hand here.
        clear = {self._ref(kind, value): f"{kind}:{value}" for kind, value in keys.items()}
        template = self.deriver.template_of(request.path)
        client = clients.identity(request.account, request.ip)
        campaigns = {self._ref("campaign", f"{link}:{template}"):
                     (f"campaign:{link}:{template}", self._membership(link, template, client))
                     for link in CAMPAIGN_LINKS}
        host, _ = self._referred.get((self._hash(client), _day(None)), (None, False))
        if host is not None:
            campaigns[self._ref("campaign", f"ref:{host}")] = (
                f"campaign:ref:{host}", self._membership("ref", host, client))
        return _Lookup(keys, clear, campaigns, {MANUAL + ref: ref for ref in clear})

    def _conclude(self, plan: _Lookup, stored_records: dict[str, dict[str, Any]]) -> Verdict:
        """One request's verdict from what the store holds under its keys."""
        keys, clear, campaigns, manual = plan.keys, dict(plan.clear), plan.campaigns, plan.manual
        found = {key: stored_records[key] for key in plan.wanted if key in stored_records}
        operator = [(found.pop(key), manual[key]) for key in manual if key in found]
        if operator:  # the operator's latest word on any of the request's keys wins
            stored, ref = max(operator, key=lambda pair: pair[0]["first_action_ts"])
            record = self._named(stored, clear[ref])
            return Verdict(action=record["action"], actor=record["actor"],
                           score=record["score"], reasons=tuple(record["reasons"]),
                           rules=tuple(record["rules"]), keys=keys)
        for ref, (name, mark) in campaigns.items():
            campaign, member = found.pop(ref, None), found.pop(mark, None)
            if campaign and member is not None and member.get("member", True):
                found[ref] = campaign
                clear[ref] = name
        if not found:
            return Verdict(keys=keys)
        ref, stored = max(found.items(), key=lambda kv: (action_rank(kv[1]["action"]),
                                                           kv[1]["score"]))
        record = self._named(stored, clear[ref])
        return Verdict(action=record["action"], actor=record["actor"], score=record["score"],
                       reasons=tuple(record["reasons"]), rules=tuple(record["rules"]), keys=keys)

    def _ref(self, kind: str, value: str) -> str:
        """How the store knows an actor: its kind, and a keyed hash of fixed size."""
        return self._refs(kind, value)

    def _ref_uncached(self, kind: str, value: str) -> str:
        return f"{kind}:{self._hash(f'{kind}:{value}')}"

    def _membership(self, link: str, template: str, client: str) -> str:
        """Where the store marks a client as a member of one campaign."""
        return f"{MEMBERSHIP}{link}:{self._hash(template + SEP + client)}"

    def _named(self, stored: dict[str, Any], actor: str) -> dict[str, Any]:
        """A stored decision with its actor's clear key put back, for the caller who has it;
        remembered (bounded) so that `decisions()` can name it too."""
        ref = stored["actor"]
        if ref not in self._names:
            with self._lock:
                if len(self._names) >= MAX_NAMES:
                    del self._names[next(iter(self._names))]
                self._names[ref] = actor
        return {**stored, "actor": actor,
                "reasons": [r.replace(ref, actor) for r in stored["reasons"]]}

    def _request_keys(self, request: Request) -> dict[str, str]:
        keys = {"ip": request.ip, **network_keys(self.deriver.networks, request.ip),
                "fp": fingerprint(request.ua)}
        if request.account:
            keys["account"] = request.account
        if request.session:
            keys["session"] = request.session
        # A decision on a client stack (`hdr`, `tls`) reaches its first-sight members.
        for kind, value in (("hdr", clientshape.hdr_key(request.hdr)),
                            ("tls", clientshape.tls_key(request.ua, request.tls))):
            if value:
                keys[kind] = value
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

    def back_off(self) -> None:
        """The store answered too slowly for the live path: ask it nothing for a while.

        `check` calls this when its lookup failed after waiting out the budget. A refused
        connection fails fast and needs no back-off (a request may as well try, and a store
        that is back is used at once); a stalled one costs every caller its wait, so checks
        skip the store for `STORE_BACKOFF_SECONDS` and answer as the store were down. Records
        are not held back: they wait after the response, and back off on their own failures.
        """
        with self._lock:
            self._stalled_until = time.monotonic() + STORE_BACKOFF_SECONDS

    def routine(self, event: dict[str, Any]) -> bool:
        """Whether counting this event may wait behind others', and be shed under a flood: it
        carried nobody's record, was no lookup on a personal-data route, and hit no trap or
        robots.txt — a plain page or asset. Decided from the path's cached analysis alone."""
        if event.get("subjects") is not None:
            return False
        info = self.deriver.path_info(str(event.get("path") or ""))
        return info.route_index is None and not info.trap and not info.robots

    # -- after the response ---------------------------------------------------------------
    def record(self, event: dict[str, Any], *,
               mark: tuple[str, int] | None = None) -> list[Decision]:
        """Count one served event; return the decisions that newly applied because of it.

        `mark` (key, position) is set in the store with the event's counters, atomically: a
        log follower reads it back after a crash to know what was counted."""
        return self.record_many([event], marks=[mark])

    def record_many(self, events: list[dict[str, Any]], *,
                    marks: list[tuple[str, int] | None] | None = None,
                    seen: Callable[[EventRows], None] | None = None) -> list[Decision]:
        """Count events in order, their store updates in one round trip (`Store.record_many`);
        return the decisions that newly applied. Each event's rules see the counts just
        after it, exactly as if recorded one by one. `marks`, one per event, as `record`'s.
        `seen` gets each event's rows as derived here (allowlisted ones too): what a caller
        that follows the traffic needs, without deriving every event a second time."""
        prepared: list[tuple[EventRows, EventUpdate]] = []
        for index, raw in enumerate(events):
            event = self._with_history(_with_utc(raw))
            rows = self.deriver.derive(event)
            if self.learner is not None and self.learner.observe(self._route_seen(event, rows)):
                self._learned()
                rows = self.deriver.derive(event)  # this very request may have taught it
            if seen is not None:
                seen(rows)
            if rows.allow_reason:
                continue
            self._referral(rows)
            update = self._update(rows)
            update.mark = marks[index] if marks else None
            prepared.append((rows, update))
        if not prepared:
            return []
        if time.monotonic() < self._down_until:
            self._degraded(StoreError("store marked down"), {})
            return []
        try:
            results = self.store.record_many([update for _, update in prepared])
        except Exception as exc:
            self._degraded(exc, {})
            return []
        if self._warned and self.store_errors:
            with self._lock:
                self._warned = False
                log.warning("scrapeguard store reachable again")
        fired: list[Decision] = []
        for (rows, update), result in zip(prepared, results, strict=True):
            fired.extend(self._apply_rules(rows, update, result))
        return fired

    def _apply_rules(self, rows: EventRows, update: EventUpdate, result: Any) -> list[Decision]:
        """The rules on one event's counts; a rule that holds writes its decision."""
        self._join_campaigns(rows, result)
        holding: list[tuple[Rule, ActorKind, str, dict[str, float]]] = []
        for (kind, seconds, links, offset), rules in self.groups.items():
            for actor in self._actors(kind, rows, links):
                key = self._group_key(kind, seconds, actor, rows.ts_ms, offset)
                values = result.groups.get(key)
                if values is None:
                    continue
                features = self._features(values, self._shapes[(kind, seconds, links, offset)])
                window = None
                if kind in GROUP_KINDS:
                    bucket = (rows.ts_ms - offset * 1000) // (seconds * 1000)
                    window = (self._ref(kind, actor), seconds, offset, bucket)
                    self.members.counted(window, rows, every="ref" in links,
                                         identities=kind == "campaign")
                for rule, condition in rules:
                    if _holds(condition, features):
                        if window is not None:
                            self.members.held(window, rule.id)
                        holding.append((rule, kind, actor, features))
        # Rules that first hold at one event are listed by id, as the batch engine lists them.
        fired: list[Decision] = []
        for rule, kind, actor, features in sorted(holding, key=lambda held: held[0].id):
            decision = self._fire(rule, kind, actor, rows, features, result, update)
            if decision is not None:
                fired.append(decision)
        return fired

    def routes(self) -> RouteTable:
        """What this node has learned each route to be (empty without a learner)."""
        return self.learner.table() if self.learner is not None else RouteTable()

    def _learned(self) -> None:
        assert self.learner is not None
        self.deriver.learn(self.learner.person_templates, self.learner.item_templates,
                           self.learner.asset_templates)

    def _route_seen(self, event: dict[str, Any], rows: EventRows) -> RouteSeen:
        info = self.deriver.path_info(rows.path)
        return RouteSeen(
            ts_ms=rows.ts_ms, client=rows.identity, template=rows.template,
            methods=method_group(event.get("method")), path=rows.path,
            by_extension=info.by_extension, declared=info.declared, record=info.record,
            status=int(event.get("status") or 0), subjects=event.get("subjects"),
            referer=event.get("referer"))

    def _with_history(self, event: dict[str, Any]) -> dict[str, Any]:
        """The event with its session's first sighting (`session_since`), for `clients.py`.

        The guard's signed cookie brings its own; any other session is looked up in the
        store, and remembered there from its first request. When the store cannot answer,
        the session goes unproven: the client is its address.
        """
        session, since = event.get("session"), event.get("session_since")
        if since is not None:
            return {**event, "session_since": _utc(since)}
        if not session:
            return event
        hashed = self._hash(str(session))
        seen = self._since.get(hashed)
        if seen is None:
            if time.monotonic() < self._down_until:
                return event
            ts: datetime = event["ts"]
            key = f"{SINCE}{hashed}"
            try:
                found = self.store.get_decisions([key]).get(key)
                if found is None:
                    self.store.put_decision(key, {"since_ms": int(ts.timestamp() * 1000)},
                                            clients.SESSION_MEMORY_SECONDS)
            except Exception as exc:
                self._degraded(exc, {})
                return event
            seen = (datetime.fromtimestamp(found["since_ms"] / 1000, UTC) if found else ts)
            if len(self._since) >= _SINCE_CACHE:
                self._since.clear()
            self._since[hashed] = seen
        return {**event, "session_since": seen}

    def _join_campaigns(self, rows: EventRows, result: Any) -> None:
        """Mark the client as a member of each campaign its evidence put it in, so that
        `check` applies the campaign's decision to its next request — also when the
        campaign is acted on only later, and on later days (`settings.campaign_memory`)."""
        memory = self.policy.settings.campaign_memory_seconds()
        for link, member, ttl in (("enum", result.member, max(2 * CAMPAIGN_WINDOW_SECONDS, memory)),
                                  ("thin", result.thin, max(THIN_WINDOW_SECONDS, memory))):
            if member:
                mark = self._membership(link, rows.template, rows.identity)
                self.store.put_decision(mark, {"member": True}, ttl)

    def _actors(self, kind: ActorKind, rows: EventRows, links: tuple[str, ...]) -> list[str]:
        if kind == "campaign":
            actors = [f"{link}:{rows.template}" for link in self._links(rows) if link in links]
            if "ref" in links and rows.campaign_host is not None:
                actors.append(f"ref:{rows.campaign_host}")
            return actors
        value = rows.keys.get(kind)
        return [value] if value else []

    def _referral(self, rows: EventRows) -> None:
        """Which referral campaign the event counts under (`campaigns.py`, `ref:<host>`): the
        host its client's first page of the day came from, from that page on, with the
        assets the client loaded before it counted at that page. A member that loads an
        asset is marked as spared: the campaign's decision is for the clients like bots."""
        client = self._hash(rows.identity)
        day = rows.ts_ms // (REFERRAL_WINDOW_SECONDS * 1000)
        first = rows.rows[0].flags
        key = (client, day)
        if key in self._referred:
            host, spared = self._referred[key]
            if host is not None and not spared and first.get("is_static"):
                self._referred[key] = (host, True)  # marked once, not at every asset
                self.store.put_decision(self._membership("ref", host, rows.identity),
                                        {"member": False}, 2 * REFERRAL_WINDOW_SECONDS)
        elif first.get("is_page") and first.get("one"):
            host = rows.referral
            if len(self._referred) >= MAX_REFERRED:
                self._referred.clear()
            prior = self._early.pop(key, {})
            spared = bool(prior.get("is_static"))
            self._referred[key] = (host, spared)
            if host is not None:
                rows.campaign_prior = prior
                self.store.put_decision(self._membership("ref", host, rows.identity),
                                        {"member": not spared}, 2 * REFERRAL_WINDOW_SECONDS)
        else:
            if first.get("is_static"):
                if len(self._early) >= MAX_REFERRED:
                    self._early.clear()
                early = self._early.setdefault(key, {})
                for column, value in first.items():
                    early[column] = early.get(column, 0) + int(value)
            return
        # A host found to be the site's own stops counting from then (`referrals.py`).
        if host is not None and not self.deriver.own_hosts.is_own(host, rows.ts_ms):
            rows.campaign_host = host

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

    def _group_key(self, kind: ActorKind, seconds: int, actor: str, ts_ms: int,
                   offset: int = 0) -> str:
        if offset:  # a later phase of a sliding window (`Rule.hop`)
            bucket = (ts_ms - offset * 1000) // (seconds * 1000)
            return f"g:{self._ref(kind, actor)}:{seconds}@{offset}:{bucket}"
        return f"g:{self._ref(kind, actor)}:{seconds}:{ts_ms // (seconds * 1000)}"

    def _update(self, rows: EventRows) -> EventUpdate:
        lookup = rows.is_lookup
        first = rows.rows[0]
        # Client and route, hashed to a fixed size: neither a 4 KB cookie nor a path a client
        # made up may grow a key, and neither may name anyone in the store.
        client = self._hash(rows.identity)
        route = self._hash(rows.identity + SEP + rows.template)
        update = EventUpdate(
            ts_ms=rows.ts_ms,
            groups=[],
            seq_key=f"s:{route}" if first.numeric_id is not None else None,
            seq_step=self.policy.settings.seq_step,
            member_key=(f"m:{route}:"
                        f"{rows.ts_ms // (CAMPAIGN_WINDOW_SECONDS * 1000)}") if lookup else None,
            is_miss=first.flags.get("is_miss", 0),
            member_min=self.policy.settings.campaign_min_steps,
            member_ratio=self.policy.settings.campaign_evidence_ratio,
            member_min_misses=self.policy.settings.campaign_min_misses,
        )
        if self._bare(rows):
            day = rows.ts_ms // (THIN_WINDOW_SECONDS * 1000)
            update.taint_key = f"t:{client}:{day}"
            update.tainting = self._tainting(rows)
            thin = f"n:{route}:{day}"
            update.thin_key = None if update.tainting else thin
            settings = self.policy.settings
            update.thin_min = (settings.thin_min_direct_lookups
                               if first.flags.get("is_direct_lookup")
                               else settings.thin_min_lookups)
        if first.numeric_id is not None:
            self._seq_ids(update, first.numeric_id)
        items = [(self._hash(r.item), r.item_weight) for r in rows.rows if r.item is not None]
        hashed: dict[str, str] = {}
        for (kind, seconds, links, offset), shape in self._shapes.items():
            for actor in self._actors(kind, rows, links):
                update.groups.append(self._group_update(kind, seconds, actor, rows, shape,
                                                        hashed, offset))
                ref = self._ref(kind, actor)
                update.exposure[ref] = items
                if kind == "campaign" and not actor.startswith("ref:"):
                    update.exposure_link[ref] = actor.split(":", 1)[0]
        return update

    def _seq_ids(self, update: EventUpdate, numeric_id: int) -> None:
        """The looked-up id as the store keeps it (a keyed hash), and the hashes of the ids
        one step from it: a step is the previous id's hash among them, so the store never
        holds an id (a phone number is one) it could be read back from."""
        step = update.seq_step
        update.seq_id = self._hash(f"#{numeric_id}")
        update.seq_near = [self._hash(f"#{numeric_id + d}")
                           for d in range(-step, step + 1) if d and numeric_id + d >= 0]

    def _group_update(self, kind: ActorKind, seconds: int, actor: str, rows: EventRows,
                      shape: _Shape, hashed: dict[str, str], offset: int = 0) -> GroupUpdate:
        """One group's counters for this event. `hashed` memoizes the keyed hashes of the
        event's distinct values across its groups (the same path counts under every window
        of every actor): the same hashes, computed once per event."""
        sums: dict[str, int] = {}
        distinct: list[tuple[str, str, int]] = []
        campaign_rows = rows.rows[:1] if kind == "campaign" else rows.rows
        referral = kind == "campaign" and actor.startswith("ref:")
        for column in shape.sums:
            total = sums.get(column, 0)
            for row in campaign_rows:
                total += _column(row, column)
            if referral:  # the assets its client loaded before joining
                total += rows.campaign_prior.get(column, 0)
            if total:  # a zero adds nothing (a missing count reads as 0): not sent, as the
                sums[column] = total  # memory store skips it; most flags are 0 per event

        def digest_of(value: str) -> str:
            digest = hashed.get(value)
            if digest is None:
                digest = hashed[value] = self._hash(value)
            return digest

        for name, column, weighted in shape.distinct:
            for row in campaign_rows:
                value = _distinct_value(rows, row, column)
                if value is not None:
                    distinct.append((name, digest_of(value), row.item_weight if weighted else 1))
        tracked = shape.tracked
        if shape.beyond:
            today = rows.ts_ms // DAY_MS
            start = ((rows.ts_ms - offset * 1000) // (seconds * 1000) * seconds
                     + offset) * 1000 // DAY_MS
            days = range(start, today + 1)
            for name, column in shape.beyond:
                for row in campaign_rows:
                    value = _distinct_value(rows, row, column)
                    if value is not None:
                        digest = digest_of(value)
                        distinct.append((name, digest, 1))
                        distinct.append((_daily(name, today), digest, 1))
            # Every day of the window so far: the busiest may be any of them.
            tracked = (*tracked, *(_daily(n, d) for n, _ in shape.beyond for d in days))
        gap = rows.ts_ms if shape.gap else None
        return GroupUpdate(key=self._group_key(kind, seconds, actor, rows.ts_ms, offset),
                           ttl=seconds * 2, sums=sums, distinct=distinct, gap_ts=gap,
                           tracked=tracked,
                           campaign=(actor.split(":", 1)[0]
                                     if kind == "campaign" and not referral else None))

    def _features(self, values: dict[str, float], shape: _Shape) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, column, floor in shape.read:
            out[name] = values.get(column, 0) if floor is None else max(values.get(name, 0),
                                                                        floor)
        n, s1, s2 = values.get("_gap_n", 0), values.get("_gap_s1", 0.0), values.get("_gap_s2", 0.0)
        out["span"] = s1
        if n >= MIN_GAPS:
            mean = s1 / n
            out["gap_mean"] = mean
            variance = max(s2 / n - mean * mean, 0.0)
            out["gap_cv"] = math.sqrt(variance) / mean if mean > 0 else math.nan
        else:
            out["gap_mean"] = out["gap_cv"] = math.nan
        for name, _ in shape.beyond:
            days = [v for k, v in values.items() if k.startswith(name + "@")]
            out[name] = values.get(name, 0) - max(days, default=0)
        for name, numerator, denominator_name in shape.ratios:
            denominator = out.get(denominator_name, 0)
            out[name] = out.get(numerator, 0) / denominator if denominator else 0.0
        return out

    def _fire(self, rule: Rule, kind: ActorKind, actor: str, rows: EventRows,
              features: dict[str, float], result: Any, update: EventUpdate) -> Decision | None:
        ref = self._ref(kind, actor)
        with self._lock:
            stored = self.store.get_decisions([ref]).get(ref)
            if stored and rule.id in stored["rules"]:
                return None
            firing = Firing(rule, 0, kind, rows.ts, features)
            # Stored as the store knows the actor; named again below for the caller.
            reason = explain(firing, ref)
            before = result.exposure_before.get(ref, 0)
            record = _merge(stored, rule, kind, ref, rows.ts, reason, before,
                            result.requests.get(ref, 0))
            # What the actor looked like when the rule fired, for the service's actor view.
            record["features"] = {name: round(value, 4) for name, value in features.items()
                                  if math.isfinite(value)}
            self.store.put_decision(ref, record, self.decision_ttl[record["action"]])
        return _decision(self._named(self._with_members(record), f"{kind}:{actor}"))

    def _with_members(self, stored: dict[str, Any]) -> dict[str, Any]:
        """A fingerprint or campaign decision with the members this node saw it cover."""
        if stored["kind"] not in GROUP_KINDS:
            return stored
        members, since = self.members.members(stored["actor"], stored["rules"],
                                              parse_ts(stored["first_action_ts"]))
        return {**stored, "members": members,
                "members_first_action_ts": [format_ts(ts) for ts in since]}

    def set_manual(self, actor: str, action: Action, ttl: int, reason: str,
                   now: datetime | None = None) -> dict[str, Any]:
        """Store an operator's allow or block on `actor` (`kind:value`) for `ttl` seconds.

        It overrides whatever the rules decided on that key, both ways, until it lapses;
        the rules' own decision is kept and applies again afterwards if it still stands.
        Returns the record as the caller knows the actor (by clear key)."""
        kind, sep, value = actor.partition(":")
        if not sep or kind not in ACTOR_KINDS or not value:
            raise ValueError(f"actor must be kind:value with a kind of "
                             f"{', '.join(ACTOR_KINDS)}, not {actor!r}")
        if kind == "ip":
            value = canonical_ip(value)
        if action not in ("allow", "block", "throttle", "challenge"):
            raise ValueError(f"a manual action is allow, throttle, challenge or block, "
                             f"not {action!r}")
        if ttl < 1:
            raise ValueError(f"ttl must be at least 1 second, not {ttl!r}")
        ref = self._ref(kind, value)
        ts = now or datetime.now(UTC)
        record = {"actor": ref, "kind": kind, "action": action,
                  "score": 1.0 if action != "allow" else 0.0, "first_action_ts": format_ts(ts),
                  "requests": 0, "subjects": 0, "subjects_before_action": 0,
                  "rules": ["manual"], "reasons": [f"manual {action}: {reason}"],
                  "expires": format_ts(datetime.fromtimestamp(ts.timestamp() + ttl, UTC))}
        self.store.put_decision(MANUAL + ref, record, ttl)
        return self._named(record, f"{kind}:{value}")

    def manual_decisions(self) -> list[dict[str, Any]]:
        """The operator decisions standing now, named where this process knows the actor."""
        out = []
        for key, stored in self.store.all_decisions().items():
            if key.startswith(MANUAL):
                name = self._names.get(stored["actor"])
                out.append(self._named(stored, name) if name else stored)
        return sorted(out, key=lambda record: record["actor"])

    def campaign_members(self, campaign: str, identities: list[str]) -> list[str]:
        """Which of `identities` (`clients.identity`: `ip:…` or `account:…`) the store marks
        now as members of `campaign` (`enum:/user/{id}`, its actor key without `campaign:`).

        The store keeps marks by keyed hash only, so members can be named only by a caller
        that brings the candidates in clear (a dashboard that saw their requests)."""
        link, _, template = campaign.partition(":")
        marks = {self._membership(link, template, who): who for who in identities}
        if not marks:
            return []
        found = self.store.get_decisions(list(marks))
        return sorted(marks[mark] for mark in found)

    def decisions(self) -> list[Decision]:
        """Every decision in the store, as the decisions file has them: by clear key where
        this process made or met the decision, else by the keyed hash the store knows.

        `requests` and `subjects` are the actor's totals so far, as the decisions file
        defines them (all it sent and received, not only up to the first action): read from
        the store's lifetime exposure now, so that after a replay they are the whole log's,
        as the batch engine reports them. Where the store has forgotten the actor's exposure
        (its time to live), the counts at the first action stand."""
        stored_records = {key: stored for key, stored in self.store.all_decisions().items()
                          if not key.startswith((MEMBERSHIP, SINCE, MANUAL))}
        totals = self.store.exposure([stored["actor"] for stored in stored_records.values()])
        out = []
        for stored in stored_records.values():
            requests, subjects = totals.get(stored["actor"], (0, 0))
            stored = {**stored, "requests": max(requests, stored["requests"]),
                      "subjects": max(subjects, stored["subjects"])}
            stored = self._with_members(stored)
            name = self._names.get(stored["actor"])
            out.append(_decision(self._named(stored, name) if name else stored))
        return sorted(out, key=lambda d: d.actor)

    def close(self) -> None:
        self.store.close()


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
    if source in ("ip", "net", "session", "asn", "prefix"):
        return rows.keys.get(source)
    value = getattr(rows, source)
    return None if value is None else str(value)


def _explained(rules: list[tuple[Rule, Condition]]) -> set[str]:
    return {name for rule, _ in rules for name in BY_NAME if "{" + name in rule.explain}


def _day(ts: datetime | None) -> int:
    """The referral campaigns' day of a moment (now when none is given)."""
    moment = (ts or datetime.now(UTC)).timestamp()
    return int(moment * 1000) // (REFERRAL_WINDOW_SECONDS * 1000)


def _with_utc(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "ts": _utc(event["ts"])}


def _utc(ts: datetime | str) -> datetime:
    if isinstance(ts, str):
        return parse_ts(ts)
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


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
    decision = Decision.from_json(record)
    if "features" in record:
        decision.extra["features"] = record["features"]
    return decision


__all__ = ["ACTOR_KINDS", "StoreError", "StreamEngine"]
