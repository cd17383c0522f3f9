"""How likely an innocent actor is to look guilty: the hypergeometric tail, in the stdlib.

An innocent actor's canaries are a uniformly random s-subset of the N in the book (the keyed
permutation in `assign` makes them so), independent of what a leak contains. If the dump holds
K canaries, the number of them such an actor was also served is hypergeometric(N, K, s), so
P(X >= m) is the chance it matches at least as well as observed without being the source.
"""

from __future__ import annotations

import math


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def hypergeom_sf(m: int, total: int, drawn: int, marked: int) -> float:
    """P(X >= m) for X ~ hypergeometric: `marked` of `total` are the actor's, `drawn` found.

    Summed from m upward in log space with the ratio of successive terms, so a tail of 1e-300
    comes out right where the direct sum of huge binomials would be slow or underflow.
    """
    if min(total, drawn, marked) < 0 or drawn > total or marked > total:
        raise ValueError("need 0 <= drawn, marked <= total")
    low, high = max(0, drawn + marked - total), min(drawn, marked)
    if m <= low:
        return 1.0
    if m > high:
        return 0.0
    if m <= (drawn + 1) * (marked + 1) // (total + 2):  # at or below the mode: 1 - lower tail
        return max(0.0, 1.0 - _sum_down(m - 1, low, total, drawn, marked))
    term, acc = 1.0, 1.0
    for x in range(m, high):  # past the mode every term is smaller than the one before
        term *= (marked - x) * (drawn - x) / ((x + 1) * (total - marked - drawn + x + 1))
        acc += term
        if term < acc * 1e-17:
            break
    return min(1.0, math.exp(_log_pmf(m, total, drawn, marked)) * acc)


def _log_pmf(x: int, total: int, drawn: int, marked: int) -> float:
    return (_log_comb(marked, x) + _log_comb(total - marked, drawn - x)
            - _log_comb(total, drawn))


def _sum_down(top: int, low: int, total: int, drawn: int, marked: int) -> float:
    """P(low <= X <= top) for top at or below the mode, summed downward from top."""
    term, acc = 1.0, 1.0
    for x in range(top, low, -1):
        term *= x * (total - marked - drawn + x) / ((marked - x + 1) * (drawn - x + 1))
        acc += term
        if term < acc * 1e-17:
            break
    return math.exp(_log_pmf(top, total, drawn, marked)) * acc


def bonferroni(p: float, family: int) -> float:
    """p corrected for having looked at `family` actors: the chance any innocent one does it."""
    return min(1.0, p * max(1, family))
