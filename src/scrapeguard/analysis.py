"""`analyze` as a library call: logs in, decisions and a summary out.

The CLI, the report and the tests all go through `analyze()`; it owns the DuckDB connection
and the order of the pipeline: sources → enrichment → campaigns → rules → decisions.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from scrapeguard.decisions import Decision, format_ts
from scrapeguard.engines.calibration import Calibration
from scrapeguard.engines.groups import unmeasured_percentiles
from scrapeguard.engines.stats import EnrichStats
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy
from scrapeguard.sources import LoadReport, LogFormat, load_events
from scrapeguard.sources.nginx import nginx_format
from scrapeguard.types import ACTOR_KINDS, ActorKind

Progress = Callable[[str, int, int], None]
"""(stage, done, total): stages are `read` (bytes) and `analyze` (steps)."""


@dataclass
class Analysis:
    """Everything one run learnt; decisions hold counts only, never subject ids."""

    decisions: list[Decision]
    load: LoadReport
    enrich: EnrichStats
    calibration: Calibration
    totals: dict[str, int] = field(default_factory=dict)
    connection: Any = None


DEFAULT_MEMORY_LIMIT = "2GB"
"""DuckDB's share: past it tables spill to the temporary directory, so a ten-million-line
log stays well under 3 GB of memory for the whole run."""


def connect(threads: int | None = None, memory_limit: str | None = DEFAULT_MEMORY_LIMIT) -> Any:
    """An in-memory DuckDB that spills to a private temporary directory when it must."""
    config: dict[str, Any] = {"temp_directory": tempfile.mkdtemp(prefix="scrapeguard-")}
    if threads:
        config["threads"] = threads
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET enable_progress_bar = false")  # ours is on stderr; DuckDB's garbles it
    return con


def analyze(
    inputs: Sequence[str],
    *,
    policy: Policy | str | None = None,
    fmt: str | LogFormat | None = None,
    strict: bool = False,
    max_malformed: float | None = None,
    progress: Progress | None = None,
    keep_connection: bool = False,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Analysis:
    """Read logs, evaluate the rule pack as if it had been live, and decide per actor.

    Events before `since` or from `until` on are dropped right after parsing, in one
    vectorised DELETE, before any enrichment or rule sees them."""
    policy, fmt = policy_and_format(policy, fmt)
    con = connect()
    step = _stepper(progress, total=5)
    load = load_events(
        con,
        inputs,
        fmt=fmt,
        strict=strict,
        max_malformed=max_malformed,
        trusted_proxies=policy.trusted_proxies,
        progress=(lambda done, total: progress("read", done, total)) if progress else None,
    )
    _window(con, load, since, until)
    step()
    if _no_events(con) and not keep_connection:
        return _nothing_read(load, policy, step)
    # The engine imports Ibis (about a second): only a log with events pays for it.
    import ibis

    from scrapeguard.engines.enrich import enrich, resolve_names

    rows, stats = enrich(con, "events", policy)
    step()
    decisions, calibration, totals = judge(
        rows, stats, policy, ibis.duckdb.from_connection(con), step,
        lambda kind, keys: resolve_names(con, kind, keys))
    return Analysis(
        decisions=decisions,
        load=load,
        enrich=stats,
        calibration=calibration,
        totals=totals,
        connection=con if keep_connection else None,
    )


def _no_events(con: Any) -> bool:
    """Whether no event is left to judge (an empty log, or none in --since/--until)."""
    return con.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None


def _nothing_read(load: LoadReport, policy: Policy, step: Callable[[], None]) -> Analysis:
    """What the pipeline gives for no events, without building it: no decision, nothing
    learnt, zero totals, and every percentile a rule reads measured as 0.0 as `evaluate`
    measures it over no group. `tests/test_analysis_empty.py` holds it equal to the
    pipeline's own result."""
    for _ in range(4):  # enrichment, campaigns, rules, decisions: done, with nothing to do
        step()
    return Analysis(
        decisions=[],
        load=load,
        enrich=EnrichStats([], {}),
        calibration=Calibration(percentiles=unmeasured_percentiles(policy)),
        totals=dict.fromkeys(TOTALS, 0),
    )


def policy_and_format(policy: Policy | str | None,
                      fmt: str | LogFormat | None) -> tuple[Policy, str | LogFormat | None]:
    """The policy loaded, and the log format: the one asked for, else the policy's nginx
    `log_format`, else None (detected from the first lines)."""
    if not isinstance(policy, Policy):
        policy = load_policy(policy)
    if fmt is None and policy.log_format is not None:
        fmt = nginx_format(policy.log_format)
    return policy, fmt


def judge(rows: Any, stats: EnrichStats, policy: Policy, backend: Any, step: Callable[[], None],
          names: Callable[[str, list[int]], dict[int, str]],
          ) -> tuple[list[Decision], Calibration, dict[str, int]]:
    """Everything after enrichment, the same on every engine: each actor kind's rule groups
    (campaigns from their own rows), the decisions (`names` spells the keys acted on), the
    totals, and what a live engine is calibrated with. `step` ticks the progress bar."""
    from scrapeguard.engines.batch import evaluate
    from scrapeguard.engines.campaigns import campaign_rows
    from scrapeguard.engines.decide import combine

    sources: dict[ActorKind, Any] = dict.fromkeys(ACTOR_KINDS, rows)
    if any(rule.kind == "campaign" for rule in policy.active_rules()):
        sources["campaign"] = campaign_rows(backend, rows, policy)
    step()
    firings, calibration = evaluate(sources, policy)
    step()
    decisions = combine(firings, sources, names)
    step()
    calibration.subject_templates = list(stats.inferred_templates)
    if policy.settings.infer_templates:
        calibration.catalogue_templates = stats.routes.item_templates
    calibration.asset_templates = stats.routes.subresource_templates
    return decisions, calibration, _totals(rows)


def _window(con: Any, load: Any, since: datetime | None, until: datetime | None) -> None:
    """Keep the events in [since, until); say how many were left out."""
    if since is None and until is None:
        return
    low = since or datetime.min.replace(tzinfo=UTC)
    high = until or datetime.max.replace(tzinfo=UTC)
    (dropped,) = con.execute("SELECT count(*) FROM events WHERE NOT (ts >= ? AND ts < ?)",
                             [low, high]).fetchone()
    con.execute("DELETE FROM events WHERE NOT (ts >= ? AND ts < ?)", [low, high])
    window = f"[{format_ts(low) if since else '…'}, {format_ts(high) if until else '…'})"
    load.notes.append(f"{dropped:,} events outside {window} (--since/--until) left out")


TOTALS = ("events", "subject_requests", "allowlisted", "distinct_items")
"""The run's counts: events, those to personal-data routes, allowlisted ones, distinct items."""


def _totals(rows: Any) -> dict[str, int]:
    from scrapeguard.engines import sqlcache

    first = rows.filter(rows.one == 1)
    backend = rows._find_backend()
    frame = first.aggregate(
        events=first.count(),
        subject_requests=first.is_subject_route.sum(),
        allowlisted=first.allow_reason.notnull().sum(),
    )
    exposed = rows.filter(rows.item_key.notnull()).item_key.nunique()
    record = sqlcache.arrow(backend, frame).to_pylist()[0]
    out = {k: int(v or 0) for k, v in record.items()}
    out["distinct_items"] = int(sqlcache.arrow(backend, exposed).column(0)[0].as_py() or 0)
    return out


def _stepper(progress: Progress | None, total: int) -> Callable[[], None]:
    done = 0

    def step() -> None:
        nonlocal done
        done += 1
        if progress:
            progress("analyze", done, total)

    return step
