"""Reading speed of each detected format, on its own sample grown to the same number of lines.

Each `tests/data/formats/*.log` that is detected with no flag is written out again with its
request lines repeated to `--lines` lines (see `grow`; the sample's first client address
varied per line, so the log has many clients),
then `load_events` reads it, detecting its format as `analyze` does. Samples are a few hundred
bytes a line (JSON ones near a kilobyte), so this compares readers on their own vendors'
lines, not on the same bytes; `w3c_read.py` compares w3c and combined on the same requests.

    python bench/formats_read.py                                 # 300,000 lines, best of 2
    python bench/formats_read.py --only cloudfront gcp cloudflare envoy --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from scrapeguard.sources import load_events

SAMPLES = Path(__file__).resolve().parent.parent / "tests" / "data" / "formats"
CLIENT = "198.51.100.23"
"""The address most samples give their first client; replaced by one per line."""


def grow(sample: Path, out: Path, lines: int) -> None:
    """`sample`'s request lines repeated to `lines` lines; in a W3C sample, those of its last
    block, after its last `#Fields:` line, which is kept once at the top."""
    text = sample.read_text(encoding="utf-8").splitlines()
    last = max((i for i, line in enumerate(text) if line.startswith("#")), default=-1)
    head = text[last : last + 1]
    body = [line for line in text[last + 1 :] if line]
    with out.open("w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in head)
        for i in range(lines):
            f.write(body[i % len(body)].replace(CLIENT, f"198.51.{i // 256 % 256}.{i % 256}"))
            f.write("\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", nargs="*", metavar="FORMAT", help="formats to time")
    args = parser.parse_args()
    con = duckdb.connect()
    with tempfile.TemporaryDirectory(prefix="sg-formats-") as tmp:
        for sample in sorted(SAMPLES.glob("*.log")):
            log = Path(tmp) / sample.name
            grow(sample, log, args.lines)
            best = float("inf")
            for _ in range(args.repeat):
                start = time.perf_counter()
                report = load_events(con, [str(log)], max_malformed=1.0)
                best = min(best, time.perf_counter() - start)
                fmt = report.files[0].format or "?"
                if report.malformed > report.events or (args.only and fmt not in args.only):
                    break  # needs a flag (an nginx log_format of its own), or not asked for
            else:
                print(f"{fmt:<16} {sample.name:<26} {report.events:>9,} events "
                      f"{report.malformed:>7,} malformed  {best:6.2f} s", flush=True)


if __name__ == "__main__":
    main()
