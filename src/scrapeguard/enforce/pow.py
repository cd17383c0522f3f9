"""Proof of work and the pass it buys: HMAC-signed, bound to the actor, redeemable once.

A challenge hands the browser a signed *seed*; the browser finds a nonce such that
SHA-256(`seed:nonce`) starts with `bits` zero bits and posts it back. The server keeps nothing
per challenge until it is redeemed: the seed's signature says it was issued here, to this
actor (address and user agent), at this difficulty, and when. Redeeming marks the seed spent
in the shared storage, so one solution buys one pass, on whichever node it is posted to.

The pass (`sg_pass` cookie) is `expiry.signature` over the expiry and the actor: copied to
another address or browser it is worthless, and it expires on its own without server state.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from base64 import urlsafe_b64encode
from collections.abc import Callable
from enum import Enum

SEED_TTL = 600
"""Seconds a served challenge can be solved in."""
PASS_COOKIE = "sg_pass"
MAX_BITS = 32


class Refusal(Enum):
    """Why a solution or a pass was not accepted (logged, and told to the client)."""

    MALFORMED = "malformed"
    FORGED = "forged, or issued to another client"
    EXPIRED = "expired"
    UNSOLVED = "not solved"
    REPLAYED = "already used"
    UNAVAILABLE = "cannot be checked now"


def actor_tag(ip: str, ua: str | None) -> str:
    """The actor a seed or pass is bound to: address and user agent, hashed."""
    text = f"{ip}\x1f{ua or ''}".encode()
    return hashlib.sha256(text).hexdigest()[:32]


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def proof_holds(seed: str, nonce: str, bits: int) -> bool:
    """Whether SHA-256(`seed:nonce`) starts with at least `bits` zero bits."""
    digest = hashlib.sha256(f"{seed}:{nonce}".encode()).digest()
    return leading_zero_bits(digest) >= bits


def solve(seed: str, bits: int) -> str:
    """The first nonce that satisfies a seed: what the page's script does, for tests and tools."""
    nonce = 0
    while not proof_holds(seed, str(nonce), bits):
        nonce += 1
    return str(nonce)


def seed_bits(seed: str) -> int:
    """The difficulty a seed was issued with (0 when it cannot be read)."""
    head = seed.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


class Passes:
    """Issues seeds, redeems solutions for passes, and checks passes.

    `first_use(seed_id, ttl)` answers True the first time a seed is redeemed and False after;
    it may raise when its store is down, and `fail_open` then decides.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        pass_ttl: float,
        first_use: Callable[[str, int], bool],
        fail_open: bool = True,
    ) -> None:
        self._key = hmac.new(secret, b"scrapeguard challenge v1", hashlib.sha256).digest()
        self.pass_ttl = pass_ttl
        self._first_use = first_use
        self._fail_open = fail_open

    def _sign(self, text: str) -> str:
        mac = hmac.new(self._key, text.encode(), hashlib.sha256).digest()[:18]
        return urlsafe_b64encode(mac).decode()

    def seed(self, ip: str, ua: str | None, bits: int, now: float) -> str:
        """A fresh signed seed: `bits.issued.random.signature`."""
        body = f"{bits}.{int(now)}.{secrets.token_urlsafe(12)}"
        return f"{body}.{self._sign(f'seed|{body}|{actor_tag(ip, ua)}')}"

    def redeem(
        self, seed: str, nonce: str, ip: str, ua: str | None, now: float
    ) -> str | Refusal:
        """The pass cookie value for a correct, fresh, unspent solution, else why not."""
        parts = seed.split(".")
        if len(parts) != 4 or not (parts[0].isdigit() and parts[1].isdigit()):
            return Refusal.MALFORMED
        if len(nonce) > 32 or not nonce.isdigit():
            return Refusal.MALFORMED
        body, signature = ".".join(parts[:3]), parts[3]
        if not hmac.compare_digest(signature, self._sign(f"seed|{body}|{actor_tag(ip, ua)}")):
            return Refusal.FORGED
        issued = int(parts[1])
        if not issued - 5 <= now <= issued + SEED_TTL:
            return Refusal.EXPIRED
        if not proof_holds(seed, nonce, min(int(parts[0]), MAX_BITS)):
            return Refusal.UNSOLVED
        try:
            fresh = self._first_use(parts[2], SEED_TTL + 10)
        except Exception:
            if not self._fail_open:
                return Refusal.UNAVAILABLE
            fresh = True
        if not fresh:
            return Refusal.REPLAYED
        expiry = int(now + self.pass_ttl)
        return f"{expiry}.{self._sign(f'pass|{expiry}|{actor_tag(ip, ua)}')}"

    def check(self, token: str | None, ip: str, ua: str | None, now: float) -> Refusal | None:
        """None when a pass is valid for this actor now, else why not."""
        if not token:
            return Refusal.MALFORMED
        expiry, _, signature = token.partition(".")
        if not expiry.isdigit() or not signature:
            return Refusal.MALFORMED
        if not hmac.compare_digest(signature, self._sign(f"pass|{expiry}|{actor_tag(ip, ua)}")):
            return Refusal.FORGED
        if now >= int(expiry):
            return Refusal.EXPIRED
        return None
