"""Peak memory of `load_events` on a file of hostile lines beside a clean file of the same size.

Each line is a combined log line with one field of 8 KB: in the hostile file a run an attacker
chooses, in the clean file plain letters of the same length in the same field. Shapes:

- `quotes`: a user agent of Apache-escaped quotes (`\\"` 4,096 times);
- `spaces`: a request target holding 8 KB of spaces (split at spaces, it was one list entry
  per space);
- `hops`: an X-Forwarded-For of 4,096 forged hops `1,`, loaded behind a trusted proxy.

Each file is loaded in a fresh interpreter, so the peak resident set is the load's own; the
bound is the fuzzing one, 200 MB plus ten times the file.

    python bench/hostile_lines.py --lines 50 600 2400
    python bench/hostile_lines.py --shape spaces hops --lines 2400
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
PROXY = "203.0.113.0/24"
SHAPES = {  # shape: (hostile line, clean line, trusted proxies)
    "quotes": (HEAD + '"' + '\\"' * RUN + '"', HEAD + '"' + "ab" * RUN + '"', ()),
    "spaces": (HEAD.replace("/a ", "/a" + " " * 2 * RUN + "b ") + '"curl/8"',
               HEAD.replace("/a ", "/a" + "x" * 2 * RUN + "b ") + '"curl/8"', ()),
    "hops": (HEAD + '"curl/8" "' + "1," * RUN + '198.51.100.9"',
             HEAD + '"curl/8" "' + "x" * 2 * RUN + '198.51.100.9"', (PROXY,)),
}
_PEAK = """
import resource, sys, time, duckdb
from scrapeguard.sources import load_events
start = time.monotonic()
report = load_events(duckdb.connect(), [sys.argv[1]], fmt="combined",
                     trusted_proxies=sys.argv[2:])
with open("/proc/self/status", encoding="ascii") as status:  # VmHWM: this program's own peak
    peak = next(int(x.split()[1]) for x in status if x.startswith("VmHWM:")) // 1024
print(report.lines, report.events, round(time.monotonic() - start, 1), peak)
"""


def write(path: Path, lines: int, line: str) -> Path:
    with path.open("w") as f:
        for _ in range(lines):
            f.write(line + "\n")
    return path


def peak(path: Path, src: str | None, proxies: tuple[str, ...]) -> list[str]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    done = subprocess.run([sys.executable, "-c", _PEAK, str(path), *proxies], env=env,
                          check=True, capture_output=True, text=True, timeout=3600)
    return done.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[50, 600, 2400])
    parser.add_argument("--shape", nargs="+", choices=sorted(SHAPES), default=["quotes"])
    parser.add_argument("--src", help="a src/ directory to measure instead of the installed code")
    args = parser.parse_args()
    print("shape   lines  file_MB  hostile_MB  clean_MB  bound_MB  ratio  hostile_s  clean_s")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shape:
            bad, good, proxies = SHAPES[shape]
            assert len(bad) == len(good), shape
            for n in args.lines:
                hostile = write(Path(tmp) / "h.log", n, bad)
                clean = write(Path(tmp) / "c.log", n, good)
                *_, h_s, h_mb = peak(hostile, args.src, proxies)
                *_, c_s, c_mb = peak(clean, args.src, proxies)
                size = hostile.stat().st_size / 2**20
                print(f"{shape:6}  {n:5}  {size:7.1f}  {h_mb:>10}  {c_mb:>8}  "
                      f"{200 + 10 * size:8.0f}  {int(h_mb) / int(c_mb):5.2f}  {h_s:>9}  "
                      f"{c_s:>7}")


if __name__ == "__main__":
    main()
