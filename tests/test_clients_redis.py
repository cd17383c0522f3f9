"""`test_clients.py` on a real loopback server with its state in Redis: a fresh random session
cookie on every request buys an enumerator no more records than none."""

from __future__ import annotations

import secrets

import httpx
import pytest

from test_middleware_redis import redis_url  # noqa: F401 - the fixture
from test_middleware_servers import node
from test_middleware_support import BROWSER

pytestmark = pytest.mark.redis


def _served(client: httpx.Client, address: str, cookie: str | None, limit: int = 300) -> int:
    served = 0
    for n in range(5000, 5000 + limit):
        client.cookies.clear()  # keeps nothing the guard sets
        headers = {"x-forwarded-for": address}
        if cookie:
            headers["cookie"] = f"{cookie}={secrets.token_hex(8)}"
        answer = client.get(f"/user/{n}", headers=headers)
        if answer.status_code == 200:
            served += 1
        elif answer.status_code != 404:
            break
    return served


def test_rotating_cookies_on_redis(redis_url: str) -> None:  # noqa: F811
    with node({"SG_STORE": redis_url}) as url, httpx.Client(
            base_url=url, headers={"user-agent": BROWSER}, timeout=10) as client:
        bare = _served(client, "203.0.113.101", None)
        rotating = _served(client, "203.0.113.102", "session")
        signed = _served(client, "203.0.113.103", "sg_client")
    assert 0 < bare < 100, bare
    assert rotating <= 1.2 * bare, (rotating, bare)
    assert signed <= 1.2 * bare, (signed, bare)
