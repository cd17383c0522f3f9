"""The serving log's size for one actor that receives a million records, on each store.

    python bench/canary_servings.py                          # memory:// and sqlite
    python bench/canary_servings.py --redis redis://127.0.0.1:6379/0
    python bench/canary_servings.py --records 200000 --count 10000

One actor (`account:bulk`) reads list pages of 20 records through the real `Injector` (one
canary a page at the default rate) on a book sized for a 40,000-record harvester (20,000
canaries, `mint --exposure 40000`), so the actor runs through its whole ordering long before a
million records. The log keeps one entry per (canary, actor) served, none per record, so its
size follows the distinct canaries served and stops growing once the book is exhausted for
the actor. Printed at 10,000 records (the baseline, measured in the same run), 100,000 and
the full count: entries, bytes the store holds, and their ratio to the baseline beside the
ratio of records (what state per record would cost).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from scrapeguard.canary import CanaryBook, Injector, MintSpec, mint
from scrapeguard.canary.drill import DRILL_RANGE
from scrapeguard.canary.ranges import IdSpace, PhoneRange

ACTOR = "account:bulk"
PAGE = 20
KEY = bytes(range(32))


def store_bytes(kind: str, book: CanaryBook, uri: str) -> int:
    """What the store holds for the log: allocations made by the serving-log module (memory;
    not the book's caches), file pages (sqlite), MEMORY USAGE of every key under the run's
    prefix (redis)."""
    if kind == "memory":
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(True, "*canary/servings.py")])
        return sum(stat.size for stat in snapshot.statistics("filename"))
    if kind == "sqlite":
        conn = sqlite3.connect(uri.split("///", 1)[1])
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = conn.execute("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'servings%'"
                             ).fetchone()[0]
        conn.close()
        return int(pages or 0)
    client = book.servings.client  # type: ignore[attr-defined]
    prefix = book.servings.prefix  # type: ignore[attr-defined]
    return sum(int(client.memory_usage(k) or 0) for k in client.scan_iter(f"{prefix}*"))


def run(kind: str, uri: str, path: Path, records: int) -> list[tuple[int, int, int, float]]:
    book = CanaryBook(path, servings=uri, key=KEY)
    ticks = iter(range(10**9))
    injector = Injector(book, clock=lambda: datetime(2026, 3, 2, tzinfo=UTC)
                        + timedelta(seconds=next(ticks)))
    marks = sorted({m for m in (10_000, 100_000, records) if m <= records})
    out = []
    if kind == "memory":
        tracemalloc.start()
    start, served = time.perf_counter(), 0
    items = list(range(PAGE))
    for page in range(records // PAGE):
        injector.mix(items, ACTOR, f"/api/reviews?page={page}")
        served += PAGE
        if served in marks:
            entries = book.servings.served_counts([ACTOR])[ACTOR]
            out.append((served, entries, store_bytes(kind, book, uri),
                        time.perf_counter() - start))
    if kind == "memory":
        tracemalloc.stop()
    book.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--redis", help="also measure a redis:// log on this server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "canaries.db"
        mint(path, MintSpec(count=args.count, locale="zh_CN",
                            ids=IdSpace.parse("900000000-999999999"),
                            phone_ranges=(PhoneRange.parse(DRILL_RANGE, "zh_CN"),)), key=KEY)
        stores: dict[str, Callable[[], str]] = {
            "memory": lambda: "memory://",
            "sqlite": lambda: f"sqlite:///{Path(scratch) / f'servings-{uuid.uuid4().hex}.db'}",
        }
        if args.redis:
            stores["redis"] = lambda: f"{args.redis}?prefix=sgbench:{uuid.uuid4().hex}:"
        print(f"one actor, {args.records:,} records in pages of {PAGE}, book of "
              f"{args.count:,} canaries; baseline: the same actor at 10,000 records")
        print(f"{'store':8} {'records':>10} {'entries':>8} {'bytes':>11} {'B/record':>9} "
              f"{'entries x':>10} {'records x':>10} {'seconds':>8}")
        for kind, uri in stores.items():
            rows = run(kind, uri(), path, args.records)
            base_records, base_entries = rows[0][0], rows[0][1]
            for served, entries, size, seconds in rows:
                print(f"{kind:8} {served:>10,} {entries:>8,} {size:>11,} {size / served:>9.1f} "
                      f"{entries / base_entries:>10.1f} {served / base_records:>10.1f} "
                      f"{seconds:>8.1f}")


if __name__ == "__main__":
    main()
