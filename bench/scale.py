"""Spark in local mode beside DuckDB on the same synthetic log: lines/s, and how time grows.

    python bench/scale.py                          # 1M and 10M lines, one run each
    python bench/scale.py --lines 100000 1000000   # smaller, for a quick look

Each size's log comes from `_common.generate_log` (the same bytes as `bench/analyze.py`'s for
the same seed), and each engine runs `scrapeguard analyze LOG --engine E --decisions ...` as
its own child process (wall time, peak memory from wait4). Printed per size: seconds,
lines/s and peak memory per engine, whether the two decision files are equal, and, from the
second size on, how much each engine's time grew against how much the log grew (1.0 is
linear). Spark's local mode on one machine pays a JVM, a scheduler and a stage per query:
these figures say how it scales, not where a cluster would overtake DuckDB, and no such
crossover is claimed from them (docs/scale.md).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

from _common import generate_log, run_measured

ENGINES = ("duckdb", "spark")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    p.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    p.add_argument("--spark-master", default="local[2]",
                   help="SCRAPEGUARD_SPARK_MASTER for the spark runs (default local[2]).")
    p.add_argument("--json", type=Path, help="Also write the figures here.")
    return p.parse_args(argv)


def ensure_log(out: Path, lines: int, seed: int) -> Path:
    log = out / f"access-{lines}-seed{seed}-numpy.log"
    if not log.is_file():
        out.mkdir(parents=True, exist_ok=True)
        print(f"generating {log} ...", flush=True)
        generate_log(log, lines, seed)
    return log


def analyze_cmd(log: Path, engine: str, decisions: Path) -> list[str]:
    code = "from scrapeguard.cli import app; app()"
    return [sys.executable, "-c", code, "analyze", str(log), "--quiet", "--engine", engine,
            "--decisions", str(decisions)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ["SCRAPEGUARD_SPARK_MASTER"] = args.spark_master
    results: list[dict[str, Any]] = []
    for lines in args.lines:
        log = ensure_log(args.out, lines, args.seed)
        row: dict[str, Any] = {"lines": lines}
        files = {}
        for engine in args.engines:
            files[engine] = args.out / f"scale-{lines}-{engine}.jsonl"
            run = run_measured(analyze_cmd(log, engine, files[engine]))
            ok = run.returncode == 0
            row[engine] = {"seconds": round(run.wall_s, 2), "ok": ok,
                           "lines_per_s": round(lines / run.wall_s) if ok else None,
                           "peak_rss_mib": round(run.max_rss_kib / 1024)}
            state = "ok" if ok else f"FAILED (exit {run.returncode})\n{run.stderr_tail}"
            print(f"{lines:>11,} lines  {engine:<7} {run.wall_s:9.1f} s "
                  f"{row[engine]['lines_per_s'] or 0:>10,} lines/s "
                  f"{row[engine]['peak_rss_mib']:>7,} MiB  {state}", flush=True)
        if all(row[e]["ok"] for e in args.engines) and len(args.engines) == 2:
            same = files["duckdb"].read_text() == files["spark"].read_text()
            row["same_decisions"] = same
            print(f"{'':>11}        decisions {'identical' if same else 'DIFFER'}", flush=True)
        results.append(row)
    for before, after in pairwise(results):
        grew = after["lines"] / before["lines"]
        for engine in args.engines:
            if before[engine]["ok"] and after[engine]["ok"]:
                ratio = after[engine]["seconds"] / before[engine]["seconds"]
                exponent = math.log(ratio) / math.log(grew)
                after[engine]["growth_exponent"] = round(exponent, 2)
                print(f"{before['lines']:,} -> {after['lines']:,} lines ({grew:g}x): {engine} "
                      f"time x{ratio:.2f} (t ~ n^{exponent:.2f})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(r[e]["ok"] for r in results for e in args.engines) else 1


if __name__ == "__main__":
    sys.exit(main())
