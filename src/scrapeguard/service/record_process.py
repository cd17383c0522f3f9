"""The record lane in a process of its own, for a store every process shares (Redis).

Counting nginx's events (deriving the rows, the store script, the rules) took about two
thirds of the service's time, and in the same process it held the GIL against the decisions.
Here the decision process only reads each log line and resolves its client; a child process
runs the engine's `Recorder` (same fair order, same shedding) and `record_many`, and sends
back which addresses it has counted, so the service's settle wait (`Service.settled`) keeps
its meaning: a decision still waits, up to `SETTLE_SECONDS`, for its address's events.

Both sides talk over one duplex pipe: batches of events one way, batches of
`(counted addresses, fired (action, kind) pairs, backlog, shed, counted events)` the other
(the counted events, `events.Counted`, only while the parent has someone following them:
the dashboard's timelines, which so need no derivation in the decision process). The
parent's two threads do the pickling and waiting, never the event loop.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scrapeguard.service.config import ServiceConfig
from scrapeguard.service.events import Counted, counted

if TYPE_CHECKING:
    from scrapeguard.enforce.guard import Guard

log = logging.getLogger("scrapeguard.service")

Event = dict[str, Any]
Report = tuple[list[str], list[tuple[str, str]], int, int, list[Counted]]
REPORT_SECONDS = 0.002
"""How long the child gathers what it counted before it reports it."""
CLOSE_SECONDS = 10.0
"""How long closing waits for the child to count what it holds."""


def child_guard(config: ServiceConfig, secret: bytes) -> Guard:
    """The child's guard: the parent's settings, calibration included, and the parent's
    state key, not one of the child's own: without a configured secret each process would
    draw a random one, and the decisions the child writes would sit under hashes the parent
    never asks for."""
    from scrapeguard.enforce.guard import Guard

    return Guard(store=config.store, policy=config.policy,
                 trusted_proxies=config.trusted_proxies, fail_open=config.fail_open,
                 throttle_rate=config.throttle_rate, budget=config.budget, secret=secret,
                 calibration=config.calibration)


def _child(config: ServiceConfig, secret: bytes,
           conn: multiprocessing.connection.Connection) -> None:
    """The child's main: record what arrives, report what was counted, until the parent
    closes the pipe. It ignores SIGINT and SIGTERM: the parent stops it, after it has
    counted what it holds (a signal to the whole group would lose those events)."""
    import signal

    from scrapeguard.enforce.recorder import Recorder

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # The parent built its engine from the same settings and already said which rules lack
    # a calibration: said again here, each start printed every such warning twice.
    from scrapeguard.engines.stream import NO_CALIBRATION

    logging.getLogger("scrapeguard.stream").addFilter(
        lambda record: record.msg is not NO_CALIBRATION)
    guard = child_guard(config, secret)
    engine = guard.engine
    cond = threading.Condition()
    done_addresses: list[str] = []
    fired: list[tuple[str, str]] = []
    seen: list[Counted] = []
    following = [False]  # whether the parent follows counted events (said with each batch)

    def record_many(events: list[Event]) -> None:
        rows_seen: list[Counted] = []
        follow = (lambda rows: rows_seen.append(counted(rows))) if following[0] else None
        try:
            decisions = engine.record_many(events, seen=follow)  # type: ignore[attr-defined]
        except Exception as exc:  # a bug or a store outage: logged, the lane goes on
            log.warning("scrapeguard: recording events failed: %s", type(exc).__name__)
            return
        with cond:
            fired.extend((d.action, d.kind) for d in decisions)
            seen.extend(rows_seen)

    recorder = Recorder(lambda event: record_many([event]),
                        engine.routine,  # type: ignore[attr-defined]
                        record_many=record_many)
    stopping = False

    def report() -> None:
        while True:
            with cond:
                while not done_addresses and not fired and not seen and not stopping:
                    cond.wait()
            # What is counted meanwhile goes in the same report: one wake-up of the
            # parent's receiver (and its event loop) per few milliseconds, not per batch.
            time.sleep(REPORT_SECONDS)
            with cond:
                addresses, done_addresses[:] = done_addresses[:], []
                fires, fired[:] = fired[:], []
                follows, seen[:] = seen[:], []
                done = stopping and not addresses and not fires and not follows
            if done:
                return
            conn.send((addresses, fires, recorder.backlog, recorder.shed, follows))

    reporter = threading.Thread(target=report, daemon=True, name="scrapeguard-report")
    reporter.start()

    def done_for(address: str) -> Callable[[], None]:
        def done() -> None:
            with cond:
                done_addresses.append(address)
                cond.notify()
        return done

    while True:
        try:
            message = conn.recv()
        except EOFError:
            break
        if message is None:
            break
        following[0], batch = message
        for event in batch:
            recorder.submit(event, done_for(str(event.get("ip"))))
    recorder.close(CLOSE_SECONDS)
    with cond:
        stopping = True
        cond.notify()
    reporter.join(CLOSE_SECONDS)
    guard.close()
    conn.close()


class RecordProcess:
    """The parent's end: `submit` queues (never blocks); `on_report` hears what was counted."""

    def __init__(self, config: ServiceConfig, secret: bytes,
                 on_report: Callable[[Report], None],
                 wants_counted: Callable[[], bool] = lambda: False) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe(duplex=True)
        self.process = context.Process(target=_child, args=(config, secret, child_conn),
                                       daemon=True, name="scrapeguard-record")
        self.process.start()
        child_conn.close()
        self._on_report = on_report
        self._wants_counted = wants_counted
        self._cond = threading.Condition()
        self._outbox: list[Event] = []
        self._closed = False
        self.backlog = 0
        """Events the child holds, as of its last report (plus what is not yet sent)."""
        self.shed = 0
        self._sender = threading.Thread(target=self._send, daemon=True,
                                        name="scrapeguard-record-send")
        self._receiver = threading.Thread(target=self._receive, daemon=True,
                                          name="scrapeguard-record-receive")
        self._sender.start()
        self._receiver.start()

    def submit(self, event: Event) -> None:
        self.submit_many([event])

    def submit_many(self, events: list[Event]) -> None:
        with self._cond:
            self._outbox.extend(events)
            self._cond.notify()

    def _send(self) -> None:
        while True:
            with self._cond:
                while not self._outbox and not self._closed:
                    self._cond.wait()
                batch, self._outbox = self._outbox, []
                closed = self._closed
            try:
                if batch:
                    self._conn.send((self._wants_counted(), batch))
                if closed:
                    self._conn.send(None)
                    return
            except (OSError, ValueError):  # the child is gone: logged once, events lost
                log.error("scrapeguard: the record process stopped; events are not counted")
                return

    def _receive(self) -> None:
        while True:
            try:
                report: Report = self._conn.recv()
            except (EOFError, OSError):
                return
            self.backlog, self.shed = report[2], report[3]
            self._on_report(report)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._sender.join(CLOSE_SECONDS)
        self.process.join(CLOSE_SECONDS)
        self._receiver.join(1)
        if self.process.is_alive():
            self.process.kill()
