"""Drills: a simulated audience with harvesters in it, and leaks of their harvests traced back.

The drill serves list pages (20 records, canaries mixed in by the real `Injector`) to:
people who browse a few pages each, actors the engine flagged and decoyed (every record a
canary), other harvesters, and the harvester under test, `account:harvester7`. A leak is a
subsample of one harvester's distinct records, shuffled and reformatted (`harvest`), plus ten
times as many real-looking people, normalized, matched and attributed exactly as `trace` does.

For speed, the real-looking people come from a pool normalized and matched once each: since
matching looks each normalized value up on its own, the canaries a dump holds are the union of
what its records hold, so this is the same result as matching the dump's values together.
"""

from __future__ import annotations

import hashlib
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from scrapeguard.canary.assign import book_size_for
from scrapeguard.canary.book import CanaryBook
from scrapeguard.canary.harvest import canary_row, people
from scrapeguard.canary.inject import Injector
from scrapeguard.canary.match import CanaryIndex, Found
from scrapeguard.canary.mint import MintSpec, mint
from scrapeguard.canary.model import Canary
from scrapeguard.canary.normalize import Candidates
from scrapeguard.canary.ranges import IdSpace, PhoneRange
from scrapeguard.canary.trace import DEFAULT_THRESHOLD, Attribution, attribute

HARVESTER = "account:harvester7"
DRILL_RANGE = "+86 170 0000 0000-+86 170 0099 9999"
"""The drill's canary phones: a block of the 170 prefix (virtual operators), for a book that
is only ever served to the simulated audience."""
START = datetime(2026, 3, 2, tzinfo=UTC)
SIZES = (25, 50, 100, 200, 300, 400, 500, 600, 800, 1000, 1100, 1200, 1300, 1400, 1500, 2000,
         3000)


@dataclass(frozen=True)
class DrillSpec:
    """The simulated site and audience; the defaults are the published scenario."""

    people: int = 1000
    max_pages: int = 40
    decoyed: int = 10
    decoy_pages: int = 50
    harvesters: int = 20
    harvester_pages: int = 2000
    page_size: int = 20
    noise: int = 10
    pool: int = 4000
    seed: int = 7


@dataclass(frozen=True)
class SweepRow:
    size: int
    trials: int
    named: int
    false_names: int


def records(values: dict[str, str]) -> Candidates:
    """The normalized values of one dump row, its fields and the row as one line."""
    found = Candidates()
    for value in values.values():
        found.add(value)
    found.add(" ".join(values.values()))
    return found


def drill_book_size(spec: DrillSpec | None = None) -> int:
    """The drill's book, sized as `mint --exposure` would for its largest expected exposure:
    the harvester under test's crawl."""
    spec = spec or DrillSpec()
    return book_size_for(spec.harvester_pages * spec.page_size)


def scratch_book(directory: Path, count: int | None = None, locale: str = "zh_CN",
                 phone_range: str = DRILL_RANGE, seed: int = 7) -> CanaryBook:
    """A book for drills, minted with a key fixed by the seed so every run sees the same
    canaries, and an in-memory serving log."""
    count = count or drill_book_size()
    spec = MintSpec(count=count, locale=locale, ids=IdSpace.parse("900000000-999999999"),
                    phone_ranges=(PhoneRange.parse(phone_range, locale),))
    path = directory / f"drill-{seed}-{count}-{locale}.db"
    mint(path, spec, key=hashlib.sha256(f"scrapeguard drill {seed}".encode()).digest(),
         force=True)
    return CanaryBook(path, servings="memory://",
                      key=hashlib.sha256(f"scrapeguard drill {seed}".encode()).digest())


