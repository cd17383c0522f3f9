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

from scrapeguard.canary import CanaryBook, CanaryError, Injector, attribute
from scrapeguard.canary.assign import FILL
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


def test_the_timeline_is_each_canarys_first_serving(log: ServingLog) -> None:
    log.record("account:a", [5, 6], T0 + timedelta(minutes=2))
    log.record("account:a", [6, 7], T0)
    log.record("account:b", [5], T0 - timedelta(days=1))
    first = [int((T0 + d).timestamp() * 1000) for d in (timedelta(0), timedelta(0),
                                                        timedelta(minutes=2))]
    assert log.timeline("account:a") == first  # 6 and 7 at T0, 5 two minutes later
    assert len(log.timeline("account:b")) == 1
    assert log.timeline("account:nobody") == []


def crawl(book: CanaryBook, pages: int) -> None:
    """The same audience on any store: a reader, a crawler that moves through many windows of
    its ordering, and a decoyed actor with a group key, on a fixed clock."""
    ticks = iter(range(10**9))
    injector = Injector(book, clock=lambda: T0 + timedelta(seconds=next(ticks)))
    items = list(range(20))
    for page in range(pages):
        injector.mix(items, "account:crawler", f"/api/reviews?page={page}")
        if page % 10 == 0:
            injector.mix(items, "account:reader", f"/api/reviews?page={page // 10}")
        if page % 4 == 0:
            injector.swap(items, "ip:198.51.100.7|fp:bot", f"/api/reviews?page={page}",
                          groups=("fp:bot",))


@pytest.mark.redis
def test_memory_and_redis_logs_serve_and_trace_the_same(tmp_path: Path, redis_url: str) -> None:
    """Which window an actor draws from is read back from the log on every page, so a store
    that counted differently would hand out different canaries from then on: the two logs
    must end up identical, entry for entry, and attribute a leak identically."""
    books = [new_book(tmp_path / kind, servings=uri, count=4000)
             for kind, uri in (("memory", "memory://"),
                               ("redis", f"{redis_url}?prefix=sgtest:{uuid.uuid4().hex}:"))]
    for book in books:
        crawl(book, 600)
    memory, redis_log = (b.servings for b in books)
    actors = ["account:crawler", "account:reader", "ip:198.51.100.7|fp:bot", "fp:bot"]
    assert memory.served_counts(actors) == redis_log.served_counts(actors)
    assert memory.served_counts(actors)["account:crawler"] > 400  # well past its first window
    assert memory.served(range(4000)) == redis_log.served(range(4000))
    assert all(memory.timeline(a) == redis_log.timeline(a) for a in actors)
    assert memory.actor_count() == redis_log.actor_count() == 4
    assert books[0].window("account:crawler") == books[1].window("account:crawler") > 10
    leak = sorted(memory.served(range(4000)))[::7]
    results = [attribute(leak, log.served(leak), log.served_counts(actors), 4000,
                         log.actor_count(), history=log.timeline) for log in (memory, redis_log)]
    assert results[0] == results[1]
    assert results[0].named
    for book in books:
        book.close()


def test_an_actor_receiving_a_million_records_holds_one_entry_per_served_canary(
        tmp_path: Path) -> None:
    """State per served canary, not per record: a million records in pages of 100 (five
    canaries each, 50,000 canary servings) leave at most one entry per distinct canary, and
    once the actor has walked its whole ordering its set, and the log, stop growing.
    (bench/canary_servings.py measures the bytes on each store.)"""
    book = new_book(tmp_path, servings="memory://", count=4000, per_actor=100)
    injector = Injector(book)
    items = list(range(100))
    sizes = []
    for page in range(10_000):
        injector.mix(items, "account:bulk", f"/p/{page}")
        if page % 2000 == 1999:
            sizes.append(book.servings.served_counts(["account:bulk"])["account:bulk"])
    windows = book.assigner.windows
    # every window but the last is left once a quarter of it is served (a page's five may
    # overshoot by four); the last can be served whole
    bound = (windows - 1) * book.per_actor // FILL + 4 + book.per_actor
    assert sizes[-1] <= bound < 50_000 // 40
    assert sizes[-1] == sizes[-2]  # exhausted: no growth over the last 200,000 records
    entries = sum(1 for by_actor in book.servings.served(range(4000)).values()
                  if "account:bulk" in by_actor)
    assert entries == sizes[-1]
    assert len(book.servings.timeline("account:bulk")) == entries
