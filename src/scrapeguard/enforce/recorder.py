"""The record lane: served events go to the engine from one worker thread, fairly.

One FIFO queue for everyone let a flood starve enforcement: fifty clients fetching plain pages
faster than the store could count them built a backlog, and an enumerator's lookups waited
behind it, so its block landed after 1,445 requests instead of 24. Here each client (account,
else session, else address: the engine's notion of one client) keeps its own queue, in the
order its responses finished, since rules that follow a client's steps (sequential ids) need
them in order. Clients take turns, and events that can matter (a person's record served, a
lookup on a personal-data route, a trap) go before routine page and asset hits, which only
add to counts; a client's routine hits queued before its lookup are counted first, so its own
order holds.

The backlog is bounded. At the bound a routine hit is shed (the oldest waiting one, to make
room for an event that matters; else the new one), counted in `shed`, and logged once per
episode: under a flood the plain page counts are what gives way, never a client's lookups.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger("scrapeguard.enforce")

MAX_BACKLOG = 10_000
"""Events waiting at most; at about a millisecond each, ten seconds of the lane's work."""
ROUTINE_RUN = 64
"""Routine events a client hands over per turn."""
BATCH = 64
"""Events handed to `record_many` at once at most: turns are taken (in the same fair order)
until this many are in hand or nothing waits, so a busy lane pays one store round trip per
batch, and an idle one still counts each event as soon as it comes."""

Event = dict[str, Any]
Done = Callable[[], None]


class Recorder:
    """Feeds `record` from one daemon thread; `submit` never blocks on the engine."""

    def __init__(self, record: Callable[[Event], object],
                 routine: Callable[[Event], bool] | None = None,
                 limit: int = MAX_BACKLOG,
                 record_many: Callable[[list[Event]], object] | None = None) -> None:
        self._record = record
        self._record_many = record_many
        self._routine = routine
        self.limit = limit
        self.shed = 0
        """Routine events dropped at the bound, since start."""
        self._cond = threading.Condition()
        self._queues: dict[str, deque[tuple[Event, bool, Done | None]]] = {}
        self._urgent_count: dict[str, int] = {}
        self._urgent: OrderedDict[str, None] = OrderedDict()
        self._plain: OrderedDict[str, None] = OrderedDict()
        self._pending = 0
        self._shedding = False
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def backlog(self) -> int:
        """Events waiting for the engine now."""
        return self._pending

    def submit(self, event: Event, done: Done | None = None) -> None:
        """Queue one served event; `done()` is called (from the worker thread) once it has
        been counted or shed."""
        routine = self._routine is not None and self._is_routine(event)
        client = str(event.get("account") or event.get("session") or event.get("ip"))
        with self._cond:
            if self._closed:
                dropped = True
            elif self._pending >= self.limit and not self._make_room(routine):
                self._count_shed()
                dropped = True
            else:
                dropped = False
                self._enqueue(client, event, not routine, done)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name="scrapeguard-record")
                    self._thread.start()
                self._cond.notify()
        if dropped and done is not None:
            done()

    def close(self, timeout: float = 5.0) -> None:
        """Count what is queued (for up to `timeout` seconds), then stop the thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _is_routine(self, event: Event) -> bool:
        assert self._routine is not None
        try:
            return self._routine(event)
        except Exception:  # a classifier bug must not lose the event: count it as one that matters
            return False

    def _enqueue(self, client: str, event: Event, urgent: bool, done: Done | None) -> None:
        queue = self._queues.get(client)
        if queue is None:
            queue = self._queues[client] = deque()
        queue.append((event, urgent, done))
        self._pending += 1
        if urgent:
            self._urgent_count[client] = self._urgent_count.get(client, 0) + 1
            self._plain.pop(client, None)
            if client not in self._urgent:
                self._urgent[client] = None
        elif client not in self._urgent and client not in self._plain:
            self._plain[client] = None

    def _make_room(self, routine: bool) -> bool:
        """At the bound: for an event that matters, shed the oldest routine hit waiting."""
        if routine or not self._plain:
            return False
        client = next(iter(self._plain))
        queue = self._queues[client]
        _, _, done = queue.popleft()
        self._pending -= 1
        if not queue:
            del self._queues[client], self._plain[client]
        self._count_shed()
        if done is not None:
            done()  # under the lock: only schedules a wake-up on the event loop
        return True

    def _count_shed(self) -> None:
        self.shed += 1
        if not self._shedding:
            self._shedding = True
            log.warning("scrapeguard: record backlog at its bound (%d events); shedding "
                        "routine page hits until it drains", self.limit)

    def _next(self) -> list[tuple[Event, Done | None]]:
        """The next client's turn: up to its first event that matters, or a run of routine
        ones; the client goes to the back of its line if it has more."""
        if self._urgent:
            client, _ = self._urgent.popitem(last=False)
        else:
            client, _ = self._plain.popitem(last=False)
        queue = self._queues[client]
        taken: list[tuple[Event, Done | None]] = []
        while queue:
            event, urgent, done = queue.popleft()
            taken.append((event, done))
            if urgent:
                self._urgent_count[client] -= 1
                break
            if len(taken) >= ROUTINE_RUN and not self._urgent_count.get(client):
                break
        self._pending -= len(taken)
        if not queue:
            del self._queues[client]
            self._urgent_count.pop(client, None)
        elif self._urgent_count.get(client):
            self._urgent[client] = None
        else:
            self._urgent_count.pop(client, None)
            self._plain[client] = None
        if self._shedding and self._pending < self.limit // 2:
            self._shedding = False
            log.warning("scrapeguard: record backlog drained; %d routine hits shed so far",
                        self.shed)
        return taken

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                batch = self._next()
                while self._record_many is not None and self._pending and len(batch) < BATCH:
                    batch.extend(self._next())
            self._count(batch)

    def _count(self, batch: list[tuple[Event, Done | None]]) -> None:
        if self._record_many is not None:
            try:
                self._record_many([event for event, _ in batch])
            except Exception:  # the engine logs store failures; this thread must live on
                log.exception("scrapeguard: recording events failed")
        else:
            for event, _ in batch:
                try:
                    self._record(event)
                except Exception:  # the guard logs engine failures; this thread must live on
                    log.exception("scrapeguard: recording an event failed")
        for _, done in batch:
            if done is not None:
                done()
