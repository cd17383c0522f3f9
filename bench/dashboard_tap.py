"""What the dashboard's timelines cost the record lane: `Timelines.tap` per event (it derives
the event again to count its records) beside `engine.record`, timed in the same loop.

    python bench/dashboard_tap.py                  # 20,000 events, 5 rounds
    python bench/dashboard_tap.py --events 5000 --rounds 3

Events: one page, one asset and one `/user/{id}` lookup per address, a new address every
20 ms of event time, from a few hundred browsers (the traffic of bench/live_state.py). Each
round runs a fresh engine and timelines over the same events; the figures are medians over
rounds of microseconds per event, and of the per-round ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any


def events(count: int) -> list[dict[str, Any]]:
    start = datetime(2026, 3, 11, tzinfo=UTC)
    uas = [f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{100 + n % 300}.0" for n in range(300)]
    out: list[dict[str, Any]] = []
    n = 0
    while len(out) < count:
        ts = start + timedelta(milliseconds=n * 20)
        ip = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
        base = {"ip": ip, "ua": uas[n % len(uas)], "status": 200, "bytes": 900}
        out += [{**base, "ts": ts, "path": "/"},
                {**base, "ts": ts, "path": "/static/app.js", "referer": "https://x/"},
                {**base, "ts": ts, "path": f"/user/{n}", "subjects": [f"h{n}"]}]
        n += 1
    return out[:count]


def run(batch: list[dict[str, Any]]) -> tuple[float, float]:
    """(record, tap) microseconds per event over `batch`, each call timed on its own in the
    same loop, so both see the same machine load; fresh engine and timelines."""
    from scrapeguard.engines.stream import StreamEngine
    from scrapeguard.service.dashboard.timeline import Timelines

    engine = StreamEngine(None, "memory://", secret=b"bench")
    timelines = Timelines(engine.deriver)
    clock = time.perf_counter
    recording = tapping = 0.0
    for event in batch:
        began = clock()
        engine.record(event)
        middle = clock()
        timelines.tap(event)
        recording += middle - began
        tapping += clock() - middle
    return recording / len(batch) * 1e6, tapping / len(batch) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    batch = events(args.events)
    run(batch[:500])  # load user-agent data and caches before timing
    rounds = [run(batch) for _ in range(args.rounds)]
    record = statistics.median(r for r, _ in rounds)
    tap = statistics.median(t for _, t in rounds)
    ratios = statistics.median(t / r for r, t in rounds)
    print(f"events {len(batch):,}, rounds {args.rounds}")
    print(f"engine.record (baseline)   {record:8.1f} us/event (median of rounds)")
    print(f"Timelines.tap              {tap:8.1f} us/event (median of rounds)")
    print(f"tap / record: {ratios:.2f} (median of per-round ratios)")


if __name__ == "__main__":
    main()
