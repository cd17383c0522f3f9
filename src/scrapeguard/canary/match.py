"""Looking normalized dump values up among the canaries.

Phones match on their national digits, with whatever the dump kept of the country code in
front (`+86`, `0086`, `86`, a truncated `6`, a trunk `0`, or nothing); ids match exactly, as
the whole token or as the digit run inside a prefixed one (`uid:937465821`); review texts
match on their folded hash. A canary counts as found on any of those; a name alone never
counts (see `model.STRONG_FIELDS`) but is reported as corroboration.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from scrapeguard.canary.model import Canary
from scrapeguard.canary.normalize import MIN_RUN, Candidates, comment_key, fold


@dataclass
class Found:
    """Which canaries a dump holds and by which fields; `names` are name-only sightings."""

    strong: dict[int, set[str]] = field(default_factory=dict)
    names: set[int] = field(default_factory=set)

    def add(self, index: int, how: str) -> None:
        self.strong.setdefault(index, set()).add(how)

    def update(self, other: Found) -> None:
        for index, hows in other.strong.items():
            self.strong.setdefault(index, set()).update(hows)
        self.names |= other.names

    @property
    def canaries(self) -> set[int]:
        return set(self.strong)

    def by_field(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for hows in self.strong.values():
            for how in hows:
                counts[how] += 1
        counts["name"] = len(self.names & set(self.strong))
        counts["name_only"] = len(self.names - set(self.strong))
        return dict(counts)


def country_prefixes(cc: str) -> frozenset[str]:
    """What may stand before the national digits: nothing, a trunk 0, or (part of) 00<cc>."""
    if not cc:
        return frozenset({"", "0"})
    full = "00" + cc
    cut = {full[i:] for i in range(len(full) + 1)}
    return frozenset(cut | {"0", cc + "0", full + "0"})


class CanaryIndex:
    """The canaries' matchable values, built once per trace."""

    def __init__(self, canaries: Iterable[Canary]) -> None:
        self.size = 0
        self._phones: dict[int, dict[str, tuple[int, frozenset[str]]]] = defaultdict(dict)
        self._ids: dict[str, int] = {}
        self._runs: dict[str, int] = {}
        self._names: dict[str, list[int]] = defaultdict(list)
        self._comments: dict[str, int] = {}
        prefixes: dict[str, frozenset[str]] = {}
        ambiguous: set[str] = set()
        for canary in canaries:
            self.size += 1
            if canary.phone_nsn:
                allowed = prefixes.setdefault(canary.phone_cc, country_prefixes(canary.phone_cc))
                self._phones[len(canary.phone_nsn)][canary.phone_nsn] = (canary.index, allowed)
            self._ids[canary.id.casefold()] = canary.index
            runs = [r for r in re.findall(r"\d+", canary.id) if len(r) >= MIN_RUN]
            if len(runs) == 1:
                if runs[0] in self._runs:
                    ambiguous.add(runs[0])
                self._runs[runs[0]] = canary.index
            self._names[fold(canary.name)].append(canary.index)
            self._comments[comment_key(canary.comment)] = canary.index
        for run in ambiguous:
            del self._runs[run]
        self._lengths = sorted(self._phones)

    def match(self, values: Candidates, into: Found | None = None) -> Found:
        """Add every canary the values hold to `into` (a new `Found` by default)."""
        found = into if into is not None else Found()
        for digits in values.phones:
            for length in self._lengths:
                if len(digits) < length:
                    break
                hit = self._phones[length].get(digits[-length:])
                if hit is not None and digits[:-length] in hit[1]:
                    found.add(hit[0], "phone")
        for token in values.tokens:
            index = self._ids.get(token)
            if index is not None:
                found.add(index, "id")
        for run in values.runs:
            index = self._runs.get(run)
            if index is not None:
                found.add(index, "id")
        for key in values.comments:
            index = self._comments.get(key)
            if index is not None:
                found.add(index, "comment")
        for name in values.names:
            found.names.update(self._names.get(name, ()))
        return found
