"""Deterministic draws shared by the site and the scenarios.

Two kinds of randomness live here. *Facts about the site* (does profile 4411 exist, who wrote
the reviews on page 3 of product 17, whose phone number is this) must be the same whoever asks
and whenever, so they are pure hashes of the ids (`mix64`), never draws from a generator.
*Behaviour* (when someone clicks, what they click) comes from a `numpy.random.Generator`
seeded per scenario, so adding a scenario never changes another one's traffic.

Everything works on whole columns: a day of traffic is millions of rows, and a Python loop per
row would cost minutes where a numpy pass costs milliseconds.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

_GOLDEN = 0x9E3779B97F4A7C15
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK = (1 << 64) - 1

EVENING = (2, 1, 1, 1, 1, 2, 4, 6, 8, 9, 9, 10, 11, 10, 9, 9, 10, 11, 13, 16, 19, 20, 16, 8)
"""People's activity by clock hour (UTC is the site's local time): a trough before dawn, a
lunch bump and an evening peak."""

WORKDAY = (0, 0, 0, 0, 0, 0, 0, 1, 6, 10, 10, 10, 6, 9, 10, 10, 9, 7, 3, 1, 1, 0, 0, 0)
"""Office hours with a lunch dip: merchants' back-office work, office networks."""

FLAT = (1,) * 24
"""Machines that do not sleep."""

WORKWEEK = WORKDAY * 5 + (0,) * 48
"""Office hours on working days, nothing at the weekend: the run starts on a Monday, and a
rhythm of 168 hours repeats weekly where one of 24 repeats daily."""


def stream(seed: int, name: str) -> np.random.Generator:
    """The generator for one named part of a run: a fixed function of the seed and the name."""
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(name.encode())]))


def mix64(x: npt.ArrayLike, salt: int) -> U64:
    """splitmix64's finaliser over an id column: a fixed pseudo-random 64-bit value per id."""
    z = np.asarray(x).astype(np.uint64) + np.uint64((salt * _GOLDEN) & _MASK)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def mix64_one(x: int, salt: int) -> int:
    """`mix64` of one id in plain integers: walks that choose step by step call it thousands
    of times, where a numpy call per step costs more than the hash."""
    z = (x + salt * _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def unit(x: npt.ArrayLike, salt: int) -> F64:
    """A fixed uniform [0, 1) value per id."""
    return (mix64(x, salt) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def below(x: npt.ArrayLike, salt: int, n: int) -> I64:
    """A fixed integer in [0, n) per id."""
    return (mix64(x, salt) % np.uint64(n)).astype(np.int64)


def count(rng: np.random.Generator, expected: float) -> int:
    """A Poisson count around an expectation, so volumes scale smoothly with `scale`."""
    return int(rng.poisson(max(expected, 0.0)))


def active_days(rhythm: Sequence[int]) -> int:
    """Days of a rhythm with any activity: 1 for a daily one, 5 for `WORKWEEK`."""
    return sum(1 for d in range(0, len(rhythm), 24) if any(rhythm[d:d + 24]))


def window_mass(hours: float, rhythm: Sequence[int]) -> float:
    """How many 'average hours' of an active day a window holds under a rhythm (daily, or
    weekly of 168 hours): a rate per day of a weekly rhythm is per *active* day, so a working
    week at 100 a day makes 500 and a Monday 100, as under the daily rhythm it extends."""
    mean = sum(rhythm) / (24 * max(active_days(rhythm), 1))
    whole, part = divmod(hours, 1.0)
    period = len(rhythm)
    mass = (sum(rhythm[h % period] for h in range(int(whole)))
            + part * rhythm[int(whole) % period])
    return float(mass / mean) if mean else 0.0


def times(rng: np.random.Generator, n: int, hours: float, rhythm: Sequence[int]) -> I64:
    """`n` instants (ms from the start) in [0, hours), dense where the rhythm (daily or
    weekly) is high."""
    slots = int(np.ceil(hours))
    weights = np.array([rhythm[h % len(rhythm)] for h in range(slots)], dtype=np.float64)
    weights[-1] *= hours - (slots - 1)
    if n == 0 or weights.sum() == 0:
        return np.zeros(0, dtype=np.int64)
    slot = rng.choice(slots, size=n, p=weights / weights.sum())
    width = np.minimum(1.0, hours - slot)
    out: I64 = ((slot + rng.random(n) * width) * HOUR_MS).astype(np.int64)
    return out


def segments(lengths: npt.NDArray[np.integer]) -> tuple[I64, I64]:
    """For groups of given lengths laid end to end: each row's group and its position in it."""
    lengths = np.asarray(lengths, dtype=np.int64)
    group = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    starts = np.cumsum(lengths) - lengths
    return group, np.arange(int(lengths.sum()), dtype=np.int64) - starts[group]


def group_cumsum(values: F64, group: I64) -> F64:
    """Running sum of `values` restarting at each new group (rows sorted by group)."""
    total = np.cumsum(values)
    first = np.r_[True, group[1:] != group[:-1]]
    base = np.maximum.accumulate(np.where(first, np.arange(len(values)), 0))
    return total - total[base] + values[base]


def forward_fill(values: I64, keep: Bools) -> I64:
    """Where `keep` is true, repeat the last value whose `keep` was false."""
    index = np.maximum.accumulate(np.where(keep, 0, np.arange(len(values))))
    return values[index]
