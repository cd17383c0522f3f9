"""`analyze` on Spark: the pipeline of `analysis.analyze`, its raw-SQL steps swapped for
their Spark twins (`steps.py`), its events parsed by Spark (`parse.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scrapeguard.analysis import Analysis, Progress, _stepper, _totals
from scrapeguard.engines.batch import evaluate
from scrapeguard.engines.campaigns import campaign_rows
from scrapeguard.engines.decide import combine
from scrapeguard.engines.enrich import enrich, names_of
from scrapeguard.engines.spark.parse import check_supported, load_events_spark
from scrapeguard.engines.spark.session import connect, materialize
from scrapeguard.engines.spark.steps import SparkSteps
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy
from scrapeguard.sources import LogFormat
from scrapeguard.sources.nginx import nginx_format
from scrapeguard.types import ACTOR_KINDS, ActorKind


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
    if not isinstance(policy, Policy):
        policy = load_policy(policy)
    if fmt is None and policy.log_format is not None:
        fmt = nginx_format(policy.log_format)
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
    sources: dict[ActorKind, Any] = dict.fromkeys(ACTOR_KINDS, rows)
    campaigns = any(rule.kind == "campaign" for rule in policy.active_rules())
    if campaigns:
        sources["campaign"] = campaign_rows(backend, rows, policy)
    step()
    firings, calibration = evaluate(sources, policy)
    step()
    decisions = combine(firings, sources,
                        lambda kind, keys: names_of(backend, kind, keys, campaigns)
                        if keys else {})
    step()
    totals = _totals(rows)
    calibration.subject_templates = list(stats.inferred_templates)
    if policy.settings.infer_templates:
        calibration.catalogue_templates = stats.routes.item_templates
    calibration.asset_templates = stats.routes.subresource_templates
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

