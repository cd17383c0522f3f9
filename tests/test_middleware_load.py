"""The live path under pressure, on a real Redis: a stalled store, a flood of cheap requests.

Each test runs the demo site as a uvicorn process of its own (`node`) against a redis-server of
the test's own (it is stopped with SIGSTOP, or flushed), and drives it from this process over
loopback, bounded in requests and in time.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from test_middleware_redis import RedisServer
from test_middleware_servers import node
from test_middleware_support import BROWSER, BROWSER_HEADERS, LANGUAGE

pytestmark = pytest.mark.redis

BUDGET_MS = 50.0
"""The middleware's default: how long a request may wait on the store before failing open."""


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.kill()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


async def _browse(url: str, seconds: float, clients: int, tag: int) -> list[tuple[float, int]]:
    """`clients` browsers fetching plain pages for `seconds`: (latency ms, status) each.

    Every client is built and makes one untimed request first, so the timing holds requests
    only, not the client's own set-up."""
    out: list[tuple[float, int]] = []
    pool = [httpx.AsyncClient(base_url=url, timeout=10,
                              headers={**BROWSER_HEADERS, "x-forwarded-for": f"10.{tag}.{n}.1"})
            for n in range(clients)]

    async def one(client: httpx.AsyncClient, stop: float) -> None:
        for index in range(5000):
            if time.monotonic() >= stop:
                return
            start = time.perf_counter()
            answer = await client.get(("/", "/about")[index % 2])
            out.append(((time.perf_counter() - start) * 1000, answer.status_code))

    try:
        await asyncio.gather(*(client.get("/about") for client in pool))
        stop = time.monotonic() + seconds
        await asyncio.gather(*(one(client, stop) for client in pool))
    finally:
        for client in pool:
            await client.aclose()
    return out


def test_a_stalled_redis_costs_a_request_at_most_the_budget(own_redis: RedisServer) -> None:
    """Redis frozen (SIGSTOP) under load: requests fail open within the budget, and the app
    goes on serving at its usual pace instead of waiting out a timeout per request."""
    with node({"SG_STORE": own_redis.url}) as url:
        before = asyncio.run(_browse(url, 2.0, 4, 1))
        assert own_redis.process is not None
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        try:
            during = asyncio.run(_browse(url, 2.0, 4, 2))
        finally:
            os.kill(own_redis.process.pid, signal.SIGCONT)
    normal = [ms for ms, _ in before]
    stalled = [ms for ms, _ in during]
    assert {status for _, status in during} == {200}
    added = _p99(stalled) - _p99(normal)
    figures = (f"p99 {_p99(normal):.1f} -> {_p99(stalled):.1f} ms, median "
               f"{statistics.median(normal):.1f} -> {statistics.median(stalled):.1f} ms, "
               f"{len(before)} -> {len(during)} requests")
    print(figures)  # shown with -rP
    assert added <= BUDGET_MS + 10, figures
    assert len(during) >= len(before) / 2, figures


