"""Where `analyze` spends its time: seconds per pipeline stage and per table it writes.

    python bench/stages.py bench/out/access-1000000-seed1-numpy.log
    python bench/stages.py LOG --policy pack.yaml

Runs `analyze()` in this process with timers wrapped around its stages, the enrichment steps
and every table materialized into DuckDB (replay and held tables summed over their groups),
then prints each as seconds and as a share of the whole run. Shares overlap where one timed
step runs inside another (a table is written inside its stage). For a sampling profile of
the same run: `py-spy record -f raw -o out.txt -- python -m scrapeguard.cli analyze LOG`.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from scrapeguard import analysis
from scrapeguard.engines import batch, campaigns, decide, enrich, lookups, networks

SPENT: dict[str, float] = defaultdict(float)


def _timed(label: Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            SPENT[label(*args, **kwargs)] += time.perf_counter() - t0
    return run


def _table(_backend: Any, _table: Any, name: str) -> str:
    return "write " + re.sub(r"^_(replay|held)_.*", r"_\1 (all groups)", name)


def instrument() -> None:
    """Wrap the stages `analysis.analyze` calls and every materialization."""
    write = _timed(_table, lookups.materialize)
    for module in (lookups, batch, enrich, networks, campaigns):
        module.materialize = write  # type: ignore[attr-defined]
    # `analysis` imports the engine's stages when a log has events: wrapped where they live.
    for owner, name in ((analysis, "load_events"), (enrich, "enrich"),
                        (campaigns, "campaign_rows"), (batch, "evaluate"), (decide, "combine"),
                        (analysis, "_totals")):
        setattr(owner, name, _timed(lambda *a, n=name, **k: f"stage {n}", getattr(owner, name)))
    for module, name in ((enrich, "learn"), (enrich, "rewrite_events"),
                         (enrich, "explode_subjects"), (enrich, "_mark_seq_steps"),
                         (lookups, "agents"), (lookups, "verified_crawlers"),
                         (enrich, "address_table_of")):
        setattr(module, name, _timed(lambda *a, n=name, **k: f"  enrich: {n}",
                                     getattr(module, name)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("log", nargs="+", help="log file(s) to analyze")
    p.add_argument("--policy", default=None, help="rule pack (default: the shipped one)")
    args = p.parse_args(argv)
    instrument()
    t0 = time.perf_counter()
    result = analysis.analyze(args.log, policy=args.policy)
    total = time.perf_counter() - t0
    print(f"analyze: {total:.2f} s, {result.load.lines:,} lines,"
          f" {len(result.decisions)} decisions\n")
    print(f"{'seconds':>8} {'share':>6}  step")
    for name, seconds in sorted(SPENT.items(), key=lambda kv: -kv[1]):
        print(f"{seconds:8.2f} {100 * seconds / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
