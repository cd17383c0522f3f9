"""Peak memory of `load_events` on a file of quote runs beside a clean file of the same size.

Each line is a combined log line whose user agent is 8 KB: Apache-escaped quotes (`\\"`
4,096 times) in one file, plain letters in the other. Each file is loaded in a fresh
interpreter, so the peak resident set is the load's own.

    python bench/hostile_lines.py --lines 50 600 2400
    python bench/hostile_lines.py --lines 50 --src /path/to/old/checkout/src   # other code
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HEAD = '203.0.113.7 - - [17/May/2015:10:05:03 +0200] "GET /a HTTP/1.1" 200 512 "-" '
RUN = 4096
_PEAK = """
import resource, sys, time, duckdb
from scrapeguard.sources import load_events
start = time.monotonic()
report = load_events(duckdb.connect(), [sys.argv[1]])
print(report.lines, report.events, round(time.monotonic() - start, 1),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def write(path: Path, lines: int, ua: str) -> Path:
    with path.open("w") as f:
        for _ in range(lines):
            f.write(HEAD + '"' + ua + '"\n')
    return path


def peak(path: Path, src: str | None) -> list[str]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    done = subprocess.run([sys.executable, "-c", _PEAK, str(path)], env=env, check=True,
                          capture_output=True, text=True, timeout=3600)
    return done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[50, 600, 2400])
    parser.add_argument("--src", help="a src/ directory to measure instead of the installed code")
    args = parser.parse_args()
    print("lines  file_MB  quotes_MB  clean_MB  ratio  quotes_s  clean_s")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.lines:
            quotes = write(Path(tmp) / "q.log", n, '\\"' * RUN)
            clean = write(Path(tmp) / "c.log", n, "ab" * RUN)
            *_, q_s, q_mb = peak(quotes, args.src)
            *_, c_s, c_mb = peak(clean, args.src)
            size = quotes.stat().st_size / 2**20
            print(f"{n:5}  {size:7.1f}  {q_mb:>9}  {c_mb:>8}  {int(q_mb) / int(c_mb):5.2f}  "
                  f"{q_s:>8}  {c_s:>7}")


if __name__ == "__main__":
    main()
