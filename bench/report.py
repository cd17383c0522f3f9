"""Benchmark what the breach-impact report adds to `scrapeguard analyze` on one log.

    python bench/report.py                     # the 10M-line log of bench/analyze.py, 3 runs each
    python bench/report.py --lines 200000 --repeat 1

Runs `analyze LOG --decisions …` and `analyze LOG --decisions … --report r.html --report-json
r.json` alternately on the same log in the same run (so both see the same page cache and
machine load), takes the median wall time of each and prints their ratio. The target, at most
20% added, is printed beside the figure, not asserted. Exits 1 if a command fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from _common import Run, run_measured
from analyze import ensure_log, fmt_bytes, log_options, scrapeguard_cmd

TARGET_RATIO = 1.20


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = log_options(__doc__.split("\n")[0])
    args = p.parse_args(argv)
    args.regenerate = False
    args.no_numpy = False
    if args.lines < 10_000 or args.repeat < 1:
        p.error("--lines must be >= 10000 and --repeat >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log, _ = ensure_log(args)
    sg = scrapeguard_cmd(args)
    if sg is None:
        print("scrapeguard not found: pip install -e '.[report]'", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    lines = int(subprocess.run(["wc", "-l", str(log)], capture_output=True, text=True,
                               check=True).stdout.split()[0])  # also warms the page cache
    plain = [*sg, "analyze", str(log), "-q", "--decisions", str(args.out / "decisions-plain.jsonl")]
    report = [*sg, "analyze", str(log), "-q", "--decisions", str(args.out / "decisions.jsonl"),
              "--report", str(args.out / "report.html"),
              "--report-json", str(args.out / "report.json")]
    runs: dict[str, list[Run]] = {"analyze": [], "analyze + report": []}
    print(f"measuring {args.repeat} alternating run(s) of each on {log} ({lines:,} lines)")
    for i in range(args.repeat):
        for name, cmd in (("analyze", plain), ("analyze + report", report)):
            run = run_measured(cmd)
            runs[name].append(run)
            state = "ok" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
            print(f"  run {i + 1}/{args.repeat}  {name:<18} {run.wall_s:8.2f} s"
                  f"  {fmt_bytes(run.max_rss_kib * 1024):>9}  {state}", flush=True)
            if run.returncode != 0:
                print(run.stderr_tail, file=sys.stderr)
                return 1
    wall = {name: statistics.median(r.wall_s for r in rs) for name, rs in runs.items()}
    ratio = wall["analyze + report"] / wall["analyze"]
    added = wall["analyze + report"] - wall["analyze"]
    print(f"\nmedian wall: analyze {wall['analyze']:.2f} s, with report "
          f"{wall['analyze + report']:.2f} s: {added:+.2f} s, ratio {ratio:.3f}")
    met = ratio <= TARGET_RATIO
    print(f"target  report adds <= {TARGET_RATIO - 1:.0%}   {'met' if met else 'MISSED'}"
          f" ({ratio - 1:+.1%})")
    sizes = {p.name: p.stat().st_size for p in (args.out / "report.html", args.out / "report.json")}
    print("outputs: " + ", ".join(f"{n} {fmt_bytes(s)}" for n, s in sizes.items()))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "log": str(log), "lines": lines, "wall_s": wall, "ratio": round(ratio, 4),
            "target_ratio": TARGET_RATIO,
            "runs": {n: [round(r.wall_s, 3) for r in rs] for n, rs in runs.items()},
            "outputs_bytes": sizes}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
