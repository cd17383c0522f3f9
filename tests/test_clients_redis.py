"""`test_clients.py` with the engine's state in a real Redis: a fresh random session cookie
on every request buys an enumerator no more records than none."""

from __future__ import annotations

import asyncio

import pytest

from test_clients import enumerate_people
from test_middleware_redis import redis_url  # noqa: F401 - the fixture

pytestmark = pytest.mark.redis


def test_rotating_cookies_on_redis(redis_url: str) -> None:  # noqa: F811
    bare = asyncio.run(enumerate_people(None, redis_url, 300, "203.0.113.101"))
    assert 0 < bare < 100, bare
    for address, cookie in (("203.0.113.102", "session"), ("203.0.113.103", "sg_client")):
        rotating = asyncio.run(enumerate_people(cookie, redis_url, 300, address))
        assert rotating <= 1.2 * bare, (cookie, rotating, bare)
