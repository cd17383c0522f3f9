"""Memory a `memory://` engine holds per client address, measured as RSS in a fresh process.

    python bench/live_state.py                      # 1,000,000 addresses
    python bench/live_state.py --addresses 50000
    python bench/live_state.py --lookups-only       # one lookup an address: a botnet

Each address sends what most of a million strangers send: one page, one asset, and one lookup
of a person on `/user/{id}` (a record served), from one of a few hundred browsers, some with
a session cookie, a tenth logged in; a new address every 20 ms of event time (50 a second),
so windows of the first have closed and expired by the time the last arrive. The figure is
the RSS after the traffic minus the RSS of the same process with the engine built and warm,
divided by the addresses. The parent prints it beside the baseline measured on the code
before the state was bounded.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

BASELINE_BYTES_PER_ADDRESS = {"3 requests": 8365, "1 lookup": 8863}
"""Per address on the code before bounded state (f657e3a), same traffic: 20,000 addresses
for 3 requests each, 5,000 for one lookup each (their run times allowed no more)."""


def rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def address(n: int) -> str:
    return f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" if n < 1 << 24 else f"2001:db8::{n:x}"


def child(addresses: int, lookups_only: bool = False) -> dict[str, float]:
    """Run the traffic in this process and report RSS figures."""
    import gc

    from scrapeguard.engines.stream import StreamEngine

    engine = StreamEngine(None, "memory://", secret=b"bench")
    start = datetime(2026, 3, 11, tzinfo=UTC)
    uas = [f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{100 + n % 300}.0" for n in range(300)]
    engine.record({"ts": start, "ip": "192.0.2.1", "path": "/", "status": 200, "ua": uas[0]})
    gc.collect()
    before = rss_bytes()
    began = time.monotonic()
    for n in range(addresses):
        ts = start + timedelta(milliseconds=n * 20)
        base = {"ip": address(n), "ua": uas[n % len(uas)], "status": 200, "bytes": 900,
                "session": f"s{n:08x}" * 4 if n % 3 == 0 else None,
                "account": f"member{n}" if n % 10 == 0 else None}
        if not lookups_only:
            engine.record({**base, "ts": ts, "path": "/"})
            engine.record({**base, "ts": ts, "path": "/static/app.js"})
        engine.record({**base, "ts": ts, "path": f"/user/{n + 1000}",
                       "subjects": [str(n + 1000)], "fields": ["name"]})
        if n % 100_000 == 99_999:
            print(f"{n + 1:,} addresses, {time.monotonic() - began:.0f} s, "
                  f"RSS {rss_bytes() / 2**20:,.0f} MiB", file=sys.stderr, flush=True)
    seconds = time.monotonic() - began
    gc.collect()
    after = rss_bytes()
    store = engine.store
    return {"addresses": addresses, "rss_before": before, "rss_after": after,
            "bytes_per_address": (after - before) / addresses, "seconds": seconds,
            "entries": getattr(store, "entries", lambda: -1)(),
            "evicted": getattr(store, "evicted", 0)}


def measure(addresses: int, lookups_only: bool) -> dict[str, float]:
    """The figures from a fresh interpreter, so nothing else counts in its RSS."""
    command = [sys.executable, __file__, "--child", "--addresses", str(addresses)]
    out = subprocess.run([*command, "--lookups-only"] if lookups_only else command,
                         check=True, stdout=subprocess.PIPE, text=True)
    figures: dict[str, float] = json.loads(out.stdout)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--addresses", type=int, default=1_000_000)
    parser.add_argument("--lookups-only", action="store_true",
                        help="one lookup an address instead of a page, an asset and a lookup")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.addresses, args.lookups_only)))
        return
    figures = measure(args.addresses, args.lookups_only)
    total = figures["rss_after"] - figures["rss_before"]
    shape = "1 lookup" if args.lookups_only else "3 requests"
    print(f"memory:// after {args.addresses:,} client addresses ({shape} each, "
          f"{figures['seconds']:.0f} s): {total / 2**20:,.0f} MiB, "
          f"{figures['bytes_per_address']:,.0f} bytes an address "
          f"(before bounded state: {BASELINE_BYTES_PER_ADDRESS[shape]:,}); "
          f"{figures['entries']:,} entries held, {figures['evicted']:,} evicted by the cap")


if __name__ == "__main__":
    main()
