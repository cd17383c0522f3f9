"""What `analyze` does on the real-log corpus, against the hand labels: a contributor's tool.

    PYTHONPATH=src python tests/corpus_report.py [LOG...] [--all]

For each log of tests/data/real/ (all of them by default): addresses and acted-on counts by
label (the table of docs/real-logs.md), how many decisions each rule made, the scanners and
harvesters not acted on (with --all: each with its label's evidence) and every person, app,
staff address or verified crawler acted on (always listed: the bar allows three per log).
The bar itself is `test_real_corpus.py::test_analyze_meets_the_bar_on_the_real_log`.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from realdata import LOGS
from scrapeguard.analysis import analyze
from test_real_corpus import MUST_ACT, MUST_SPARE, acted_on, labels, log_addresses, table


def report(name: str, every_miss: bool) -> None:
    """Print one log's table, rule counts, misses and wrongly acted-on addresses."""
    result = analyze([str(LOGS[name])])
    acted = acted_on(result, log_addresses(name))
    found = labels(name)
    print(table(name, acted))
    rules = Counter(rule for d in result.decisions if d.action != "allow"
                    for rule in d.rules or [])
    print(textwrap.fill(", ".join(f"{r} {n}" for r, n in rules.most_common()), width=78,
                        initial_indent="  decisions by rule: ", subsequent_indent="    "))
    missed = sorted(a for a, x in found.items() if x.label in MUST_ACT and a not in acted)
    wrong = sorted(a for a in acted if found[a].label in MUST_SPARE)
    print(f"  scanners and harvesters not acted on: {len(missed)}")
    for address in missed if every_miss else []:
        print(f"    {address} {found[address].label}: {found[address].evidence[:150]}")
    print(f"  people, apps, staff, verified crawlers acted on: {len(wrong)}")
    for address in wrong:
        print(f"    {address} {found[address].label}: {found[address].evidence[:150]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="*", metavar="LOG",
                        help=f"corpus logs (default: all): {', '.join(sorted(LOGS))}")
    parser.add_argument("--all", action="store_true", help="list every miss with its evidence")
    args = parser.parse_args()
    unknown = [name for name in args.logs if name not in LOGS]
    if unknown:
        parser.error(f"not a corpus log: {', '.join(unknown)}")
    for name in args.logs or sorted(LOGS):
        report(name, args.all)


if __name__ == "__main__":
    main()
