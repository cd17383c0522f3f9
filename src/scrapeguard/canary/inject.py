"""The injector: puts an actor's canaries into what the app serves, and records each serving.

It knows nothing of ASGI or WSGI: it takes a list of records (reviews, search results) and an
actor key, and returns the list with a few of the actor's canaries mixed in, shaped like the
app's own records. The adapters in `asgi` and `wsgi` call it from the middleware's hooks.
Which canaries, and where in the list, depend only on the key, the actor and the page, so a
page reloads the same and nothing about it stands out from the records around it.

Decoy responses (the `decoy` action, for actors the engine judges to be harvesting) swap every
record for a canary from the actor's current window: the harvester keeps collecting, and
everything it collects is evidence. Every serving moves the actor along its ordering (see
`assign`), so the more it reads, the more distinct canaries it holds.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from scrapeguard.canary.book import CanaryBook
from scrapeguard.canary.keys import CanaryError, derive_int
from scrapeguard.canary.model import Canary

Shape = Callable[[Canary], Any] | Mapping[str, str]
"""How a canary looks in the app's responses: a function of the canary, or a mapping of the
app's field names to canary attributes (`{"uid": "id", "nick": "name", "mobile": "phone"}`)."""
log = logging.getLogger("scrapeguard.canary")

MAX_BODY = 8 << 20
"""Responses larger than this pass untouched rather than being held in memory."""
_ATTRIBUTES = frozenset({"id", "name", "phone", "phone_e164", "phone_nsn", "comment"})


def route(pattern: str) -> re.Pattern[str]:
    """`/user/{id}` → a regex with one named group per placeholder."""
    parts = re.split(r"\{(\w+)\}", pattern)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>[^/]+)"
                    for i, p in enumerate(parts))
    return re.compile(f"^{regex}$")


def find_list(body: Any, key: str | None) -> list[Any] | None:
    """The list of records in a JSON body: the top level, or under a dotted key."""
    node = body
    for part in key.split(".") if key else ():
        node = node.get(part) if isinstance(node, dict) else None
    return node if isinstance(node, list) else None


def dump_json(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _shaper(shape: Shape | None) -> Callable[[Canary], Any]:
    if shape is None:
        return Canary.record
    if callable(shape):
        return shape
    unknown = set(shape.values()) - _ATTRIBUTES
    if unknown:
        raise CanaryError(f"shape maps to unknown canary fields {sorted(unknown)}; "
                          f"use {sorted(_ATTRIBUTES)}")
    fields = dict(shape)
    return lambda canary: {name: getattr(canary, attr) for name, attr in fields.items()}


class Injector:
    """Mixes canaries into lists for one book.

    `rate` is the share of a list that is canaries (at least one per list of `min_items` or
    more); `id_field` names the record's id in the app's shape, kept from the real record when
    a decoy profile stands in for it; `clock` stamps servings (tests compress time with it).
    """

    def __init__(self, book: CanaryBook, *, shape: Shape | None = None, rate: float = 0.05,
                 min_items: int = 3, id_field: str | None = "id",
                 clock: Callable[[], datetime] | None = None) -> None:
        if not 0 < rate <= 1:
            raise CanaryError(f"rate must be in (0, 1], not {rate!r}")
        self.book = book
        self.shape = _shaper(shape)
        self.rate = rate
        self.min_items = max(1, min_items)
        self.id_field = id_field
        self.clock = clock or (lambda: datetime.now(UTC))
        self._down = False

    def _serve(self, actor: str, context: str, count: int,
               groups: Sequence[str]) -> list[Canary]:
        picks = self.book.assigner.pick(actor, context, count, self.book.window(actor))
        canaries = [self.book.canary(i) for i in picks]
        self.book.record(actor, canaries, self.clock(), groups)
        return canaries

    def mix(self, items: Sequence[Any], actor: str, context: str,
            groups: Sequence[str] = ()) -> list[Any]:
        """The list with the actor's canaries for this page inserted at keyed positions.

        `groups`: further keys the serving is recorded under (see `CanaryBook.record`). If the
        serving log cannot be written, the list goes out as it is: an unrecorded canary proves
        nothing, and the page should not fail for it.
        """
        out = list(items)
        if len(out) < self.min_items:
            return out
        count = max(1, round(len(out) * self.rate))
        try:
            canaries = self._serve(actor, context, count, groups)
        except Exception as exc:
            if not self._down:  # one line per outage, not one per page
                log.warning("canary serving log unavailable (%s); serving lists without "
                            "canaries until it is back", exc)
            self._down = True
            return out
        if self._down:
            self._down = False
            log.warning("canary serving log available again")
        for n, canary in enumerate(canaries):
            slot = derive_int(self.book.key, "slot", actor, context, n) % (len(out) + 1)
            out.insert(slot, self.shape(canary))
        return out

    def swap(self, items: Sequence[Any], actor: str, context: str,
             groups: Sequence[str] = ()) -> list[Any]:
        """A decoy list: as long as the real one, every record a canary.

        Decoys and canary profiles do not fall back: if the serving log is down they raise
        (the request fails), since the alternative is real records for a suspected harvester.
        """
        canaries = self._serve(actor, context, len(items), groups)
        return [self.shape(c) for c in canaries]

    def swap_one(self, record: Any, actor: str, context: str, groups: Sequence[str] = ()) -> Any:
        """A decoy profile: a canary in place of the real person, under the id that was asked
        for, so an enumerator sees the answer it expects."""
        (canary,) = self._serve(actor, context, 1, groups)
        fake = self.shape(canary)
        key = self.id_field
        if key and isinstance(record, dict) and isinstance(fake, dict) and key in record:
            fake[key] = record[key]
        return fake

    def profile(self, canary_id: str, actor: str, groups: Sequence[str] = ()) -> Any | None:
        """A canary's profile for an actor it was served to (recorded again); else None."""
        canary = self.book.resolve(canary_id, actor)
        if canary is None:
            return None
        self.book.record(actor, [canary], self.clock(), groups)
        return self.shape(canary)
