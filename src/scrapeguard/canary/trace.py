"""Attribution: which actor received the canaries a dump holds, and how sure that is.

For every actor the serving log says received any canary found in the dump, m = how many of
the dump's K canaries it was served, out of the s it received from a book of N. An innocent
actor's s canaries are a random subset, so it reaches m or more with the hypergeometric tail
probability; multiplied by the number of actors that could have been named (Bonferroni), that
is the chance of accusing someone innocent. Given the actors' serving histories, the same test
also runs on fixed time windows of each history (`windows`), so a leak that is a slice of a
harvest is weighed against what was served in that slice; half the error budget goes to the
whole-history test and half to the windows (weighted Bonferroni, still a bound on accusing
anyone innocent). An actor is named only below the threshold (1e-6 by default). A dump merged
from several harvests names several actors: the strongest is named, the canaries it explains
are set aside, and the rest is tested again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from scrapeguard.canary.book import CanaryBook
from scrapeguard.canary.dumps import read_fields
from scrapeguard.canary.fields import DumpStats
from scrapeguard.canary.match import CanaryIndex, Found
from scrapeguard.canary.normalize import Candidates
from scrapeguard.canary.servings import Serving, from_ms, to_ms
from scrapeguard.canary.stats import bonferroni, hypergeom_sf
from scrapeguard.canary.windows import LEVELS, WHOLE, Window, inside, level_weight, windows

DEFAULT_THRESHOLD = 1e-6
MAX_ROUNDS = 20
WINDOWED = 50
"""Contenders whose histories are cut into windows per round: the ones with the best
whole-history evidence. Testing fewer windows than allowed only loses power, never validity."""
CHUNK = 200_000
"""Candidate values gathered before they are looked up, bounding memory on huge dumps."""


@dataclass(frozen=True)
class Suspect:
    """One actor as tested in one round: the evidence and the chance it is a coincidence."""

    actor: str
    matched: int
    served: int
    dump: int
    p_value: float
    p_corrected: float
    round: int
    first_served: datetime | None = None
    last_served: datetime | None = None
    tested: int = 0
    """Canaries in the part of the actor's history the named test used (`served` if whole)."""
    window_from: datetime | None = None
    window_to: datetime | None = None
    """The time window of the actor's history that test used; None for the whole history."""


@dataclass
class Attribution:
    """Who is named, the best of those who are not, and why the search stopped."""

    named: list[Suspect] = field(default_factory=list)
    unnamed: list[Suspect] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    family: int = 0
    threshold: float = DEFAULT_THRESHOLD
    unserved: int = 0


History = Callable[[str], Sequence[int]]
"""An actor's serving history: the first-serving time (ms) of each canary it was served."""


def attribute(found: Iterable[int], served: Mapping[int, Mapping[str, Serving]],
              counts: Mapping[str, int], universe: int, family: int,
              threshold: float = DEFAULT_THRESHOLD, max_rounds: int = MAX_ROUNDS,
              keep: int = 5, history: History | None = None) -> Attribution:
    """Name actors greedily; `served` covers the found canaries, `counts` gives each s.

    With `history`, time windows of each contender's history are tested too (see `windows`);
    without it, the whole set is the only test and gets the whole error budget.
    """
    remaining = set(found)
    family = max(family, 1)
    result = Attribution(family=family, threshold=threshold,
                         unserved=sum(1 for c in remaining if not served.get(c)))
    if not remaining:
        result.reasons.append("the dump holds no canary: there is nothing to attribute (it was "
                              "not taken after the canaries were planted, or not from here)")
        return result
    histories: dict[str, Sequence[int]] = {}
    for round_ in range(1, max_rounds + 1):
        if not remaining:
            result.reasons.append("every canary in the dump is explained by the actors named")
            break
        holders: dict[str, set[int]] = defaultdict(set)
        for canary in remaining:
            for actor in served.get(canary, ()):
                holders[actor].add(canary)
        if not holders:
            if round_ == 1:
                result.reasons.append(
                    f"{len(remaining)} canaries found, but the serving log has no record of "
                    "any of them being served: check --servings names the log the site writes "
                    "to (or the canary db itself leaked)")
            break
        dump = len(remaining)
        whole_weight = 1.0 if history is None else WHOLE
        ranked = sorted((_p(len(got), universe, dump, max(counts.get(actor, 0), len(got)))
                         / whole_weight, -len(got), actor)
                        for actor, got in _contenders(holders, counts, dump, universe))
        suspects = []
        for n, (p, _, actor) in enumerate(ranked):
            got = holders[actor]
            test: tuple[float, Window | None] = (p, None)
            if history is not None and n < WINDOWED and \
                    _could_pass(len(got), universe, dump, family, threshold):
                if actor not in histories:
                    histories[actor] = history(actor)
                test = min(test, _best_window(histories[actor], got, actor, served, universe,
                                              dump), key=lambda t: t[0])
            suspects.append(_suspect(actor, got, served, counts, dump, test, whole_weight,
                                     family, round_))
        suspects.sort(key=lambda s: (s.p_corrected, -s.matched, s.actor))
        suspects = suspects[:keep]
        best = suspects[0]
        if best.p_corrected >= threshold:
            result.unnamed = suspects[:keep]
            result.reasons.append(_refusal(best, family, threshold, first=round_ == 1))
            break
        result.named.append(best)
        remaining -= holders[best.actor]
    return result


