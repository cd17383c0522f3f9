"""The state a live engine keeps, behind one small interface picked by URI.

Every key and value a store receives names actors, clients and records only by keyed hash
(`stores.keys`), fixed in size, and every one comes with a time to live.

Recording an event is one call (`record`) carrying every update the event causes, so a
networked store can apply it in one atomic round trip; checking a request is one call
(`get_decisions`). Each backend module registers the URI schemes it serves.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from scrapeguard.errors import StoreError
from scrapeguard.features import SEQ_MEMORY_SECONDS

STORES: dict[str, type[Store]] = {}


@dataclass
class GroupUpdate:
    """One (rule group, actor, window) counter set and what this event adds to it."""

    key: str
    ttl: int
    sums: dict[str, int]
    distinct: list[tuple[str, str, int]]
    """(feature, hashed value, weight): weight counts once, when the value is new."""
    gap_ts: int | None = None
    tracked: tuple[str, ...] = ()
    """Every distinct feature the group counts, so its value comes back even when this
    event adds nothing to it."""
    campaign: str | None = None
    """`enum` or `thin`: applied only when the event's client is a member of that campaign
    link (see `EventUpdate`)."""


@dataclass
class EventUpdate:
    """Everything one event changes, applied in this order:

    1. `seq_key`/`seq_id`: was this lookup a step from the client's previous id (is the
       previous id's hash among `seq_near`)?
    2. `member_key`: the client's campaign evidence (steps + misses) over its lookups;
       `taint_key`/`thin_key`: whether a client without an account has only looked records up;
    3. every group (campaign groups only for members), `is_seq_step` added to their sums;
    4. `exposure`: lifetime distinct records per actor, for `subjects_before_action`.
    """

    ts_ms: int
    groups: list[GroupUpdate]
    seq_key: str | None = None
    seq_id: str | None = None
    """The looked-up id as keyed hash: stores never hold ids (phone numbers are ids)."""
    seq_near: list[str] = field(default_factory=list)
    """Keyed hashes of the ids within `seq_step` of it."""
    seq_step: int = 3
    seq_ttl: int = SEQ_MEMORY_SECONDS
    member_key: str | None = None
    is_miss: int = 0
    member_min: int = 3
    member_min_misses: int = 8
    member_ratio: float = 0.8
    member_ttl: int = 7200
    taint_key: str | None = None
    """A client's day (no account): set when it does anything but a direct lookup."""
    tainting: bool = False
    thin_key: str | None = None
    """That client's direct lookups on one route that day."""
    thin_min: int = 3
    """Lookups that make the client a member as of this one: fewer when this lookup is an
    arrival from outside (`Settings.thin_min_direct_lookups`)."""
    thin_ttl: int = 172800
    exposure: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    exposure_link: dict[str, str] = field(default_factory=dict)
    """Exposure counted only for members: actor → `enum` or `thin`."""
    exposure_ttl: int = 86400 * 30
    mark: tuple[str, int] | None = None
    """(key, position): set in the same atomic step as the counters, so a log follower that
    is killed knows exactly which of its events the store has counted (see `watch`)."""


@dataclass
class EventResult:
    """Counter values after the event, by group key, and lifetime exposure by actor."""

    is_seq_step: int
    member: bool
    thin: bool
    groups: dict[str, dict[str, float]]
    exposure_before: dict[str, int]
    requests: dict[str, int]


class Store(ABC):
    """Counters, distinct sets and decisions for the stream engine."""

    schemes: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register a store under the schemes it names itself: a subclass that inherits
        `schemes` (a test's or a plugin's wrapper around the memory store) must not take over
        `memory://` for every later `open_store`."""
        super().__init_subclass__(**kwargs)
        for scheme in cls.__dict__.get("schemes", ()):
            STORES[scheme] = cls

    @abstractmethod
    def record(self, update: EventUpdate) -> EventResult:
        """Apply one event's updates atomically and return the values after it."""

    def record_many(self, updates: list[EventUpdate]) -> list[EventResult]:
        """`record` for several events, in order. A networked store overrides it to send
        them in one round trip: per event, the wait on the network cost more than the
        counting (see docs/service.md, 'Cost')."""
        return [self.record(update) for update in updates]

    @abstractmethod
    def get_decisions(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """The decision records stored under these keys (missing keys left out)."""

    @abstractmethod
    def put_decision(self, key: str, record: dict[str, Any], ttl: int) -> None:
        """Store a decision record; the engine merges before it writes."""

    @abstractmethod
    def all_decisions(self) -> dict[str, dict[str, Any]]:
        """Every current decision, for listing and for the decisions file."""

    @abstractmethod
    def exposure(self, actors: list[str]) -> dict[str, tuple[int, int]]:
        """(requests, distinct records) each actor has sent and received so far, as counted
        by `EventUpdate.exposure` (actors with no count left out): what a decision reports
        as `requests` and `subjects`, which keep growing after the decision is made."""

    def get_mark(self, key: str) -> int | None:
        """The position last set through `EventUpdate.mark` under `key`, or None.

        A store that cannot keep marks cannot be followed into exactly once: it says so."""
        raise StoreError(f"{type(self).__name__} keeps no marks, so `watch` cannot resume "
                         f"into it exactly once")

    @property
    def get_decisions_async(
            self) -> Callable[[list[str]], Awaitable[dict[str, dict[str, Any]]]] | None:
        """`get_decisions` for an event loop, where the store has an asyncio client (a
        networked store); None where it has not, and a caller on a loop uses a thread."""
        return None

    async def close_async(self) -> None:  # noqa: B027 - optional hook
        """Release what `get_decisions_async` opened, on the loop that opened it."""

    def read_timeout(self, seconds: float) -> None:  # noqa: B027 - optional hook
        """Bound how long `get_decisions` may wait (a networked store; memory never waits)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