class Connection:
    """A bare HTTP/1.1 keep-alive connection: a cheap client, so that the load a test makes
    lands on the server rather than on the client's own parsing. Requests may be pipelined."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 address: str) -> None:
        self.reader, self.writer, self.address = reader, writer, address

    @classmethod
    async def open(cls, url: str, address: str) -> Connection:
        host, port = url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer, address)

    async def get(self, *paths: str) -> list[int]:
        """Send these requests at once, then read their answers; their statuses."""
        self.writer.write(b"".join(
            f"GET {path} HTTP/1.1\r\nhost: t\r\nuser-agent: {BROWSER}\r\n"
            f"accept-language: {LANGUAGE}\r\n"
            f"x-forwarded-for: {self.address}\r\n\r\n".encode() for path in paths))
        await self.writer.drain()
        statuses = []
        for _ in paths:
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            length = next(int(line.split(":", 1)[1]) for line in lines
                          if line.lower().startswith("content-length:"))
            await self.reader.readexactly(length)
            statuses.append(int(lines[0].split()[1]))
        return statuses

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def _refused_at(url: str, address: str, start: int, flooders: int) -> tuple[int, int]:
    """(where an enumerator walking /user/{n} is first refused (-1: not within 120 steps or
    20 s), requests the flood made meanwhile) while `flooders` clients fetch plain pages."""
    done = asyncio.Event()
    flooded = 0

    async def flood(n: int) -> None:
        nonlocal flooded
        connection = await Connection.open(url, f"10.{9 + n // 250}.{n % 250}.7")
        try:
            for index in range(2000):
                if done.is_set():
                    return
                answers = await connection.get(("/", "/about", "/static/app.js")[index % 3])
                flooded += len(answers)
        finally:
            await connection.close()

    tasks = [asyncio.create_task(flood(n)) for n in range(flooders)]
    await asyncio.sleep(1.0 if flooders else 0)  # let the flood build its backlog first
    made = flooded
    enumerator = await Connection.open(url, address)
    stop = time.monotonic() + 20
    try:
        for index in range(120):
            if time.monotonic() >= stop:
                break
            status, = await enumerator.get(f"/user/{start + index}")
            if status not in (200, 404):
                return index, flooded - made
        return -1, flooded - made
    finally:
        done.set()
        await enumerator.close()
        await asyncio.gather(*tasks)


def test_a_flood_of_cheap_requests_does_not_delay_enforcement(own_redis: RedisServer) -> None:
    """An enumerator is refused about as early beside 50 clients flooding plain pages as it
    is alone: their backlog of page hits must not stand between it and its own counts."""
    with node({"SG_STORE": own_redis.url}) as url:
        # First use compiles the user-agent patterns and the rules' scripts on the record
        # lane; a person's few requests pay for it, so "alone" measures lag, not start-up.
        with httpx.Client(base_url=url, timeout=10, headers={
                **BROWSER_HEADERS, "x-forwarded-for": "10.9.9.9"}) as person:
            for path in ("/", "/about", "/user/1", "/about"):
                person.get(path)
        time.sleep(1.0)
        alone, _ = asyncio.run(_refused_at(url, "203.0.113.50", 5000, 0))
        flooded, flood = asyncio.run(_refused_at(url, "203.0.113.60", 8000, 50))
    figures = f"refused at {alone} alone, at {flooded} beside {flood} flood requests"
    print(figures)  # shown with -rP
    # The answer goes before the count (the record lane runs after the response), so an
    # enumerator at full speed is refused some requests after the rule's 20 steps: 24 to 35
    # on main of 2026-12-06 from run to run on this 2-core machine, 29 to 31 with the rules
    # of 2026-12-07 (each event costs more to count). The measure is the ratio below.
    assert 0 < alone <= 40, figures
    assert 0 < flooded <= 2 * alone, figures


def test_a_stalled_redis_costs_a_wsgi_request_at_most_the_budget(
        own_redis: RedisServer) -> None:
    """The WSGI twin: with Redis frozen, a request's answer waits at most the budget (and
    mostly nothing, once the engine backs off); its record after the answer may wait longer."""
    from test_middleware_wsgi import guarded

    app = guarded(store=own_redis.url)

    def answer_ms(n: int) -> float:
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": f"/api/users/{n}", "QUERY_STRING": "",
                   "REMOTE_ADDR": f"10.3.0.{n % 250 + 1}", "HTTP_USER_AGENT": BROWSER,
                   "SERVER_NAME": "t", "SERVER_PORT": "80", "wsgi.url_scheme": "http"}
        start = time.perf_counter()
        result = app(environ, lambda status, headers, exc_info=None: None)
        b"".join(result)
        elapsed = (time.perf_counter() - start) * 1000
        result.close()  # the record, after the client has its answer
        return elapsed

    try:
        for n in range(5):
            answer_ms(n)
        assert own_redis.process is not None
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        try:
            stalled = [answer_ms(n) for n in range(10, 40)]
        finally:
            os.kill(own_redis.process.pid, signal.SIGCONT)
    finally:
        app.close()
    assert max(stalled) <= BUDGET_MS + 60, stalled  # a busy machine may start a thread late
    assert statistics.median(stalled) <= 10, stalled