def _could_pass(matched: int, universe: int, dump: int, family: int, threshold: float) -> bool:
    """Whether some window could name an actor with `matched` canaries of the dump: no window
    does better than one holding exactly the matched canaries, p = P(all m drawn are the
    dump's), at the largest window weight. Skipping the others saves time, not validity."""
    return bonferroni(_p(matched, universe, dump, matched) / level_weight(LEVELS[0]),
                      family) < threshold


def _best_window(history: Sequence[int], got: set[int],
                 actor: str, served: Mapping[int, Mapping[str, Serving]], universe: int,
                 dump: int) -> tuple[float, Window | None]:
    """The window with the smallest weighted p-value (p / weight), whole history included."""
    times = sorted(to_ms(served[c][actor].first) for c in got)
    best: tuple[float, Window | None] = (float("inf"), None)
    for window in windows(history):
        matched = inside(times, window)
        size = max(window.size, matched)
        if matched <= dump * size / universe:
            continue
        score = _p(matched, universe, dump, size) / window.weight
        if score < best[0]:
            best = (score, window)
    return best


def _contenders(holders: Mapping[str, set[int]], counts: Mapping[str, int], dump: int,
                universe: int) -> list[tuple[str, set[int]]]:
    """Actors that match more of the dump than an innocent one would on average.

    At or below that mean the tail probability is about a half or more, nowhere near any
    threshold, so computing it would change nothing; the best of them is kept so a refusal can
    still say who came closest.
    """
    above = [(a, got) for a, got in holders.items()
             if len(got) > dump * max(counts.get(a, 0), len(got)) / universe]
    if above:
        return above
    return [max(holders.items(), key=lambda kv: (len(kv[1]), -counts.get(kv[0], 0), kv[0]))]


_p = lru_cache(maxsize=1 << 16)(hypergeom_sf)
"""Many actors share an (m, s) pair in one round: most were served a handful of canaries."""


def _suspect(actor: str, got: set[int], served: Mapping[int, Mapping[str, Serving]],
             counts: Mapping[str, int], dump: int, test: tuple[float, Window | None],
             whole_weight: float, family: int, round_: int) -> Suspect:
    """`test`: the weighted p-value (p / weight) and the window it came from (None: the whole
    history, at `whole_weight`)."""
    s = max(counts.get(actor, 0), len(got))
    times = [served[c][actor] for c in got]
    score, window = test
    whole = window is None or window.size >= s
    if window is None:
        matched, tested, p = len(got), s, score * whole_weight
    else:
        tested = max(window.size, 1)
        matched = sum(1 for t in times if window.lo <= to_ms(t.first) <= window.hi)
        p = score * window.weight
    return Suspect(actor=actor, matched=matched, served=s, dump=dump, p_value=p,
                   p_corrected=bonferroni(score, family), round=round_,
                   first_served=min(t.first for t in times),
                   last_served=max(t.last for t in times), tested=tested,
                   window_from=None if whole or window is None else from_ms(window.lo),
                   window_to=None if whole or window is None else from_ms(window.hi))


def _refusal(best: Suspect, family: int, threshold: float, first: bool) -> str:
    who = "the best candidate" if first else "the next candidate"
    return (f"not naming {'anyone' if first else 'anyone else'}: {who}, {best.actor}, was "
            f"served {best.matched} of the {best.dump} canaries left in the dump (of "
            f"{best.tested} it received{' in its best time window' if best.window_from else ''}"
            f"); an innocent actor matches that well with probability "
            f"{best.p_corrected:.2g} (corrected for {family} actors), not below {threshold:g}")


@dataclass
class TraceReport:
    """Everything `scrapeguard trace` prints: what was read, found, and concluded."""

    dumps: list[DumpStats]
    universe: int
    found: Found
    attribution: Attribution


def scan(index: CanaryIndex, paths: Sequence[Path], fmt: str | None = None
         ) -> tuple[Found, list[DumpStats]]:
    """Read every dump and collect the canaries they hold (as one dump)."""
    found, stats_all = Found(), []
    for path in paths:
        stats, fields = read_fields(path, fmt)
        stats_all.append(stats)
        values = Candidates()
        for text in fields:
            values.add(text)
            if len(values) > CHUNK:
                index.match(values, found)
                values.clear()
        index.match(values, found)
    return found, stats_all


def trace(book: CanaryBook, paths: Sequence[Path], *, fmt: str | None = None,
          threshold: float = DEFAULT_THRESHOLD, max_rounds: int = MAX_ROUNDS) -> TraceReport:
    """Find the book's canaries in the dumps and attribute them through its serving log."""
    found, stats = scan(CanaryIndex(book), paths, fmt)
    served = book.servings.served(found.canaries)
    actors = {actor for by_actor in served.values() for actor in by_actor}
    result = attribute(found.canaries, served, book.servings.served_counts(actors), book.size,
                       book.servings.actor_count(), threshold, max_rounds,
                       history=book.servings.timeline)
    return TraceReport(dumps=stats, universe=book.size, found=found, attribution=result)
