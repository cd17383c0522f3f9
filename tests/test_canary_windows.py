"""Time windows of an actor's history: the error budget they share, and that it holds.

The bound `trace` names by (docs/canary.md, "The bound on naming anyone innocent") rests on
three facts tested here: an actor's window weights sum to at most 1; any slice of a history
lies in a window not much longer than it; and for an innocent actor, the best weighted
p-value over all its windows is still at most alpha with probability at most alpha.
"""

from __future__ import annotations

import random

import pytest

from scrapeguard.canary.stats import hypergeom_sf
from scrapeguard.canary.windows import LEVELS, MIN_WINDOW, WHOLE, inside, windows


@pytest.mark.parametrize("served", [0, 1, 7, 16, 64, 200, 1737, 20_000])
def test_an_actors_weights_sum_to_at_most_one(served: int) -> None:
    history = sorted(random.Random(served).choices(range(10**6), k=served))
    found = list(windows(history))
    assert sum(w.weight for w in found) <= 1 + 1e-12
    if served:
        assert found[0].weight == WHOLE
        assert found[0].size == served
    assert all(w.size >= 1 for w in found)


def test_any_slice_lies_in_a_window_at_most_four_times_as_long() -> None:
    history = list(range(0, 40_000, 10))  # 4,000 canaries, one served every 10 ms
    rng = random.Random(3)
    shortest = len(history) >> LEVELS[-1]
    for _ in range(300):
        length = rng.randint(max(shortest, MIN_WINDOW), len(history) // 2)
        start = rng.randrange(len(history) - length)
        lo, hi = history[start], history[start + length - 1]
        holding = [w for w in windows(history) if w.lo <= lo and hi <= w.hi]
        assert min(w.size for w in holding) <= 4 * length


def test_an_innocent_actor_passes_its_windows_no_more_often_than_the_budget() -> None:
    """Monte Carlo at a level that can be measured: an innocent actor's served set is a random
    subset, served in random order, and the dump is independent of it (here: a time slice of
    someone else's harvest, or scattered canaries). Taking the best p / weight over all its
    windows is what `trace` does; that must fall below alpha in at most about alpha of the
    trials, or the windows would be paying for their power with false names."""
    rng = random.Random(15)
    book, served, trials = 3000, 240, 3000
    below = {0.01: 0, 0.05: 0}
    for trial in range(trials):
        order = rng.sample(range(book), served)  # the innocent actor's canaries, in order
        times = {canary: 1000 * rank for rank, canary in enumerate(order)}
        history = sorted(times.values())
        if trial % 2:
            other = rng.sample(range(book), 600)
            start = rng.randrange(540)
            dump = set(other[start:start + 60])
        else:
            dump = set(rng.sample(range(book), 40))
        matched = sorted(times[c] for c in dump if c in times)
        best = 1.0
        for window in windows(history):
            hits = inside(matched, window)
            best = min(best, hypergeom_sf(hits, book, len(dump), window.size) / window.weight)
        for alpha in below:
            below[alpha] += best <= alpha
    for alpha, count in below.items():
        assert count <= alpha * trials, (alpha, count)


def test_a_slice_of_the_actors_own_history_is_found_in_a_window() -> None:
    """The power side: 30 canaries all from one tenth of a 2,000-canary history score far
    better in a window than against the whole history."""
    rng = random.Random(5)
    order = rng.sample(range(20_000), 2000)
    times = {canary: rank for rank, canary in enumerate(order)}
    history = sorted(times.values())
    dump = order[600:800][::7][:30]
    matched = sorted(times[c] for c in dump)
    whole = hypergeom_sf(30, 20_000, 30, 2000) / WHOLE
    best = min(hypergeom_sf(inside(matched, w), 20_000, 30, w.size) / w.weight
               for w in windows(history))
    assert best < whole * 1e-12
