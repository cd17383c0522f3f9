"""`python -m scrapeguard.simulate OUT_DIR [--seed N] [--hours H | --days D] [--scale S]`:
write a run and print its counts and speed (the CLI's `scrapeguard simulate` wraps the same
function)."""

from __future__ import annotations

import argparse
from pathlib import Path

from scrapeguard.simulate.run import simulate


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m scrapeguard.simulate")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    span = parser.add_mutually_exclusive_group()
    span.add_argument("--hours", type=float, default=24.0)
    span.add_argument("--days", type=int)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--scenario", action="append", dest="scenarios")
    args = parser.parse_args()
    hours = 24.0 * args.days if args.days is not None else args.hours
    report = simulate(args.out_dir, seed=args.seed, hours=hours, scale=args.scale,
                      scenarios=args.scenarios)
    print("\n".join(report.summary()))
    print(f"{report.events:,} events in {report.seconds:.2f} s: "
          f"{report.events_per_second:,.0f} events/s")


if __name__ == "__main__":
    main()
