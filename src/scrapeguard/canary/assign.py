"""Which canaries each actor gets: a keyed permutation of the book per actor.

Every actor key has its own pseudo-random ordering of all N canaries, derived from the secret;
the actor's set is the first k of that ordering. A permutation (a small Feistel network with
cycle walking, keyed by HMAC(secret, actor); keyed BLAKE2b rounds) gives three things at once:

- any actor's i-th canary is computed directly, without deriving the ones before it;
- the inverse is as cheap, so "could this actor have been given canary c?" is one call, which
  is how `actors_for` re-derives assignments from the actors in the serving log;
- each actor's set is a uniformly random k-subset, independent of everyone else's, which is
  exactly the assumption the hypergeometric false-attribution bound in `stats` rests on.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import blake2b

from scrapeguard.canary.keys import derive, derive_int

ROUNDS = 8
"""Feistel rounds; four already make a pseudo-random permutation, eight leave a wide margin."""


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


class Assigner:
    """Canary assignment for one book: per-actor permutations, cached for recent actors."""

    def __init__(self, key: bytes, size: int) -> None:
        self._key = key
        self.size = size
        self._perm = lru_cache(maxsize=8192)(self._build)

    def _build(self, actor: str) -> Permutation:
        return Permutation(derive(self._key, "actor", actor), self.size)

    def sequence(self, actor: str, n: int) -> list[int]:
        """The canary indices of the actor's first n places (its set of n)."""
        perm = self._perm(actor)
        return [perm.forward(i) for i in range(min(n, self.size))]

    def position(self, actor: str, index: int) -> int:
        """Where canary `index` sits in the actor's ordering (0 = first)."""
        return self._perm(actor).inverse(index)

    def pick(self, actor: str, context: str, count: int, within: int) -> list[int]:
        """`count` distinct canaries from the actor's first `within`, the same for a context.

        The context (a page's path and query) keeps a page stable on reload, as a real page is;
        different pages draw different members of the set.
        """
        within = min(within, self.size)
        perm = self._perm(actor)
        chosen: list[int] = []
        attempt = 0
        while len(chosen) < min(count, within):
            place = derive_int(self._key, "pick", actor, context, attempt) % within
            attempt += 1
            index = perm.forward(place)
            if index not in chosen:
                chosen.append(index)
        return chosen