class Drill:
    """A populated serving log for one book (use a scratch book: the drill writes to it)."""

    def __init__(self, book: CanaryBook, spec: DrillSpec = DrillSpec()) -> None:
        self.book, self.spec = book, spec
        self.index = CanaryIndex(book)
        rng = random.Random(spec.seed)
        self.pool = people(book.locale, spec.pool, spec.seed)
        self.pool_hits = [frozenset(self.index.match(records(p.row(rng))).canaries)
                          for p in self.pool]
        self._hitting = [hits for hits in self.pool_hits if hits]
        ticks = itertools.count()
        self.injector = Injector(book, shape=lambda c: c,
                                 clock=lambda: START + timedelta(seconds=next(ticks)))
        self.harvests: dict[str, set[int]] = {}
        self.order: dict[str, list[int]] = {}
        """Each crawler's distinct records in the order it first received them."""
        self.campaigns: dict[str, tuple[str, ...]] = {}
        self._populate(rng)
        self._history = lru_cache(maxsize=None)(book.servings.timeline)
        """The log is complete once the audience is served: each history is read once."""

    def _crawl(self, actor: str, pages: Sequence[int], decoy: bool = False) -> set[int]:
        """Serve pages to an actor; its distinct records: site numbers, canaries as -(i+1)."""
        got: set[int] = set()
        order = self.order.setdefault(actor, [])
        groups = (actor.split("|")[1],) if "|fp:" in actor else ()
        size = self.spec.page_size
        for page in pages:
            items = list(range(page * size, (page + 1) * size))
            context = f"/api/reviews?page={page}"
            served = (self.injector.swap(items, actor, context, groups) if decoy
                      else self.injector.mix(items, actor, context, groups))
            for item in (-(x.index + 1) if isinstance(x, Canary) else x for x in served):
                if item not in got:
                    got.add(item)
                    order.append(item)
        return got

    def _populate(self, rng: random.Random) -> None:
        spec = self.spec
        for n in range(spec.people):
            actor = f"account:u{n}" if n % 2 else f"ip:198.51.{n // 250}.{n % 250}|fp:{n:016x}"
            self._crawl(actor, rng.sample(range(50_000), rng.randint(1, spec.max_pages)))
        for n in range(spec.decoyed):
            self._crawl(f"ip:203.0.113.{n}|fp:decoy", range(spec.decoy_pages), decoy=True)
        for n in range(spec.harvesters):
            key = f"account:crawler{n}"
            start = rng.randrange(50_000)
            self.harvests[key] = self._crawl(key, range(start, start + rng.randint(300, 3000)))
        self.harvests[HARVESTER] = self._crawl(HARVESTER, range(spec.harvester_pages))
        keys = tuple(f"ip:192.0.2.{n}|fp:cafe" for n in range(8))
        union: set[int] = set()
        for n, key in enumerate(keys):  # one crawler spread over eight addresses
            union |= self._crawl(key, range(60_000 + 250 * n, 60_000 + 250 * (n + 1)))
        self.harvests["campaign"] = union
        self.campaigns = {"campaign": (*keys, "fp:cafe")}

    def leak(self, source: str, n: int, rng: random.Random, noise: int | None = None,
             span: tuple[float, float] = (0.0, 1.0)) -> Found:
        """A dump: n of the source's distinct records, reformatted, among noise x n people.

        `span` takes them from a time slice of the harvest instead, as fractions of the crawl
        in the order it received them: (0.0, 0.1) is its first tenth.
        """
        if span == (0.0, 1.0):
            items = sorted(self.harvests[source])
        else:
            order = self.order[source]
            items = order[int(span[0] * len(order)):int(span[1] * len(order))]
        found, values = Found(), Candidates()
        for item in rng.sample(items, min(n, len(items))):
            if item < 0:
                values.update(records(canary_row(self.book.canary(-item - 1), rng)))
            else:
                self._noise(found, self.pool_hits[item % len(self.pool_hits)])
        picks = (self.spec.noise if noise is None else noise) * n
        # Only pool people who hold a canary value matter; each is in the noise when one of the
        # picks lands on it, which happens with this chance.
        chance = 1 - (1 - 1 / len(self.pool_hits)) ** picks
        for hits in self._hitting:
            if rng.random() < chance:
                self._noise(found, hits)
        return self.index.match(values, found)

    def rows(self, source: str, n: int, rng: random.Random, noise: int | None = None
             ) -> list[dict[str, str]]:
        """The same kind of dump as `leak`, as rows to write to files, shuffled."""
        items = sorted(self.harvests[source])
        out = [canary_row(self.book.canary(-item - 1), rng) if item < 0
               else self.pool[item % len(self.pool)].row(rng)
               for item in rng.sample(items, min(n, len(items)))]
        out += [self.pool[rng.randrange(len(self.pool))].row(rng)
                for _ in range((self.spec.noise if noise is None else noise) * n)]
        rng.shuffle(out)
        return out

    @staticmethod
    def _noise(found: Found, hits: frozenset[int]) -> None:
        for canary in hits:
            found.add(canary, "noise")

    def attribute(self, canaries: set[int], threshold: float = DEFAULT_THRESHOLD) -> Attribution:
        """`trace`'s attribution step on this drill's serving log."""
        log = self.book.servings
        served = log.served(canaries)
        actors = {a for by_actor in served.values() for a in by_actor}
        return attribute(canaries, served, log.served_counts(actors), self.book.size,
                         log.actor_count(), threshold, history=self._history)

    def keys_of(self, source: str) -> tuple[str, ...]:
        return self.campaigns.get(source, (source,))

    def sweep(self, sizes: Sequence[int] = SIZES, trials: int = 100,
              source: str = HARVESTER) -> list[SweepRow]:
        """Per dump size: in how many seeded trials the source (and only it) was named."""
        rows = []
        keys = set(self.keys_of(source))
        for size in sizes:
            named = false = 0
            for trial in range(trials):
                rng = random.Random(f"{self.spec.seed}:{source}:{size}:{trial}")
                who = {s.actor for s in self.attribute(self.leak(source, size, rng).canaries)
                       .named}
                named += bool(who & keys) and who <= keys
                false += len(who - keys)
            rows.append(SweepRow(size, trials, named, false))
        return rows


