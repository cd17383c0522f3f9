"""The serving log: durable across restarts and processes, the same on every backend.

`REDIS_URL` names a Redis for the `redis://` backend (CI starts one); without it those cases
skip. Each Redis case writes under a prefix of its own instead of flushing a shared server.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scrapeguard.canary import CanaryBook, CanaryError
from scrapeguard.canary.servings import ServingLog, connect, open_servings
from test_canary_support import KEY, new_book

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServingLog]:
    if request.param == "memory":
        opened = open_servings("memory://")
    elif request.param == "sqlite":
        opened = open_servings(f"sqlite:///{tmp_path / 'servings.db'}")
    else:
        url = os.environ.get("REDIS_URL")
        if not url:
            if os.environ.get("CI"):
                pytest.fail("REDIS_URL is not set: .ci/run must start redis-server")
            pytest.skip("REDIS_URL not set (start redis-server and export REDIS_URL)")
        opened = open_servings(f"{url}?prefix=sgtest:{uuid.uuid4().hex}:")
    yield opened
    opened.close()


def test_first_last_and_count_per_actor(log: ServingLog) -> None:
    log.record("account:a", [1, 2, 3], T0 + timedelta(minutes=5))
    log.record("account:a", [2], T0)
    log.record("account:a", [2], T0 + timedelta(hours=1))
    log.record("ip:1|fp:x", [3], T0)
    served = log.served([2, 3, 99])
    assert set(served) == {2, 3}
    two = served[2]["account:a"]
    assert (two.first, two.last, two.count) == (T0, T0 + timedelta(hours=1), 3)
    assert set(served[3]) == {"account:a", "ip:1|fp:x"}
    assert log.served_counts(["account:a", "ip:1|fp:x", "account:none"]) == {
        "account:a": 3, "ip:1|fp:x": 1, "account:none": 0}
    assert log.actor_count() == 2
    assert log.was_served(1, "account:a")
    assert not log.was_served(1, "ip:1|fp:x")


def test_the_sqlite_log_survives_a_restart_in_wal_mode(tmp_path: Path) -> None:
    book = new_book(tmp_path)
    book.record("account:a", book.for_actor("account:a", 5), T0)
    book.close()
    again = CanaryBook(tmp_path / "canaries.db", key=KEY)
    assert again.servings.served_counts(["account:a"]) == {"account:a": 5}
    assert connect(again.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()


WRITER = """
import sys
from datetime import UTC, datetime
from scrapeguard.canary.servings import open_servings
log = open_servings(sys.argv[1])
for n in range(200):
    log.record(sys.argv[2], [n, n + 1000], datetime.now(UTC))
log.close()
"""


def test_processes_write_one_sqlite_log_together(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    open_servings(uri).close()
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, uri, f"account:w{n}"],
                                stderr=subprocess.PIPE) for n in range(3)]
    for writer in writers:
        _, errors = writer.communicate(timeout=60)
        assert writer.returncode == 0, errors.decode()
    log = open_servings(uri)
    assert log.served_counts([f"account:w{n}" for n in range(3)]) == {
        f"account:w{n}": 400 for n in range(3)}
    assert all(len(actors) == 3 for actors in log.served(range(200)).values())
    log.close()


def test_unknown_logs_are_clear_errors() -> None:
    with pytest.raises(CanaryError, match="unknown serving log"):
        open_servings("mongodb://x")
    with pytest.raises(CanaryError, match="no path"):
        open_servings("sqlite://")
