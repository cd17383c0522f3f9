"""Many nodes, one Redis: shared state across processes, and surviving a Redis outage.

`REDIS_URL` names the server (CI starts one and exports it); without it these tests skip,
except under CI, where a missing server is a failure. The outage test stops and restarts a
Redis of its own (it needs the `redis-server` binary), never the shared one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from test_middleware_servers import enumerate_people, free_port, node, serve
from test_middleware_support import (
    BROWSER_HEADERS,
    demo_site,
)

pytestmark = pytest.mark.redis

BUDGET = 300


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what}: .ci/run must provide it")
    pytest.skip(what)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if not url:
        _missing("REDIS_URL not set (start redis-server and export REDIS_URL)")
        raise AssertionError("unreachable")
    redis.Redis.from_url(url).flushdb()
    return url


def test_two_nodes_see_one_actor_whole(redis_url: str) -> None:
    """An enumerator alternating between two app processes is refused as early as on one."""
    env = {"SG_STORE": redis_url}
    with node(env) as first, node(env) as second:
        headers = {**BROWSER_HEADERS, "x-forwarded-for": "203.0.113.7"}
        clients = [httpx.Client(base_url=url, headers=headers, timeout=10)
                   for url in (first, second)]
        try:
            records, refused_at = enumerate_people(clients, 1000, 600)
            # Each node alone would have seen half the steps: refusal at ~40 requests, not ~20.
            assert 0 <= refused_at < 30, (records, refused_at)
            assert records <= BUDGET
            assert [c.get("/user/9000").status_code for c in clients] == [403, 403]
        finally:
            for c in clients:
                c.close()


def eventually(probe: Callable[[], int], want: int = 403, seconds: float = 5) -> int:
    """Ask until the answer is `want`: the engine records after the response has gone."""
    deadline = time.monotonic() + seconds
    while (status := probe()) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return status


class RedisServer:
    """A redis-server of the test's own, stopped with a save and started again from it."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            _missing("redis-server is not installed")
        self.binary = str(binary)
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
             str(self.directory), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError):
                if client.ping():
                    break
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        """SHUTDOWN SAVE: the data set goes to disk and is read back by the next start."""
        assert self.process is not None
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(self.url).shutdown(save=True)
        self.process.wait(10)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def test_a_redis_outage_fails_open_and_state_resumes(
    own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = demo_site(store=own_redis.url, trusted_proxies=["127.0.0.1"])

    def get(ip: str, path: str) -> int:
        headers = {**BROWSER_HEADERS, "x-forwarded-for": ip}
        return httpx.get(f"{url}{path}", headers=headers, timeout=10).status_code

    with serve(app) as url:
        assert get("203.0.113.7", "/trap-hidden") == 200
        assert eventually(lambda: get("203.0.113.7", "/about")) == 403  # recorded after the reply
        own_redis.stop()
        with caplog.at_level(logging.WARNING):
            during = [get("203.0.113.7", f"/user/{n}") for n in range(2, 12)]
            during += [get("192.0.2.10", page) for page in ("/", "/about", "/user/5")]
        assert set(during) == {200}, during  # fail-open: served, nothing raised to the client
        outage = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(outage) == 1, [r.getMessage() for r in caplog.records]
        own_redis.start()
        assert get("203.0.113.7", "/user/20") == 403  # the block stored before the outage
        assert get("192.0.2.10", "/about") == 200
        deadline = time.monotonic() + 5  # the engine says so at its next call past its back-off
        while not any("reachable again" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
            assert get("192.0.2.10", "/about") == 200
            time.sleep(0.05)
