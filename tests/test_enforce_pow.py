"""Proof of work and passes: seeds bound to the actor, passes that cannot be forged or reused."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scrapeguard.enforce.actions.challenge import difficulty
from scrapeguard.enforce.page import challenge_page, safe_next
from scrapeguard.enforce.pow import (
    SEED_TTL,
    Passes,
    Refusal,
    leading_zero_bits,
    proof_holds,
    seed_bits,
    solve,
)

IP, UA, NOW = "203.0.113.7", "Mozilla/5.0", 1_700_000_000.0


def passes(ttl: float = 3600, secret: bytes = b"k" * 32) -> Passes:
    spent: set[str] = set()

    def first_use(seed_id: str, ttl: int) -> bool:
        fresh = seed_id not in spent
        spent.add(seed_id)
        return fresh

    return Passes(secret, pass_ttl=ttl, first_use=first_use)


def solved(book: Passes, bits: int = 6, ip: str = IP, ua: str = UA) -> tuple[str, str]:
    seed = book.seed(ip, ua, bits, NOW)
    return seed, solve(seed, bits)


def test_a_solution_buys_a_pass_for_that_actor_only() -> None:
    book = passes()
    seed, nonce = solved(book)
    token = book.redeem(seed, nonce, IP, UA, NOW + 2)
    assert isinstance(token, str)
    assert book.check(token, IP, UA, NOW + 10) is None
    assert book.check(token, "198.51.100.1", UA, NOW + 10) is Refusal.FORGED
    assert book.check(token, IP, "curl/8.0", NOW + 10) is Refusal.FORGED


def test_a_pass_expires() -> None:
    book = passes(ttl=60)
    token = book.redeem(*solved(book), IP, UA, NOW)
    assert isinstance(token, str)
    assert book.check(token, IP, UA, NOW + 59) is None
    assert book.check(token, IP, UA, NOW + 60) is Refusal.EXPIRED


def test_forged_passes_are_refused() -> None:
    book = passes()
    token = book.redeem(*solved(book), IP, UA, NOW)
    assert isinstance(token, str)
    expiry, signature = token.split(".", 1)
    later = f"{int(expiry) + 86400}.{signature}"
    assert book.check(later, IP, UA, NOW) is Refusal.FORGED
    assert book.check(token, IP, UA, NOW) is None
    other = passes(secret=b"another key").redeem(*solved(passes(secret=b"another key")),
                                                  IP, UA, NOW)
    assert isinstance(other, str)
    assert book.check(other, IP, UA, NOW) is Refusal.FORGED
    for junk in ("", "abc", "123.", ".sig", None):
        assert book.check(junk, IP, UA, NOW) is Refusal.MALFORMED


def test_a_solution_is_redeemed_once() -> None:
    book = passes()
    seed, nonce = solved(book)
    assert isinstance(book.redeem(seed, nonce, IP, UA, NOW), str)
    assert book.redeem(seed, nonce, IP, UA, NOW + 1) is Refusal.REPLAYED


def test_bad_solutions_are_refused() -> None:
    book = passes()
    seed, nonce = solved(book, bits=10)
    wrong = next(str(n) for n in range(10_000) if not proof_holds(seed, str(n), 10))
    assert book.redeem(seed, wrong, IP, UA, NOW) is Refusal.UNSOLVED
    assert book.redeem(seed, nonce, "198.51.100.1", UA, NOW) is Refusal.FORGED
    assert book.redeem(seed, nonce, IP, UA, NOW + SEED_TTL + 1) is Refusal.EXPIRED
    easier = "0" + seed[seed.index("."):]  # ask for 0 bits without re-signing
    assert book.redeem(easier, "0", IP, UA, NOW) is Refusal.FORGED
    assert book.redeem("not a seed", nonce, IP, UA, NOW) is Refusal.MALFORMED
    assert book.redeem(seed, "1e9", IP, UA, NOW) is Refusal.MALFORMED


def test_redeeming_fails_open_or_closed_when_the_store_is_down() -> None:
    def down(seed_id: str, ttl: int) -> bool:
        raise ConnectionError("store down")

    for fail_open in (True, False):
        book = Passes(b"k", pass_ttl=60, first_use=down, fail_open=fail_open)
        seed = book.seed(IP, UA, 4, NOW)
        result = book.redeem(seed, solve(seed, 4), IP, UA, NOW)
        assert isinstance(result, str) if fail_open else result is Refusal.UNAVAILABLE


@given(st.binary(min_size=32, max_size=32))
def test_leading_zero_bits_counts_bits(digest: bytes) -> None:
    value = int.from_bytes(digest, "big")
    bits = leading_zero_bits(digest)
    assert value < 2 ** (256 - bits)
    assert bits == 256 or value >= 2 ** (255 - bits)


def test_difficulty_rises_with_the_score() -> None:
    assert difficulty(0.0, 8, 20) == 8
    assert difficulty(1.0, 8, 20) == 20
    assert difficulty(5.0, 8, 20) == 20
    assert difficulty(-1, 8, 20) == 8
    assert [difficulty(s / 10, 8, 20) for s in range(11)] == sorted(
        difficulty(s / 10, 8, 20) for s in range(11))


def test_the_page_carries_the_seed_and_stays_on_site() -> None:
    book = passes()
    seed = book.seed(IP, UA, 9, NOW)
    page = challenge_page(seed, 9, '/search?q="><script>').decode()
    assert f'value="{seed}"' in page
    assert "bits = 9" in page
    assert seed_bits(seed) == 9
    assert "<script>" not in page.split("<script>", 1)[0]  # nothing injected before ours
    assert "&quot;&gt;&lt;script&gt;" in page
    assert re.search(r"crypto\.subtle\.digest\(\"SHA-256\"", page)


@pytest.mark.parametrize(("target", "expected"), [
    ("/user/1?x=2", "/user/1?x=2"), ("//evil.example", "/"), ("https://evil.example", "/"),
    ("/\\evil.example", "/"), ("", "/"), (None, "/"), ("/a\r\nSet-Cookie: x", "/"),
])
def test_next_is_a_local_path(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected
