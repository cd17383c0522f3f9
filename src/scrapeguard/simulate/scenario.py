"""What a scenario is, and the registry that finds them.

A scenario is a frozen dataclass whose fields are its parameters and whose `generate` returns
the events of everyone it simulates. Each lives in its own module under `scenarios/` and
registers itself with `@register`, so adding one touches one file (and its test).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Literal, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from scrapeguard.errors import ScrapeGuardError
from scrapeguard.simulate import site
from scrapeguard.simulate.draws import FLAT, I64, Bools, count, stream, window_mass
from scrapeguard.simulate.frame import Frame
from scrapeguard.simulate.render import Rendered, render

Label = Literal["human", "goodbot", "scraper"]
LABELS: tuple[Label, ...] = ("human", "goodbot", "scraper")


class SimulationError(ScrapeGuardError):
    """Bad arguments to `simulate` (unknown scenario, empty window, too many accounts)."""


@dataclass
class AccountBook:
    """Who can log in: the site's live people in a fixed random order, handed out once each,
    so no account is ever shared by two identities of a run (a shared one would blur the
    truth that account-keyed detection is scored against)."""

    order: I64
    used: int = 0

    @classmethod
    def for_seed(cls, seed: int) -> AccountBook:
        ids = np.arange(1, site.PEOPLE + 1, dtype=np.int64)
        return cls(stream(seed, "accounts").permutation(ids[site.person_exists(ids)]))

    def take(self, n: int) -> I64:
        if self.used + n > len(self.order):
            raise SimulationError(
                f"the site has {len(self.order):,} people to log in; this run wants more "
                "(lower the scale or the hours)")
        self.used += n
        return self.order[self.used - n:self.used]


@dataclass
class Context:
    """What a scenario may draw on: its own generator, the window, the volume scale, and the
    site's outages (a fact of the site, not of any scenario)."""

    rng: np.random.Generator
    hours: float
    scale: float
    outages: tuple[tuple[int, int], ...] = ()
    book: AccountBook = field(default_factory=lambda: AccountBook.for_seed(0))

    def expected(self, per_day: float, rhythm: Sequence[int] = FLAT) -> float:
        """How many of something that happens `per_day` times fall in this run's window."""
        return per_day * self.scale * window_mass(self.hours, rhythm) / 24

    def count(self, per_day: float, rhythm: Sequence[int] = FLAT) -> int:
        return count(self.rng, self.expected(per_day, rhythm))

    def accounts(self, n: int) -> list[str]:
        """`n` accounts (`u_<person id>`) nobody else in this run uses."""
        return [f"u_{i}" for i in self.book.take(n)]

    def logins(self, n: int, share: float) -> list[str | None]:
        """For `n` identities, an own account for a `share` of them, None for the rest."""
        on = self.rng.random(n) < share
        names = iter(self.accounts(int(on.sum())))
        return [next(names) if logged else None for logged in on]

    def render(self, kind: npt.NDArray[np.integer], a: I64, b: I64 | None = None,
               cached: Bools | None = None, ts: I64 | None = None,
               method: pa.Array | None = None) -> Rendered:
        return render(self.rng, kind, a, b, cached, ts, self.outages, method)


class Scenario:
    """Base of every scenario; subclasses are frozen dataclasses of their parameters."""

    name: ClassVar[str]
    label: ClassVar[Label]
    default: ClassVar[bool] = True
    """In a run that names no scenarios. The day's catalogue is what `docs/results.md`
    records; a scenario added since runs when named (or with `all`) until that table is
    measured again with it, so a new actor never silently changes a recorded figure."""
    client: ClassVar[str | None] = None
    """The client stack its requests arrive with (`stacks.STACKS`: `own` for whatever its
    agents say they are, or a library's); None writes no `hdr` and `tls`."""

    def generate(self, ctx: Context) -> Frame:
        raise NotImplementedError


SCENARIOS: dict[str, type[Scenario]] = {}
"""Every registered scenario by name; `scenarios/` fills it on import."""


S = TypeVar("S", bound=type[Scenario])


def register(cls: S) -> S:
    """Class decorator: make a scenario available by its name."""
    if cls.label not in LABELS:
        raise ValueError(f"scenario {cls.name}: label must be one of {LABELS}")
    SCENARIOS[cls.name] = cls
    return cls
