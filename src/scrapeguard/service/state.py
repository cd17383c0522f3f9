"""`Service`: what every endpoint (and a mounted dashboard) shares: guard, engine, lanes, metrics.

Built once per app from a `ServiceConfig`. The guard is the same one the middleware uses
(`enforce/guard.py`): its options, trusted proxies, client cookie and actions apply to nginx's
requests exactly as to a Python app's, so a site can move between the two without its
decisions changing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from scrapeguard.enforce.base import Engine
from scrapeguard.enforce.guard import Guard
from scrapeguard.enforce.recorder import Recorder
from scrapeguard.engines.batching import batch_method
from scrapeguard.engines.live_rows import EventRows
from scrapeguard.engines.stream import StreamEngine, _with_utc
from scrapeguard.errors import ScrapeGuardError
from scrapeguard.service.batch import DecisionBatcher
from scrapeguard.service.config import ServiceConfig
from scrapeguard.service.events import BadEvent, Counted, NginxLine, counted, nginx_line
from scrapeguard.service.metrics import Metrics
from scrapeguard.service.record_process import RecordProcess, Report
from scrapeguard.textsafe import inert

log = logging.getLogger("scrapeguard.service")

SHARED_STORES = ("redis://", "rediss://")
"""Stores every process sees alike: with one, events are counted in a child process."""

HAND_OVER_SECONDS = 0.002
"""How long events gather before they go to the record process together: handing each one
over woke the sender thread, a GIL hand-off with the event loop for every line nginx
reported (py-spy under bench/service.py put a fifth of the decision process's samples
there, counting the threads that waited for the GIL)."""

SETTLE_SECONDS = 0.1
"""Longest a decision waits for its address's reported events to be counted: past it the
record lane is overloaded, and the decision goes ahead on what is counted."""


class Service:
    """The live engine behind the HTTP endpoints; one per process."""

    def __init__(self, config: ServiceConfig, *, engine: Engine | None = None) -> None:
        self.config = config
        self.guard = Guard(store=config.store, policy=config.policy,
                           trusted_proxies=config.trusted_proxies, fail_open=config.fail_open,
                           engine=engine, throttle_rate=config.throttle_rate,
                           budget=config.budget, calibration=config.calibration)
        if not isinstance(self.guard.engine, StreamEngine):
            raise ScrapeGuardError("the service needs the stream engine")
        self.engine: StreamEngine = self.guard.engine
        self.metrics = Metrics()
        self.taps: list[Callable[[dict[str, Any]], None]] = []
        """Called with each raw event the service counts. On the record lane when events
        are counted in this process; when a child process counts them (`record_process`),
        as they are queued, on the event loop: keep them cheap, or follow `counted_taps`."""
        self.counted_taps: list[Callable[[Counted], None]] = []
        """Called with each event as counted (`events.Counted`, from the rows the engine
        derived), where it was counted: the dashboard follows this, so no event is derived
        twice and the decision process, with a record process, derives none."""
        self.decisions = DecisionBatcher(self.guard)
        self.recorder = Recorder(self._record, self.engine.routine,
                                 record_many=self._record_many)
        self.record_process: RecordProcess | None = None
        """The record lane in a child process, when the store is shared (`record_process.py`);
        else events are counted here, by `recorder`."""
        if engine is None and config.store.startswith(SHARED_STORES):
            self.record_process = RecordProcess(config, self.engine.secret, self._reported,
                                                wants_counted=lambda: bool(self.counted_taps))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: dict[str, int] = {}
        """Events per address queued and not yet counted (touched on the event loop only)."""
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._outgoing: list[dict[str, Any]] = []
        """Events for the record process, gathered on the event loop (`HAND_OVER_SECONDS`)."""
        lane: RecordProcess | Recorder = self.record_process or self.recorder
        self.metrics.watch_backlog(lambda: lane.backlog, lambda: lane.shed)

    def _record(self, event: dict[str, Any]) -> None:
        self._record_many([event])

    def _record_many(self, events: list[dict[str, Any]]) -> None:
        """Count a batch of the lane's events in one store round trip (`record_many`)."""
        record_many = batch_method(self.engine, "record", "record_many")
        follow = self._follow if self.counted_taps else None
        try:
            if record_many is not None:
                fired = record_many(events, seen=follow)
            else:  # an engine that records one by one: follow what it would derive
                fired = [d for event in events for d in self.engine.record(event)]
                if follow is not None:
                    for event in events:
                        follow(self.engine.deriver.derive(_with_utc(event)))
        except Exception as exc:  # a bug or a store outage: logged, the lane goes on
            log.warning("scrapeguard: recording events failed: %s", inert(exc))
            return
        for event in events:
            self._tap(event)
        for decision in fired:
            self.metrics.fired.labels(action=decision.action, kind=decision.kind).inc()

    def _follow(self, rows: EventRows) -> None:
        self._tell_counted([counted(rows)])

    def _tell_counted(self, events: list[Counted]) -> None:
        for tap in self.counted_taps:
            for event in events:
                try:
                    tap(event)
                except Exception as exc:  # a tap's bug must not stop the counting
                    log.warning("scrapeguard: a record tap failed: %s", inert(exc))

    def _tap(self, event: dict[str, Any]) -> None:
        for tap in self.taps:
            try:
                tap(event)
            except Exception as exc:  # a tap's bug must not stop the counting
                log.warning("scrapeguard: a record tap failed: %s", inert(exc))

    def submit(self, event: dict[str, Any], source: str) -> None:
        """Queue a contract event for the engine (it is counted in the record lane); call
        on the event loop. Until it is counted, the address's decisions wait (`settled`)."""
        self.metrics.event(source, "queued")
        address = str(event.get("ip"))
        loop = self._loop = asyncio.get_running_loop()
        self._pending[address] = self._pending.get(address, 0) + 1
        if self.record_process is not None:
            if self.taps:
                self._tap(event)
            self._outgoing.append(event)
            if len(self._outgoing) == 1:
                loop.call_later(HAND_OVER_SECONDS, self._hand_over)
            return

        def done() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(self._counted, address)

        self.recorder.submit(event, done)

    def _hand_over(self) -> None:
        events, self._outgoing = self._outgoing, []
        if self.record_process is not None and events:
            self.record_process.submit_many(events)

    def _reported(self, report: Report) -> None:
        """The record process counted these (called on its receiving thread)."""
        addresses, fired, _, _, seen = report
        for action, kind in fired:
            self.metrics.fired.labels(action=action, kind=kind).inc()
        if seen:
            self._tell_counted(seen)
        loop = self._loop
        if addresses and loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(self._counted_many, addresses)

    def _counted_many(self, addresses: list[str]) -> None:
        for address in addresses:
            self._counted(address)

    def _counted(self, address: str) -> None:
        left = self._pending.get(address, 1) - 1
        if left > 0:
            self._pending[address] = left
            return
        self._pending.pop(address, None)
        for waiter in self._waiters.pop(address, []):
            if not waiter.done():
                waiter.set_result(None)

    async def settled(self, address: str) -> None:
        """Wait (at most `SETTLE_SECONDS`) until what nginx reported this address was
        served is counted, so its next decision sees it.

        The middleware makes a request wait until its own event is counted; behind nginx the
        report comes apart from the request, so the wait moves to the next decision. A client
        that asks faster than its answers are counted is held back by as much, and no more
        than its own backlog; everyone else never waits."""
        if not self._pending.get(address):
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(address, []).append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(waiter, SETTLE_SECONDS)

    def submit_nginx(self, record: Any) -> str:
        """Take one decoded nginx log line; the outcome: queued, refused (skipped) or bad."""
        try:
            line = nginx_line(record)
        except BadEvent:
            self.metrics.event("syslog", "malformed")
            return "malformed"
        if line.refused:
            self.metrics.event("syslog", "refused")
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
        self._hand_over()
        if self.record_process is not None:
            self.record_process.close()
        self.recorder.close()
        self.decisions.close()
        self.guard.close()
