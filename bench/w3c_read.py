"""Reading speed of the `w3c` format beside `combined`, on the same requests.

Writes one set of requests twice, as nginx combined lines and as IIS W3C lines (CRLF, the
default IIS fields plus `sc-bytes`), then times `load_events` on each, alternating, on one
DuckDB connection. The W3C reader carries the `#Fields:` line forward with a running window,
which DuckDB runs in file order: this says what that costs against combined's fast path.

    python bench/w3c_read.py                      # 300,000 lines, 2 runs of each
    python bench/w3c_read.py --lines 1000000 --repeat 3
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import duckdb

from scrapeguard.sources import load_events

UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36")
REF = "https://www.agency.example/records/search.aspx?q=smith"
FIELDS = ("date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
          "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes time-taken")


def write(folder: Path, lines: int) -> tuple[Path, Path]:
    """The same requests as a combined log and as an IIS log."""
    rng = random.Random(7)
    combined: list[str] = []
    iis = ["#Software: Microsoft Internet Information Services 10.0", "#Version: 1.0",
           "#Date: 2026-12-01 00:00:00", "#Fields: " + FIELDS]
    for i in range(lines):
        ip = f"198.51.{rng.randrange(256)}.{rng.randrange(256)}"
        s = i % 86400
        clock = f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"
        query = f"id={rng.randrange(10**6)}"
        combined.append(f'{ip} - - [01/Dec/2026:{clock} +0000] "GET /records/person.aspx?{query} '
                        f'HTTP/1.1" 200 5120 "{REF}" "{UA}"')
        iis.append(f"2026-12-01 {clock} 10.0.0.5 GET /records/person.aspx {query} 443 - {ip} "
                   f"{UA.replace(' ', '+')} {REF} 200 0 0 5120 31")
    (folder / "combined.log").write_text("\n".join(combined) + "\n")
    (folder / "u_ex261201.log").write_text("\r\n".join(iis) + "\r\n")
    return folder / "combined.log", folder / "u_ex261201.log"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sg-w3c-") as tmp:
        logs = write(Path(tmp), args.lines)
        con = duckdb.connect()
        for _ in range(args.repeat):
            for log in logs:
                start = time.perf_counter()
                report = load_events(con, [str(log)])
                took = time.perf_counter() - start
                print(f"{report.files[0].format:<9} {report.events:>10,} events  {took:6.2f} s")


if __name__ == "__main__":
    main()
