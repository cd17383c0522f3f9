"""Concurrent decisions coalesced into one store lookup, off the event loop.

Deciding inline on the event loop held the loop for each request's Redis round trip, so
requests were decided strictly one after another: under load the service answered about 600
a second whatever nginx sent, with the loop idle on a socket most of the time. Here requests
that arrive while a lookup is out wait together and go as the next batch: one lookup (one
MGET, `StreamEngine.check_many`) in a worker thread per batch, and the loop keeps reading
requests meanwhile. An idle service sends each request at once (a batch of one); a busy one
pays one round trip and one thread hop per batch instead of one per request.

A batch that overruns the guard's `wait_limit` answers as a store outage (`Guard.too_slow`),
as the middleware's `judge_async` does.

Where the store has an asyncio client (Redis), the lookup is awaited on the loop itself
(`Guard.decide_many_async`) and no thread is involved: a worker thread cost a hop and two
GIL hand-offs per batch, and the decision process about a tenth more CPU per request under
bench/service.py. The worker thread stays for stores and engines that can only block (the
memory store, a test's spy engine).
"""

from __future__ import annotations

import asyncio
import concurrent.futures

from scrapeguard.enforce.base import Outcome, Seen
from scrapeguard.enforce.guard import Guard
from scrapeguard.engines.verdict import Verdict

Decided = tuple[Verdict | None, Outcome]
Waiting = tuple[Seen, "asyncio.Future[Decided]", float]
"""A request, its answer to come, and the loop time past which it answers as an outage."""


class DecisionBatcher:
    """One lookup in flight at a time; what arrives meanwhile is the next batch."""

    def __init__(self, guard: Guard) -> None:
        self.guard = guard
        self._pool = concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="scrapeguard-decide")
        self._waiting: list[Waiting] = []
        self._busy = False
        self.batches = 0
        """Lookups sent since start (with `decided`: the mean batch size, when profiling)."""
        self.decided = 0

    async def decide(self, seen: Seen) -> Decided:
        """The decision, or the outage answer once `wait_limit` has passed. One timer
        watches each group of requests that wait together (`_expire`), rather than a
        `wait_for` per request: that made three futures and a timer for every decision."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Decided] = loop.create_future()
        deadline = loop.time() + self.guard.wait_limit
        if not self._waiting:
            loop.call_at(deadline, self._expire, loop, self._waiting)
        self._waiting.append((seen, future, deadline))
        if not self._busy:
            self._send(loop)
        return await future

    def _expire(self, loop: asyncio.AbstractEventLoop, group: list[Waiting]) -> None:
        """Answer as an outage those of `group` past their deadline; watch the rest."""
        now = loop.time()
        later = None
        for seen, future, deadline in group:
            if future.done():
                continue
            if deadline <= now:
                future.set_result(self.guard.too_slow(seen))
            else:
                later = deadline if later is None else min(later, deadline)
        if later is not None:
            loop.call_at(later, self._expire, loop, group)

    def _send(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._waiting = self._waiting, []
        self._busy = True
        self.batches += 1
        self.decided += len(batch)
        seens = [seen for seen, _, _ in batch]
        lookup: asyncio.Future[list[Decided]] = (
            loop.create_task(self.guard.decide_many_async(seens)) if self.guard.decides_async
            else loop.run_in_executor(self._pool, self.guard.decide_many, seens))
        lookup.add_done_callback(lambda done: self._answer(loop, batch, done))

    def _answer(self, loop: asyncio.AbstractEventLoop,
                batch: list[Waiting],
                done: asyncio.Future[list[Decided]]) -> None:
        self._busy = False
        error = done.cancelled() or done.exception() is not None
        for index, (seen, future, _) in enumerate(batch):
            if future.done():
                continue
            # decide_many catches engine failures; anything past it answers as an outage
            future.set_result(self.guard.too_slow(seen) if error
                              else done.result()[index])
        if self._waiting:
            self._send(loop)

    def close(self) -> None:
        self._pool.shutdown(wait=False)
