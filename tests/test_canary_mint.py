"""Minting: canaries in the operator's ranges, unique, derived from the key, kept private."""

from __future__ import annotations

import itertools
import logging
import os
import stat
from pathlib import Path

import pytest

from scrapeguard.canary import CanaryBook, CanaryError, MintSpec, mint
from scrapeguard.canary.keys import KEY_ENV
from scrapeguard.canary.mint import derive_canaries
from scrapeguard.canary.ranges import IdSpace, PhoneRange
from test_canary_support import IDS, KEY, new_book, spec


def test_canaries_are_unique_and_inside_the_ranges(tmp_path: Path) -> None:
    book = new_book(tmp_path, count=2000)
    canaries = list(book)
    assert len(canaries) == len(book) == 2000
    assert len({c.id for c in canaries}) == len({c.phone_nsn for c in canaries}) == 2000
    for canary in canaries:
        assert 900_000_000 <= int(canary.id) <= 999_999_999
        assert 17_000_000_000 <= int(canary.phone_nsn) <= 17_000_999_999
        assert canary.phone.startswith("+86 170 00")
        assert len(canary.phone) == len("+86 170 0000 0000")
        assert canary.phone_e164 == "+86" + canary.phone_nsn
        assert canary.name
        assert canary.comment.count(".") == 2
    book.close()


def test_the_db_is_private_and_holds_the_key(tmp_path: Path) -> None:
    book = new_book(tmp_path, key=None)
    assert stat.S_IMODE(os.stat(book.path).st_mode) == 0o600
    assert "key" in book.meta
    reopened = CanaryBook(book.path)
    assert reopened.canary(5) == book.canary(5)
    for opened in (book, reopened):
        opened.close()


def test_a_group_readable_db_is_warned_about(tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    new_book(tmp_path, key=None).close()
    os.chmod(tmp_path / "canaries.db", 0o640)
    with caplog.at_level(logging.WARNING, "scrapeguard.canary"):
        CanaryBook(tmp_path / "canaries.db").close()
    assert "readable by others" in caplog.text


def test_a_key_from_the_environment_is_not_stored(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    key = "9f3c2a7be01d5584c6f2ab39e7d04c1855b2e9a06d7f3c81a4e2f09b6c5d7e13"
    monkeypatch.setenv(KEY_ENV, key)
    path = tmp_path / "env.db"
    mint(path, spec(count=300))
    book = CanaryBook(path)
    assert "key" not in book.meta
    assert book.key == bytes.fromhex(key)
    book.close()
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(CanaryError, match=KEY_ENV):
        CanaryBook(path)
    monkeypatch.setenv(KEY_ENV, key[::-1])
    with pytest.raises(CanaryError, match="not the one it was minted with"):
        CanaryBook(path)
    monkeypatch.setenv(KEY_ENV, "short")
    with pytest.raises(CanaryError, match="too short"):
        CanaryBook(path)


def test_the_same_key_mints_the_same_book_and_another_key_another() -> None:
    first = list(derive_canaries(KEY, spec(count=200)))
    assert first == list(derive_canaries(KEY, spec(count=200)))
    assert first[:50] == list(derive_canaries(KEY, spec(count=50)))  # canary i needs only i
    other = list(derive_canaries(bytes(32), spec(count=200)))
    assert {c.phone_nsn for c in first}.isdisjoint({c.phone_nsn for c in other})
    assert {c.id for c in first}.isdisjoint({c.id for c in other})


def test_knowing_canaries_tells_nothing_about_the_next() -> None:
    """Consecutive canaries are independent draws: no step between them repeats."""
    canaries = list(derive_canaries(KEY, spec(count=400)))
    steps = {int(b.id) - int(a.id) for a, b in itertools.pairwise(canaries)}
    assert len(steps) > 395
    low = sum(int(c.phone_nsn) < 17_000_500_000 for c in canaries)
    assert 160 < low < 240  # about half in each half of the range


@pytest.mark.parametrize(("text", "cc", "low", "width", "shown"), [
    ("+86 170 0000 0000-+86 170 0099 9999", "86", 17_000_000_000, 11, "+86 170 0000 0042"),
    ("+1 555-0100-+1 555-0199", "1", 5_550_100, 7, "+1 555-0142"),
    ("07700 900000-07700 900999", "44", 7_700_900_000, 10, "07700 900042"),
    ("+8617000000000-+8617000999999", "86", 17_000_000_000, 11, "+86##########"),
])
def test_phone_ranges_parse(text: str, cc: str, low: int, width: int, shown: str) -> None:
    parsed = PhoneRange.parse(text, "en_GB" if text.startswith("0") else "zh_CN")
    assert (parsed.cc, parsed.low, parsed.width) == (cc, low, width)
    if "#" not in shown:
        assert parsed.format(parsed.low + 42) == shown


@pytest.mark.parametrize("text", [
    "170-160", "+86 170 0000 0000-+86 170 0000", "abc-def",
    "+86 170 0099 9999-+86 170 0000 0000", "+1 555 0100-+44 555 0199"])
def test_bad_phone_ranges_say_what_is_expected(text: str) -> None:
    with pytest.raises(CanaryError, match="phone range"):
        PhoneRange.parse(text, "zh_CN")


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CanaryError, match="id range"):
        IdSpace.parse("999-100")
    with pytest.raises(CanaryError, match="must contain"):
        IdSpace.parse(IDS, "user")
    with pytest.raises(CanaryError, match="need at least"):
        mint(tmp_path / "x.db", MintSpec(count=2000, locale="zh_CN", ids=IdSpace.parse("1-3000")))
    with pytest.raises(CanaryError, match="no locale"):
        mint(tmp_path / "y.db", spec(count=10, locale="xx_XX"))
    mint(tmp_path / "z.db", spec(count=10))
    with pytest.raises(CanaryError, match="--force"):
        mint(tmp_path / "z.db", spec(count=10))
    assert mint(tmp_path / "z.db", spec(count=20), force=True) == 20


def test_ids_take_the_site_format(tmp_path: Path) -> None:
    path = tmp_path / "fmt.db"
    mint(path, MintSpec(count=50, locale="en_US", ids=IdSpace.parse("1-999999", "u{n:06d}")),
         key=KEY)
    with CanaryBook(path, key=KEY) as book:
        canaries = list(book)
    assert all(c.id.startswith("u") and len(c.id) == 7 for c in canaries)
    assert all(c.phone == "" and c.name.isascii() for c in canaries)  # --no-phone
