"""Which canaries each actor gets: a keyed permutation of the book per actor.

Every actor key has its own pseudo-random ordering of all N canaries, derived from the secret.
The actor draws its canaries from that ordering a window at a time: window j is places
[j*w, (j+1)*w). Once a quarter of a window's worth of distinct canaries has been served from
it (`FILL`), the actor moves to the next window, so an actor's set grows with what it reads
and the share of canaries in any sample of its harvest stays near the injection rate (a set
fixed at its first k canaries would be met again and again by a harvester and fall to a
vanishing share of what it keeps). Which window an actor is in depends only on how many
distinct canaries the serving log says it was served: state per served canary, none per
record. A permutation (a small Feistel network with
cycle walking, keyed by HMAC(secret, actor); keyed BLAKE2b rounds) gives three things at once:

- any actor's i-th canary is computed directly, without deriving the ones before it;
- the inverse is as cheap, so "could this actor have been given canary c?" is one call, which
  is how `actors_for` re-derives assignments from the actors in the serving log;
- the places an actor is served depend on pages and counts, never on which canary sits at a
  place, so any actor's served set is a uniformly random subset of its size, independent of
  everyone else's: exactly the assumption the hypergeometric bound in `stats` rests on.
"""

from __future__ import annotations

import math
from functools import lru_cache
from hashlib import blake2b

from scrapeguard.canary.keys import derive, derive_int

ROUNDS = 8
"""Feistel rounds; four already make a pseudo-random permutation, eight leave a wide margin."""
FILL = 4
"""An actor moves to its next window after width/FILL distinct canaries from it: a page draws
from the window at random, so a quarter-full window still gives ~87% new canaries per draw,
and a reload within the window gets the same canaries (positions are keyed by page)."""
DEFAULT_RATE = 0.05
"""The injector's default share of a list that is canaries (see `inject.Injector`)."""
MAX_SHARE = 0.1
"""The book is sized so the most-exposed expected actor holds at most this share of it: the
evidence against an actor weakens as its set nears the whole book (see `book_size_for`)."""


class Permutation:
    """A keyed bijection on range(n): `forward(i)` is the i-th element, `inverse` its place."""

    def __init__(self, key: bytes, n: int) -> None:
        if n < 1:
            raise ValueError("a permutation needs at least one element")
        self.n = n
        bits = max(2, (n - 1).bit_length())
        self._half = (bits + 1) // 2
        self._mask = (1 << self._half) - 1
        self._keys = [derive(key, "feistel-round", r) for r in range(ROUNDS)]

    def _f(self, round_: int, value: int) -> int:
        # Keyed BLAKE2b: a PRF like HMAC, in one pass instead of two (this runs per round).
        digest = blake2b(value.to_bytes(8, "big"), key=self._keys[round_], digest_size=8)
        return int.from_bytes(digest.digest(), "big") & self._mask

    def _encrypt(self, x: int) -> int:
        left, right = x >> self._half, x & self._mask
        for r in range(ROUNDS):
            left, right = right, left ^ self._f(r, right)
        return (left << self._half) | right

    def _decrypt(self, y: int) -> int:
        left, right = y >> self._half, y & self._mask
        for r in reversed(range(ROUNDS)):
            left, right = right ^ self._f(r, left), left
        return (left << self._half) | right

    def forward(self, i: int) -> int:
        """The element at position i; walks the cycle until it lands inside range(n)."""
        if not 0 <= i < self.n:
            raise IndexError(i)
        x = self._encrypt(i)
        while x >= self.n:
            x = self._encrypt(x)
        return x

    def inverse(self, x: int) -> int:
        """The position of element x (the inverse of `forward`)."""
        if not 0 <= x < self.n:
            raise IndexError(x)
        i = self._decrypt(x)
        while i >= self.n:
            i = self._decrypt(i)
        return i


def book_size_for(exposure: int, rate: float = DEFAULT_RATE) -> int:
    """Canaries to mint for a site whose most-exposed actor receives `exposure` records.

    Such an actor is served about exposure x rate distinct canaries; for them to be at most
    MAX_SHARE of the book, N >= exposure x rate / MAX_SHARE (rounded up to a thousand). It then
    walks FILL x that many places of its ordering, 40% of the book: room for 2.5 times the
    expected exposure before its set stops growing.
    """
    if exposure < 1:
        raise ValueError("exposure must be at least one record")
    need = math.ceil(exposure * rate / MAX_SHARE)
    return max(1000, -(-need // 1000) * 1000)


class Assigner:
    """Canary assignment for one book: per-actor permutations, cached for recent actors;
    `width` is the window an actor draws from at a time."""

    def __init__(self, key: bytes, size: int, width: int | None = None) -> None:
        self._key = key
        self.size = size
        self.width = max(1, min(width or size, size))
        self.windows = -(-size // self.width)
        self._perm = lru_cache(maxsize=8192)(self._build)

    def window_for(self, served: int) -> int:
        """The window an actor draws from once it has been served `served` distinct canaries;
        past the last one it stays there (the book is exhausted for it: see `exhausted`)."""
        return min(served * FILL // self.width, self.windows - 1)

    def exhausted(self, served: int) -> bool:
        """Whether an actor with `served` distinct canaries would move past the last window."""
        return served * FILL // self.width >= self.windows

    def reach(self, served: int) -> int:
        """How many places of its ordering an actor with `served` canaries may have drawn."""
        return min(self.size, (self.window_for(served) + 1) * self.width)

    def _build(self, actor: str) -> Permutation:
        return Permutation(derive(self._key, "actor", actor), self.size)

    def sequence(self, actor: str, n: int) -> list[int]:
        """The canary indices of the actor's first n places (its set of n)."""
        perm = self._perm(actor)
        return [perm.forward(i) for i in range(min(n, self.size))]

    def position(self, actor: str, index: int) -> int:
        """Where canary `index` sits in the actor's ordering (0 = first)."""
        return self._perm(actor).inverse(index)

    def pick(self, actor: str, context: str, count: int, window: int = 0) -> list[int]:
        """`count` distinct canaries from the actor's window, the same for a context.

        The context (a page's path and query) keeps a page stable on reload within a window,
        as a real page is; different pages draw different members of the window.
        """
        start = max(0, min(window, self.windows - 1)) * self.width
        width = min(self.width, self.size - start)
        perm = self._perm(actor)
        chosen: list[int] = []
        attempt = 0
        while len(chosen) < min(count, width):
            place = start + derive_int(self._key, "pick", actor, context, window,
                                       attempt) % width
            attempt += 1
            index = perm.forward(place)
            if index not in chosen:
                chosen.append(index)
        return chosen
