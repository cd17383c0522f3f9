"""What learning routes live costs: `record` with and without the learner, and its memory bound.

    python bench/route_learner.py                 # 40,000 events, then the full-cap memory
    python bench/route_learner.py --events 100000

**Time.** The same browsing mix (pages, their assets and extension-less avatars with the page
as referer, profiles, telemetry writes and preflights, from 2,000 addresses) is recorded by two
`memory://` engines, one with `learn_routes=False` (the baseline) and one with the learner, in
alternating chunks of 1,000 events so that both see the same machine state; the figure is the
median per-event time over the chunks, and their ratio. Then the learner's own `observe`,
beside the per-event derivation every recorded event already pays. Both run after the
response: the client does not wait for them.

**Memory.** A learner filled to every cap at once — `MAX_TEMPLATES` templates, each with its
samples of clients, after-page clients, ids and paths full, and the last pages of
`RECENT_CLIENTS` clients — measured with tracemalloc: the most a node's learner can hold,
whatever the traffic.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from array import array
from datetime import UTC, datetime, timedelta
from random import Random
from typing import Any

from scrapeguard.engines.stream import StreamEngine
from scrapeguard.policy.load import load_policy
from scrapeguard.routes import live

SECRET = b"bench secret"
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"
SITE = "https://people.example"
CHUNK = 1000


def browsing(count: int, seed: int = 7, templates: int = 3000) -> list[dict[str, Any]]:
    """The mix; a third of the visitors also read one of `templates` articles whose paths
    are slugs (`/doc/topic-k`), each a template of its own, as a blog's or a shop's pages
    are: the learner follows each of them."""
    rng, out = Random(seed), []
    t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    t = 0.0

    def hit(ip: str, path: str, method: str = "GET", referer: str | None = None) -> None:
        out.append({"ts": t0 + timedelta(seconds=t), "ip": ip, "method": method, "path": path,
                    "status": 200, "bytes": 3000, "ua": UA,
                    "referer": referer and SITE + referer, "account": None, "session": None,
                    "subjects": None})

    while len(out) < count:
        ip = f"10.0.{rng.randrange(8)}.{rng.randrange(250)}"
        page = rng.choice([f"/user/{rng.randrange(1, 2_000_000)}", "/search?q=ann", "/"])
        hit(ip, page)
        for asset in ("/static/site.css", "/static/app.js", f"/avatar/{rng.randrange(10**6)}"):
            t += 0.01
            hit(ip, asset, referer=page)
        if templates and rng.random() < 1 / 3:
            t += rng.uniform(1, 5)
            hit(ip, f"/doc/topic-{chr(97 + rng.randrange(26))}{rng.randrange(templates)}",
                referer=page)
        hit(ip, "/api/v1/events", "OPTIONS")
        hit(ip, f"/api/v1/events/{rng.randrange(10**6)}", "POST")
        t += rng.uniform(0.02, 0.2)
    return out[:count]


def per_event_us(events: list[dict[str, Any]]) -> tuple[float, float]:
    engines = [StreamEngine(None, secret=SECRET, learn_routes=learn) for learn in (False, True)]
    times: list[list[float]] = [[], []]
    for start in range(0, len(events), CHUNK):
        chunk = events[start:start + CHUNK]
        for which, engine in enumerate(engines):
            began = time.perf_counter()
            for event in chunk:
                engine.record(event)
            times[which].append((time.perf_counter() - began) / len(chunk) * 1e6)
    return statistics.median(times[0]), statistics.median(times[1])


def observe_us(events: list[dict[str, Any]]) -> tuple[float, float]:
    """Median per-event µs, over chunks, of the learner's `observe` alone and of the
    engine's per-event derivation (`Deriver.derive`) beside it, in the same run."""
    engine = StreamEngine(None, secret=SECRET)
    assert engine.learner is not None
    derive, observe = [], []
    for start in range(0, len(events), CHUNK):
        chunk = events[start:start + CHUNK]
        began = time.perf_counter()
        rows = [engine.deriver.derive(event) for event in chunk]
        derive.append((time.perf_counter() - began) / len(chunk) * 1e6)
        seen = [engine._route_seen(e, r) for e, r in zip(chunk, rows, strict=True)]
        began = time.perf_counter()
        for one in seen:
            engine.learner.observe(one)
        observe.append((time.perf_counter() - began) / len(chunk) * 1e6)
    return statistics.median(observe), statistics.median(derive)


def full_learner_bytes() -> int:
    """A learner with every sample full, in bytes (tracemalloc)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    policy = load_policy(None)
    learner = live.RouteLearner(policy, lambda s: f"{hash(s) & (1 << 64) - 1:016x}")
    for t in range(live.MAX_TEMPLATES):
        counts = learner._counts(live.Seen(0, "x", f"/t{t}/{{n}}", "read", "/", False, None,
                                           "", 200, None, None))
        assert counts is not None
        for k in range(max(live.CLIENT_SAMPLE, live.PATH_SAMPLE,
                           policy.settings.min_template_ids)):
            value = t << 32 | k
            if k < live.CLIENT_SAMPLE:
                counts.clients.append(value)
                counts.after_page.append(value)
                counts.asset_clients.append(value)
            if k < live.PATH_SAMPLE:
                counts.paths.append(value)
            if k < policy.settings.min_template_ids:
                counts.ids.append(value)
    for c in range(live.RECENT_CLIENTS):
        learner._pages[c + 2**62] = (array("Q", (c << 20 | p for p in range(live.RECENT_PAGES))),
                                     array("Q", range(live.RECENT_PAGES)))
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return after - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--templates", type=int, default=3000,
                        help="distinct article templates in the mix (0: none)")
    args = parser.parse_args()
    events = browsing(args.events, templates=args.templates)
    without, with_learner = per_event_us(events)
    print(f"record, median per event over {len(events) // CHUNK} chunks of {CHUNK}: "
          f"{with_learner:.1f} µs with the learner, {without:.1f} µs without "
          f"(baseline, same run): x{with_learner / without:.2f}, "
          f"+{with_learner - without:.1f} µs")
    observe, derive = observe_us(events)
    print(f"learner.observe alone: {observe:.1f} µs per event (the engine's derive of the "
          f"same event, same run: {derive:.1f} µs)")
    full = full_learner_bytes()
    print(f"learner at every cap ({live.MAX_TEMPLATES:,} templates, {live.RECENT_CLIENTS:,} "
          f"clients' pages): {full / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
