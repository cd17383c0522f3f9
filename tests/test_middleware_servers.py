"""Shared by the middleware tests (holds no tests itself): servers on loopback, a harvester.

`serve` runs an app under uvicorn in a thread of the test process (for tests that share a
clock with the server); `node` runs the demo site in a uvicorn process of its own (one
gateway node of several sharing Redis).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn

from scrapeguard.engines.stream import StreamEngine
from test_middleware_support import BROWSER, LANGUAGE, SECRET, TESTS, one_rule_policy

WARMUP = itertools.count(200)
"""Addresses (192.0.2.N) for the nodes' warm-up requests: one each, as nodes share Redis."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def warm_engine() -> None:
    """Make one decision in this process, so the code and data the engine loads on first use
    are loaded before a test times anything (see `test_a_fresh_node_decides_promptly`)."""
    engine = StreamEngine(one_rule_policy("block", "requests >= 1"), "memory://", secret=SECRET)
    engine.record({"ts": datetime.now(UTC), "ip": "192.0.2.1", "method": "GET",
                   "path": "/user/1", "status": 200, "bytes": 10, "ua": BROWSER,
                   "referer": None, "account": None, "session": None, "subjects": ["1"],
                   "fields": None})
    engine.close()


@contextlib.contextmanager
def serve(app: Any, *, warm: bool = True, lifespan: str = "off") -> Iterator[str]:
    """Run an ASGI app under uvicorn in a thread on a free loopback port; yields its URL.

    `warm` first makes one engine decision in this process, so tests that time decisions do
    not pay the engine's first-use costs inside their measurement; `lifespan="on"` runs the
    app's startup and shutdown as a real server would.
    """
    if warm:
        warm_engine()
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every response waits out a 40 ms delayed ACK on loopback.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    # proxy_headers=False: uvicorn would otherwise believe X-Forwarded-For from loopback and
    # rewrite the peer itself; the middleware's own trusted-proxy resolution is under test.
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan=lifespan,
                            ws="none", loop="asyncio", timeout_graceful_shutdown=2,
                            proxy_headers=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextlib.contextmanager
def node(env: dict[str, str], *, warm: bool = True) -> Iterator[str]:
    """The demo site in its own uvicorn process (one gateway node); yields its URL.

    `warm` makes the node's first records and decision on an address of its own first.
    """
    port = free_port()
    full = {**os.environ, **env, "PYTHONPATH": os.pathsep.join([str(TESTS), *sys.path])}
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "test_middleware_support:node_app",
         "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--lifespan", "off",
         "--ws", "none", "--log-level", "warning", "--no-proxy-headers"],
        env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    headers = {"x-forwarded-for": f"192.0.2.{next(WARMUP)}", "user-agent": BROWSER,
               "accept-language": LANGUAGE}
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/about", timeout=1, headers=headers)
                break
            assert time.monotonic() < deadline, "node did not start"
            time.sleep(0.1)
        # The engine's first record loads user-agent data (about half a second, while
        # requests go on being served): take that hit here, on an address of its own.
        if warm:
            httpx.get(f"{url}/user/1", timeout=30, headers=headers)
            httpx.get(f"{url}/trap-warmup", timeout=30, headers=headers)
            while httpx.get(f"{url}/about", timeout=30, headers=headers).status_code != 403:
                assert time.monotonic() < deadline + 30, "the warm-up decision never landed"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def enumerate_people(clients: Sequence[httpx.Client], start: int, attempts: int,
                     route: str = "/user/{n}") -> tuple[int, int]:
    """Walk ids upward, round robin over `clients`; (records received, first refused index).

    A record is a 200 carrying someone's data; the first refusal is the index of the first
    answer that was not a 200 or 404 (-1 when nothing was refused).
    """
    records, first_refusal = 0, -1
    for index in range(attempts):
        answer = clients[index % len(clients)].get(route.format(n=start + index))
        if answer.status_code == 200 and b"phone" in answer.content:
            records += 1
        elif answer.status_code not in (200, 404) and first_refusal < 0:
            first_refusal = index
    return records, first_refusal
