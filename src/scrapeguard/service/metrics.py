"""Prometheus metrics of one service: counts by action, outcome and source, never by client.

Labels take a handful of fixed values each; an address, account, session or subject as a
label would both leak who was seen and grow the series without bound. Each service has its
own registry, so two in one process (tests, a dashboard's) do not collide.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "scrapeguard_decide_total", "Decision requests answered, by action",
            ["action", "degraded"], registry=self.registry)
        self.decide_seconds = Histogram(
            "scrapeguard_decide_seconds", "Time to answer a decision request",
            buckets=LATENCY_BUCKETS, registry=self.registry)
        self.events = Counter(
            "scrapeguard_events_total", "Served events received, by source and outcome",
            ["source", "outcome"], registry=self.registry)
        self.fired = Counter(
            "scrapeguard_decisions_fired_total", "Rule decisions newly made, by action and "
            "actor kind", ["action", "kind"], registry=self.registry)
        self.manual = Counter(
            "scrapeguard_manual_decisions_total", "Operator decisions set, by action",
            ["action"], registry=self.registry)
        self._decided: dict[tuple[str, bool], Any] = {}
        self._events: dict[tuple[str, str], Any] = {}
        self.admin_refused = Counter(
            "scrapeguard_admin_refused_total", "Admin or ingest requests refused for their "
            "token", registry=self.registry)

    def decided(self, action: str, degraded: bool, seconds: float) -> None:
        """Count one decision; its labelled counter looked up once, not per request."""
        key = (action, degraded)
        counter = self._decided.get(key)
        if counter is None:
            counter = self._decided[key] = self.decisions.labels(
                action=action, degraded="true" if degraded else "false")
        counter.inc()
        self.decide_seconds.observe(seconds)

    def event(self, source: str, outcome: str) -> None:
        """Count one event received; as `decided`, the labelled counter is kept."""
        key = (source, outcome)
        counter = self._events.get(key)
        if counter is None:
            counter = self._events[key] = self.events.labels(source=source, outcome=outcome)
        counter.inc()

    def watch_backlog(self, backlog: Callable[[], int], shed: Callable[[], int]) -> None:
        Gauge("scrapeguard_record_backlog", "Events waiting for the engine",
              registry=self.registry).set_function(lambda: float(backlog()))
        Gauge("scrapeguard_record_shed", "Routine events shed under a flood since start",
              registry=self.registry).set_function(lambda: float(shed()))

    def render(self) -> bytes:
        return generate_latest(self.registry)
