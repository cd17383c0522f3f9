"""The canary secret and everything derived from it with HMAC.

One key, made at mint time, decides every canary's values and every actor's share of them.
Because each derivation is HMAC(key, label, input), a scraper who collects some canaries learns
nothing about the others or about who else was served them: without the key they are
indistinguishable from random draws out of the operator's ranges.
"""

from __future__ import annotations

import hmac
import math
import os
import secrets
import string
from collections import Counter
from collections.abc import Mapping
from itertools import pairwise

from scrapeguard.errors import ScrapeGuardError

KEY_ENV = "SCRAPEGUARD_CANARY_KEY"
"""Supplies the key instead of the db (then the db keeps only a check value, never the key)."""
MIN_KEY_BYTES = 16
MIN_TEXT_BITS = 96
"""A key given as text (not hex) must be drawn from an alphabet large enough, over enough
characters, for this many bits: `password12345678` has 83 at most; a `secrets.token_urlsafe(16)`
has over 100 even when chance left out a character class."""
_GENERATE = "e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
_CHECK_LABEL = b"scrapeguard canary key check"


class CanaryError(ScrapeGuardError):
    """A canary db, key, range or dump is unusable; the message says what to change."""


def new_key() -> bytes:
    """32 random bytes: the key minted into a fresh canary db."""
    return secrets.token_bytes(32)


def key_from_env() -> bytes | None:
    """The key in `SCRAPEGUARD_CANARY_KEY` (hex if it looks like hex, else its UTF-8 bytes)."""
    text = os.environ.get(KEY_ENV, "").strip()
    if not text:
        return None
    try:
        key = bytes.fromhex(text) if len(text) % 2 == 0 else text.encode()
    except ValueError:
        key = text.encode()
    if len(key) < MIN_KEY_BYTES:
        raise CanaryError(f"{KEY_ENV} is too short: use at least {MIN_KEY_BYTES} random bytes "
                          f"({_GENERATE})")
    weakness = key_weakness(key, text=not _is_hex(text))
    if weakness:
        raise CanaryError(f"{KEY_ENV} is not a random key ({weakness}): whoever guesses it "
                          f"can tell canaries from real records; use random bytes ({_GENERATE})")
    return key


def _is_hex(text: str) -> bool:
    return len(text) % 2 == 0 and all(c in string.hexdigits for c in text)


def key_weakness(key: bytes, *, text: bool = False) -> str | None:
    """Why a key is guessable, or None: repeats, a counting sequence, or (for a key typed as
    text) too little room in its alphabet for `MIN_TEXT_BITS`.

    The thresholds sit far from what random keys do: 16 random bytes have 15 or 16 distinct
    values (fewer than 10 about once in 10^5), and their steps are all different.
    """
    sample = key[:32]
    if len(set(sample)) < math.ceil(len(sample) * 5 / 8):
        return "too few distinct bytes" if len(set(key)) > 1 else "one byte repeated"
    steps = Counter((b - a) % 256 for a, b in pairwise(key))
    if steps and steps.most_common(1)[0][1] * 2 > len(key) - 1:
        return "a counting sequence"
    if text:
        alphabet = sum(size for chars, size in _CLASSES if any(chr(b) in chars for b in key))
        bits = len(key) * math.log2(max(alphabet, 2))
        if bits < MIN_TEXT_BITS:
            return f"text of {len(key)} characters holds at most {bits:.0f} bits"
    return None


_CLASSES = ((string.ascii_lowercase, 26), (string.ascii_uppercase, 26), (string.digits, 10),
            (string.punctuation, 32))


def key_check(key: bytes) -> str:
    """A value that tells whether a key is the db's key without revealing the key."""
    return hmac.digest(key, _CHECK_LABEL, "sha256")[:16].hex()


def derive(key: bytes, label: str, *parts: str | int | bytes) -> bytes:
    """HMAC-SHA256 of a label and parts, unambiguously joined (lengths are prefixed)."""
    message = bytearray(label.encode())
    for part in parts:
        if isinstance(part, int):
            data = part.to_bytes(8, "big", signed=False)
        elif isinstance(part, str):
            data = part.encode("utf-8")
        else:
            data = part
        message += len(data).to_bytes(4, "big") + data
    return hmac.digest(key, bytes(message), "sha256")


def derive_int(key: bytes, label: str, *parts: str | int | bytes) -> int:
    """The first 8 bytes of `derive` as an integer, for picking among up to 2^64 choices."""
    return int.from_bytes(derive(key, label, *parts)[:8], "big")


def actor_key(account: str | None = None, ip: str | None = None, fp: str | None = None) -> str:
    """The key canaries are assigned by: the account where there is one, else address+client.

    An account survives address changes, so a logged-in harvester keeps one canary set however
    many proxies it uses; without one, the address alone would give every user behind one NAT
    the same set, so the client fingerprint is added to tell them apart.
    """
    if account:
        return f"account:{account}"
    return f"ip:{ip or '?'}|fp:{fp or '?'}"


def actor_from_keys(keys: Mapping[str, str]) -> str:
    """The canary actor key from a verdict's keys (`Verdict.keys`: ip, fp, account, ...)."""
    return actor_key(keys.get("account"), keys.get("ip"), keys.get("fp"))


def group_keys(keys: Mapping[str, str], decided_by: str | None = None) -> tuple[str, ...]:
    """Keys a serving is also recorded under, so spread-out crawlers add up in `trace`.

    Without an account: the client fingerprint (`fp:…`), shared by a crawler's many
    addresses. And the campaign whose decision applied to the request, when one did.
    """
    groups = [] if keys.get("account") or not keys.get("fp") else [f"fp:{keys['fp']}"]
    if decided_by and decided_by.startswith("campaign:"):
        groups.append(decided_by)
    return tuple(groups)
