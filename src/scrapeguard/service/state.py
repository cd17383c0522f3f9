"""`Service`: what every endpoint (and a mounted dashboard) shares: guard, engine, lanes, metrics.

Built once per app from a `ServiceConfig`. The guard is the same one the middleware uses
(`enforce/guard.py`): its options, trusted proxies, client cookie and actions apply to nginx's
requests exactly as to a Python app's, so a site can move between the two without its
decisions changing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from scrapeguard.enforce.base import Engine
from scrapeguard.enforce.guard import Guard
from scrapeguard.enforce.recorder import Recorder
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.errors import ScrapeGuardError
from scrapeguard.service.config import ServiceConfig
from scrapeguard.service.events import BadEvent, NginxLine, nginx_line
from scrapeguard.service.metrics import Metrics

log = logging.getLogger("scrapeguard.service")


class Service:
    """The live engine behind the HTTP endpoints; one per process."""

    def __init__(self, config: ServiceConfig, *, engine: Engine | None = None) -> None:
        self.config = config
        self.guard = Guard(store=config.store, policy=config.policy,
                           trusted_proxies=config.trusted_proxies, fail_open=config.fail_open,
                           engine=engine, throttle_rate=config.throttle_rate,
                           budget=config.budget)
        if not isinstance(self.guard.engine, StreamEngine):
            raise ScrapeGuardError("the service needs the stream engine")
        self.engine: StreamEngine = self.guard.engine
        self.metrics = Metrics()
        self.taps: list[Callable[[dict[str, Any]], None]] = []
        """Called on the record lane with each event the engine counted: how a dashboard
        follows actors over time without a second pass over the traffic."""
        self.recorder = Recorder(self._record, self.engine.routine)
        self.metrics.watch_backlog(lambda: self.recorder.backlog,
                                   lambda: self.recorder.shed)

    def _record(self, event: dict[str, Any]) -> None:
        try:
            fired = self.engine.record(event)
        except Exception as exc:  # a bug or a store outage: logged, the lane goes on
            log.warning("scrapeguard: recording an event failed: %s", exc)
            return
        for tap in self.taps:
            try:
                tap(event)
            except Exception as exc:  # a tap's bug must not stop the counting
                log.warning("scrapeguard: a record tap failed: %s", exc)
        for decision in fired:
            self.metrics.fired.labels(action=decision.action, kind=decision.kind).inc()

    def submit(self, event: dict[str, Any], source: str) -> None:
        """Queue a contract event for the engine (it is counted in the record lane)."""
        self.metrics.events.labels(source=source, outcome="queued").inc()
        self.recorder.submit(event)

    def submit_nginx(self, record: Any) -> str:
        """Take one decoded nginx log line; the outcome: queued, refused (skipped) or bad."""
        try:
            line = nginx_line(record)
        except BadEvent:
            self.metrics.events.labels(source="syslog", outcome="malformed").inc()
            return "malformed"
        if line.refused:
            self.metrics.events.labels(source="syslog", outcome="refused").inc()
            return "refused"
        self.submit(self.resolve(line), "syslog")
        return "queued"

    def resolve(self, line: NginxLine) -> dict[str, Any]:
        """The line's event with its client resolved as the decision endpoint resolved it:
        address through trusted proxies, session from the guard's signed cookie only."""
        event = dict(line.event)
        event["ip"] = self.guard.client(line.remote, line.xff)
        now = datetime.now(UTC).timestamp()
        session = self.guard.client_cookies.read(line.cookie, now) if line.cookie else None
        if session is not None:
            event["session"], event["session_since"] = session.session, session.since
        return event

    def close(self) -> None:
        self.recorder.close()
        self.guard.close()
