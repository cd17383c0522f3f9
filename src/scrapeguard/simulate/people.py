"""Populations of people for the people scenarios: who they are, where from, when they come.

Shared by the scenarios that simulate people in a browser, so that shoppers, office workers
and phone users differ only in the parameters that make them different.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scrapeguard.simulate import pools
from scrapeguard.simulate.browse import Visits, entries
from scrapeguard.simulate.draws import I64, times
from scrapeguard.simulate.scenario import Context


@dataclass
class Crowd:
    """People, one entry each."""

    identity: list[str]
    ua: list[str]
    ip: list[str]
    second_ip: list[str]
    """Where they are on their other network (phone data, home vs. work)."""
    account: list[str | None]
    returning: np.ndarray
    strip_referer: np.ndarray


def crowd(ctx: Context, scenario: str, n: int, *, logged_in: float, returning: float = 0.6,
          in_app: float = 0.06, ips: Sequence[str] | None = None, ipv6: float = 0.2,
          vpn: float = 0.04, strip_referer: float = 0.05, agents: str = "browser",
          accounts: Sequence[str | None] | None = None) -> Crowd:
    """`n` people: agents by popularity, own addresses unless `ips` (a shared NAT pool) is
    given, in which case each person is behind one of them and roams to another."""
    rng = ctx.rng
    inapp = rng.random(n) < in_app
    browser = pools.draw(rng, agents, n)
    social = pools.draw(rng, "inapp", n)
    if ips is None:
        home, other = pools.mixed(rng, n, v6=ipv6, vpn=vpn), pools.mixed(rng, n, v6=ipv6, vpn=vpn)
    else:
        home = [ips[i] for i in rng.integers(0, len(ips), n)]
        other = [ips[i] for i in rng.integers(0, len(ips), n)]
    if accounts is None:
        accounts = ctx.logins(n, logged_in)
    return Crowd(
        identity=[f"{scenario}:{i}" for i in range(n)],
        ua=[social[i] if inapp[i] else browser[i] for i in range(n)],
        ip=home, second_ip=other,
        account=list(accounts),
        returning=rng.random(n) < returning,
        strip_referer=rng.random(n) < strip_referer,
    )


def visits(ctx: Context, people: Crowd, starts: I64, pages: I64, *, roam: float = 0.2,
           merchant: I64 | None = None, person: I64 | None = None) -> Visits:
    """Visits by these people at the given start times: everyone comes at least once (when
    there are enough visits), the rest at random; later visits find a warm cache."""
    rng = ctx.rng
    n, count = len(people.identity), len(starts)
    if person is None:
        person = np.where(np.arange(count) < n, np.arange(count), rng.integers(0, max(n, 1), count))
    order = np.lexsort((starts, person))
    first = np.ones(count, dtype=bool)
    first[order[1:]] = person[order[1:]] != person[order[:-1]]
    roaming = rng.random(count) < roam
    return Visits(
        start=starts, pages=pages,
        ip=[(people.second_ip if r else people.ip)[p]
            for p, r in zip(person, roaming, strict=True)],
        ua=[people.ua[p] for p in person],
        identity=[people.identity[p] for p in person],
        account=[people.account[p] for p in person],
        warm=people.returning[person] | ~first,
        entry=entries(rng, count),
        strip_referer=people.strip_referer[person],
        merchant=None if merchant is None else merchant[person],
    )


def starts(ctx: Context, per_day: float, rhythm: Sequence[int]) -> I64:
    """Visit start times for a daily rate under a rhythm."""
    return times(ctx.rng, ctx.count(per_day, rhythm), ctx.hours, rhythm)
