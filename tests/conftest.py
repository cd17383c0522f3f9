"""Fixtures shared by the test modules: one real Redis for the ones that need it."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def redis_url() -> str:
    """The Redis `.ci/run` started (REDIS_URL), emptied for the test; in CI its absence is a
    failure, elsewhere a skip."""
    url = os.environ.get("REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is not set: .ci/run must start redis-server")
        pytest.skip("REDIS_URL not set (start redis-server and export REDIS_URL)")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url
