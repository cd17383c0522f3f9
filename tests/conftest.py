"""Fixtures shared by the test modules: one real Redis for the ones that need it."""

from __future__ import annotations

import os

import pytest


def empty_redis() -> str:
    """The Redis `.ci/run` started (REDIS_URL), emptied; in CI its absence is a failure,
    elsewhere a skip. For fixtures of a wider scope than `redis_url`'s."""
    url = os.environ.get("REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("REDIS_URL is not set: .ci/run must start redis-server")
        pytest.skip("REDIS_URL not set (start redis-server and export REDIS_URL)")
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def redis_url() -> str:
    """`empty_redis()` for one test."""
    return empty_redis()


@pytest.fixture(autouse=True, scope="session")
def _private_sql_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Compiled SQL (`engines/sqlcache.py`) kept for this session only: tests read nothing
    outside the repository, and the CLI they start as a process inherits the setting."""
    os.environ["SCRAPEGUARD_CACHE_DIR"] = str(tmp_path_factory.mktemp("sql-cache"))
