"""The whole-decision comparison the conformance tests share: batch against stream.

Every field of a decision an operator or another tool reads is held equal — actor, kind,
action, score, first time, rules, `members` and when each was first covered, `requests`,
`subjects_before_action` and `subjects` — except that where the live store estimates distinct
counts (Redis's HyperLogLogs), `subjects` and `subjects_before_action` may differ by
`estimate_error` of the exact count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from scrapeguard.analysis import analyze
from scrapeguard.decisions import Decision, format_ts
from scrapeguard.engines.replay import replay
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.policy.load import load_policy
from scrapeguard.simulate import simulate

EXACT = ("kind", "action", "score", "first_action_ts", "rules", "requests", "members",
         "members_first_action_ts")
COUNTED = ("subjects", "subjects_before_action")
"""Distinct counts: exact on `memory://`, HyperLogLog estimates on Redis."""
HLL_ERROR = 0.02
"""What a Redis estimate may be off by: 2% of the exact count, rounded up to a whole record
(HyperLogLog's standard error is about 0.8%; below 50 records 2% is less than one, and
an estimate of 38 records can come back as 37)."""
REPLAY_TIMEOUT = 30
"""Seconds a replay waits on Redis (`?timeout=`): the tests share a loaded machine."""


def acted(decisions: Sequence[Decision]) -> dict[str, Decision]:
    """The decisions that act, by actor: an allow-only decision is no action."""
    return {d.actor: d for d in decisions if d.action != "allow"}


def _value(decision: Decision, name: str) -> object:
    value = getattr(decision, name)
    if name == "first_action_ts":
        return format_ts(value)
    if name == "members_first_action_ts":
        return None if value is None else [format_ts(ts) for ts in value]
    if name == "score":
        return round(value, 4)
    return value


def differences(batch: Sequence[Decision], stream: Sequence[Decision],
                estimate_error: float = 0.0,
                windows: Mapping[str, timedelta] | None = None,
                forgetful: bool = False) -> list[str]:
    """Every field on which the engines disagree, one line each; empty when they agree.

    Where the stream's distinct counts are estimates (`estimate_error` > 0), so are the
    features its rules test: a threshold on distinct lookups can be crossed a few events
    early or late. With `windows` (rule id → window), a first time (and the members' times
    that follow from it) may then move within the shortest window of the decision's rules,
    and the rules, fired at other events, may come in another order.

    `forgetful`: the log spans more than the live store keeps an idle actor's exposure (30
    days after its last request, `stores.base.EventUpdate.exposure_ttl`); an actor that came
    back after a longer silence was counted afresh live, so its totals may be lower there."""
    ours, theirs = acted(batch), acted(stream)
    out = [f"{actor}: only in {side}" for side, one, other in
           (("batch", ours, theirs), ("stream", theirs, ours)) for actor in sorted(one)
           if actor not in other]
    for actor in sorted(set(ours) & set(theirs)):
        b, s = ours[actor], theirs[actor]
        slack = min((windows[r] for r in b.rules), default=timedelta(0)) if windows else None
        for name in EXACT:
            if slack is not None and _within(b, s, name, slack):
                continue
            if forgetful and name == "requests" and s.requests < b.requests:
                continue
            if _value(b, name) != _value(s, name):
                out.append(f"{actor}: {name} {_value(b, name)!r} (batch) != "
                           f"{_value(s, name)!r} (stream)")
        for name in COUNTED:
            exact, estimate = getattr(b, name), getattr(s, name)
            if forgetful and estimate < exact:
                continue
            if abs(estimate - exact) > math.ceil(estimate_error * exact):
                out.append(f"{actor}: {name} {exact} (batch) != {estimate} (stream)")
    return out


def _within(b: Decision, s: Decision, name: str, slack: timedelta) -> bool:
    """Whether a time-ordered field agrees up to `slack` (see `differences`)."""
    if name == "rules":
        return sorted(b.rules) == sorted(s.rules)
    if name == "first_action_ts":
        return abs(b.first_action_ts - s.first_action_ts) <= slack
    if name == "members_first_action_ts" and b.members_first_action_ts is not None:
        theirs = s.members_first_action_ts or []
        return len(theirs) == len(b.members_first_action_ts) and all(
            abs(x - y) <= slack for x, y in zip(b.members_first_action_ts, theirs, strict=True))
    return False


def rule_windows(policy: str | None = None) -> dict[str, timedelta]:
    """Each rule's window, for `differences(windows=...)`."""
    return {rule.id: timedelta(seconds=rule.window_seconds)
            for rule in load_policy(policy).rules}


def run_both(log: Path | str, policy: str | None = None, store: str = "memory://",
             fmt: str | None = None) -> tuple[list[Decision], list[Decision]]:
    """The batch engine's decisions on a log and the stream engine's, the log replayed
    through it in event-time order, calibrated by the batch run as a live node would be."""
    batch = analyze([str(log)], policy=policy, fmt=fmt)
    if store.startswith("redis"):  # a replay may wait on a loaded server (`?timeout=`)
        store += ("&" if "?" in store else "?") + f"timeout={REPLAY_TIMEOUT}"
    engine = StreamEngine(policy, store, calibration=batch.calibration, secret=b"test")
    try:
        stream = replay([str(log)], engine, fmt=fmt)
    finally:
        engine.close()
    assert engine.store_errors == 0, "the store failed during the replay: events went uncounted"
    return batch.decisions, stream


SIMULATED_DAY: dict[str, Any] = {
    "seed": 7, "hours": 24, "scale": 0.01,
    "scenarios": ["shoppers", "mobile_app", "searchbots", "botnet", "contact_importer",
                  "enumerator"]}
"""A day of people, search engines and three harvesters, small enough to replay in seconds:
the botnet and the contact importer are caught as campaigns (`thin`, and `enum` where the
log has no subject lists), so `members` is compared too."""


def simulated_day_in(out: Path) -> Path:
    """`SIMULATED_DAY` written into `out` (events.jsonl, access.log): the same bytes each time."""
    simulate(out, **SIMULATED_DAY)
    return out


def blocked_by(decided: dict[str, Decision], actor: str, rule: str) -> Decision:
    """The decision on `actor` among `decided`, asserted a block that `rule` took part in."""
    decision = decided.get(actor)
    assert decision is not None, f"{actor} was not acted on: {sorted(decided)}"
    assert decision.action == "block", decision
    assert rule in decision.rules, decision
    return decision


def agreed(log: Path | str, policy: str | None = None,
           forgetful: bool = False) -> dict[str, Decision]:
    """The batch engine's acting decisions by actor, once the stream's (on `memory://`) are
    found to agree with them field by field (`differences`)."""
    batch, stream = run_both(log, policy)
    assert differences(batch, stream, forgetful=forgetful) == []
    return acted(batch)
