"""Time windows of one actor's serving history, and the share of the error budget each gets.

A leak is often a slice of a harvest (the first days of a crawl, one export among several).
With sets that grow with exposure, such a slice holds only the canaries served during it, a
small part of everything the actor was served; testing against the whole set would weigh the
evidence as if it could have come from any of them. So besides the whole set, `trace` tests
fixed windows of the actor's history: its served canaries in order of first serving, cut at
rank fractions [i/2^l, (i+2)/2^l) for levels l = 2..7 (halves down to 64ths, each
overlapping its neighbours by half, so any slice lies inside a window at most four times as
long).

Why this is still a bound on false accusations: an innocent actor's served canaries are a
uniformly random subset of the book and the order they were served in depends only on pages
and counts, never on which canary sits where (see `assign`). A window is cut on the actor's
serving times alone — it takes every canary first served within [t_lo, t_hi] — so its set is a
uniformly random subset of its size, independent of the dump, and the hypergeometric tail holds
for it as for the whole set. The windows are fixed before looking at the dump (they depend on
the actor's history only), and each (actor, window) hypothesis gets a weight w with all
weights of one actor summing to at most 1: naming when p x actors / w < threshold is the
weighted Bonferroni test, whose chance of naming any innocent actor is at most
sum over actors and windows of threshold x w / actors <= threshold.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

WHOLE = 0.5
"""The weight of the whole-history test; the rest is shared equally by the window levels."""
LEVELS = range(2, 8)
MIN_WINDOW = 8
"""Windows smaller than this many canaries are not tested (their weight is simply unused)."""


@dataclass(frozen=True)
class Window:
    """A span of an actor's history: first-serving times lo..hi (ms, inclusive), the canaries
    served in it (`size`), and the share of the error budget its test gets."""

    lo: int
    hi: int
    size: int
    weight: float


def level_weight(level: int) -> float:
    """Each level gets an equal part of what the whole-history test leaves, split equally
    among its 2^l - 1 windows."""
    return (1 - WHOLE) / len(LEVELS) / ((1 << level) - 1)


def windows(history: Sequence[int]) -> Iterator[Window]:
    """The fixed windows of a history (first-serving times, ascending), whole one first."""
    total = len(history)
    if not total:
        return
    yield Window(history[0], history[-1], total, WHOLE)
    for level in LEVELS:
        parts = 1 << level
        if 2 * total < MIN_WINDOW * parts:
            break
        weight = level_weight(level)
        for i in range(parts - 1):
            lo_rank = i * total // parts
            hi_rank = min(total, -(-(i + 2) * total // parts)) - 1
            lo, hi = history[lo_rank], history[hi_rank]
            size = bisect_right(history, hi) - bisect_left(history, lo)
            yield Window(lo, hi, size, weight)


def inside(times: Sequence[int], window: Window) -> int:
    """How many of `times` (ascending) fall in the window."""
    return bisect_right(times, window.hi) - bisect_left(times, window.lo)
