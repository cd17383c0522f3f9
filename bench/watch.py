"""What following a log costs beyond the live engine itself.

`watch --once` (chunks parsed by analyze's formats, state saved per chunk, a mark per event)
against `replay` — the same engine fed the same events from one whole-file load — over the
same synthetic combined log, memory:// store, in the same run. The engine's own per-event
cost dominates both; the ratio is the follower's overhead.

    python bench/watch.py [--lines 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _common import generate_log
from scrapeguard.engines.replay import replay
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.watch.run import Watcher


def _watch(log: Path, state: Path) -> float:
    engine = StreamEngine(None, "memory://", secret=b"bench-secret-0123")
    state.unlink(missing_ok=True)
    start = time.perf_counter()
    watcher = Watcher(log, engine, state, grace=0.0)
    watcher.run(threading.Event(), once=True)
    watcher.close()
    return time.perf_counter() - start


def _replay(log: Path) -> float:
    engine = StreamEngine(None, "memory://", secret=b"bench-secret-0123")
    start = time.perf_counter()
    replay([str(log)], engine)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "access.log"
        generate_log(log, args.lines, seed=7)
        watch, whole = [], []
        for _ in range(args.repeat):  # interleaved, so load on the machine hits both alike
            whole.append(_replay(log))
            watch.append(_watch(log, Path(tmp) / "state.json"))
    w, r = statistics.median(watch), statistics.median(whole)
    print(f"{args.lines:,} lines, median of {args.repeat}:")
    print(f"  replay (engine on one whole-file load): {args.lines / r:,.0f} lines/s")
    print(f"  watch --once (chunks, state, marks):    {args.lines / w:,.0f} lines/s "
          f"({w / r:.2f}x replay's time)")


if __name__ == "__main__":
    main()