def smallest_reliable(rows: Sequence[SweepRow], share: float = 0.99) -> int | None:
    """The smallest size from which every larger size in the sweep succeeds `share` of the time."""
    best = None
    for row in sorted(rows, key=lambda r: r.size, reverse=True):
        if row.named < share * row.trials:
            break
        best = row.size
    return best


@dataclass(frozen=True)
class InnocentResult:
    dumps: int
    false_names: int
    named_sources: int
    """Dumps of a harvest in which its own harvester was named (right, not counted as false)."""
    rounds: int
    """Attribution rounds run in all: each could have named an innocent actor with probability
    at most the threshold, so rounds x threshold bounds the expected number of false names."""


def innocent_dumps(drill: Drill, count: int, seed: int = 11) -> InnocentResult:
    """`count` dumps in which no one but the source may be named: a third real-looking people
    only, a third other harvesters' harvests (naming anyone but that harvester is false), a
    third canaries drawn at random from the whole book (as if leaked by some other route)."""
    rng = random.Random(seed)
    sources = [s for s in drill.harvests if s != HARVESTER]
    false = right = rounds = 0
    for n in range(count):
        kind = n % 3
        if kind == 0:
            size = rng.randint(50, 2000)
            found = Found()
            for _ in range(size):
                Drill._noise(found, drill.pool_hits[rng.randrange(len(drill.pool_hits))])
            allowed: set[str] = set()
        elif kind == 1:
            source = rng.choice(sources)
            found = drill.leak(source, rng.randint(20, 1500), rng, noise=1)
            allowed = set(drill.keys_of(source))
        else:
            found = Found()
            for canary in rng.sample(range(drill.book.size), rng.randint(1, 400)):
                found.add(canary, "random")
            allowed = set()
        result = drill.attribute(found.canaries)
        named = {s.actor for s in result.named}
        false += len(named - allowed)
        right += bool(named & allowed)
        rounds += len(result.named) + 1
    return InnocentResult(count, false, right, rounds)
