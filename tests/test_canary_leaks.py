"""Simulated leaks traced back: who is named, from how small a dump, and no one falsely.

The drill (see `scrapeguard.canary.drill`) serves a 10,000-canary book to 1,000 people, 10
decoyed actors, 20 other crawlers, a crawler spread over 8 addresses, and the harvester under
test, `account:harvester7`, which reads 2,000 list pages (40,000 records). Leaks are subsamples
of one harvest, shuffled and reformatted, among ten times as many other people.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from scrapeguard.canary.drill import HARVESTER, START, innocent_dumps, smallest_reliable
from scrapeguard.canary.match import Found
from test_canary_support import drill

DOCS = Path(__file__).parent.parent / "docs" / "canary.md"


def test_the_published_smallest_reliable_leak() -> None:
    """The sweep behind docs/canary.md: 100 seeded leaks per size; 99% must name the harvester
    (and nobody else) from the published size up. The docs quote this number; it must hold."""
    rows = drill().sweep(trials=100)
    assert sum(row.false_names for row in rows) == 0
    assert rows[-1].named == rows[-1].trials
    measured = smallest_reliable(rows)
    published = re.search(r"<!-- smallest-reliable -->\*\*([\d,]+) records\*\*", DOCS.read_text())
    assert published, "docs/canary.md lost its published number"
    assert measured == int(published.group(1).replace(",", "")), [
        (r.size, r.named) for r in rows]


def test_ten_thousand_innocent_dumps_name_no_one() -> None:
    """At p < 1e-6, Bonferroni-corrected over every actor in the log, each round of attribution
    names an innocent actor with probability at most 1e-6, so the expected number of false
    names is at most (rounds run) x 1e-6. The 10,000 dumps run under 15,000 rounds (one, plus
    one per key of their own harvester named): expected false names < 0.015, and even one
    would be a 1-in-65 event. Kinds: real-looking people only; other actors' harvests (naming
    their own harvester is right, anyone else is false); canaries drawn at random from the
    whole book (as if leaked some other way)."""
    result = innocent_dumps(drill(), 10_000)
    assert result.dumps == 10_000
    assert result.rounds * 1e-6 < 0.015
    assert result.false_names == 0
    assert result.named_sources > 1000  # the harvest dumps do name their own harvesters


def test_a_crawler_spread_over_addresses_is_named_by_its_fingerprint() -> None:
    (row,) = drill().sweep(sizes=(1000,), trials=50, source="campaign")
    assert row.false_names == 0
    assert row.named >= 49
    named = drill().attribute(drill().leak("campaign", 1000, random.Random(1)).canaries).named
    assert named[0].actor == "fp:cafe"


def test_a_merged_dump_names_every_harvester_in_it() -> None:
    crawler = max((k for k in drill().harvests if k.startswith("account:crawler")),
                  key=lambda k: len(drill().harvests[k]))
    rng = random.Random(3)
    merged = Found()
    merged.update(drill().leak(HARVESTER, 3000, rng))
    merged.update(drill().leak(crawler, 3000, rng))
    result = drill().attribute(merged.canaries)
    assert {s.actor for s in result.named} == {HARVESTER, crawler}
    assert [s.round for s in result.named] == [1, 2]
    assert result.reasons == ["every canary in the dump is explained by the actors named"]


def test_a_small_leak_names_no_one_and_says_why() -> None:
    result = drill().attribute(drill().leak(HARVESTER, 60, random.Random(4)).canaries)
    assert not result.named
    (reason,) = result.reasons
    assert reason.startswith("not naming anyone: the best candidate")
    assert "corrected for" in reason


def test_when_the_records_were_served() -> None:
    result = drill().attribute(drill().leak(HARVESTER, 3000, random.Random(5)).canaries)
    (named,) = result.named
    assert named.first_served is not None
    assert named.last_served is not None
    assert START <= named.first_served < named.last_served
