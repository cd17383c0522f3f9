"""`analyze` on Spark: the pipeline of `analysis.analyze`, its raw-SQL steps swapped for
their Spark twins (`steps.py`), its events parsed by Spark (`parse.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scrapeguard.analysis import Analysis, Progress, _stepper, judge, policy_and_format
from scrapeguard.engines.enrich import enrich, names_of
from scrapeguard.engines.spark.parse import check_supported, load_events_spark
from scrapeguard.engines.spark.session import connect, materialize
from scrapeguard.engines.spark.steps import SparkSteps
from scrapeguard.policy.model import Policy
from scrapeguard.sources import LogFormat


def analyze_spark(
    inputs: Sequence[str],
    *,
    policy: Policy | str | None = None,
    fmt: str | LogFormat | None = None,
    strict: bool = False,
    max_malformed: float | None = None,
    progress: Progress | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    session: Any = None,
) -> Analysis:
    """`analysis.analyze` with Spark running every query; the same decisions
    (`tests/test_spark.py`)."""
    policy, fmt = policy_and_format(policy, fmt)
    check_supported(inputs, fmt, policy.trusted_proxies)  # before a session starts
    backend = connect(session)
    step = _stepper(progress, total=5)
    load = load_events_spark(backend._session, inputs, fmt=fmt, strict=strict,
                             max_malformed=max_malformed,
                             trusted_proxies=policy.trusted_proxies)
    if since is not None or until is not None:
        _window(backend, load, since, until)
    step()
    rows, stats = enrich(None, "events", policy, steps=SparkSteps(backend))
    step()
    campaigns = any(rule.kind == "campaign" for rule in policy.active_rules())
    decisions, calibration, totals = judge(
        rows, stats, policy, backend, step,
        lambda kind, keys: names_of(backend, kind, keys, campaigns) if keys else {})
    return Analysis(decisions=decisions, load=load, enrich=stats, calibration=calibration,
                    totals=totals, connection=None)


def _window(backend: Any, load: Any, since: datetime | None, until: datetime | None) -> None:
    """`analysis._window` on Spark: events in [since, until) kept, the rest counted."""
    events = backend.table("events")
    inside = events.ts.notnull()
    if since is not None:
        inside = inside & (events.ts >= since)
    if until is not None:
        inside = inside & (events.ts < until)
    dropped = int(events.filter(~inside).count().execute())
    materialize(backend, events.filter(inside), "events")
    load.notes.append(f"{dropped:,} events outside the --since/--until window left out")

