"""Assignment: each actor's canaries are its own keyed, uniform, re-derivable share."""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scrapeguard.canary import CanaryBook, Injector, actor_key
from scrapeguard.canary.assign import Permutation, book_size_for
from scrapeguard.canary.keys import actor_from_keys, group_keys
from test_canary_support import new_book


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CanaryBook]:
    opened = new_book(tmp_path_factory.mktemp("assign"), servings="memory://")
    yield opened
    opened.close()


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 10_007])
def test_the_permutation_is_a_bijection(n: int) -> None:
    perm = Permutation(b"k" * 32, n)
    forward = [perm.forward(i) for i in range(n)]
    assert sorted(forward) == list(range(n))
    assert all(perm.inverse(x) == i for i, x in enumerate(forward))


def test_an_actors_first_window_is_a_prefix_of_its_ordering(book: CanaryBook) -> None:
    assert book.for_actor("account:a", 10) == book.for_actor("account:a", 50)[:10]
    assert len(book.for_actor("account:a")) == book.per_actor
    assert all(book.assigned("account:new", c) for c in book.for_actor("account:new"))
    assert not any(book.assigned("account:new", c)
                   for c in book.for_actor("account:new", 2 * book.per_actor)[book.per_actor:])


def test_sets_are_distinct_and_overlap_only_by_chance(book: CanaryBook) -> None:
    sets = [set(book.assigner.sequence(f"account:u{n}", book.per_actor)) for n in range(200)]
    assert len({frozenset(s) for s in sets}) == 200
    overlaps = [len(a & b) for a, b in itertools.pairwise(sets)]
    expected = book.per_actor ** 2 / book.size  # 5 for 100 of 2000
    assert abs(sum(overlaps) / len(overlaps) - expected) < 1.0


def test_every_canary_is_as_likely_to_be_assigned(book: CanaryBook) -> None:
    """The hypergeometric bound assumes uniform sets: check the counts look binomial."""
    counts = Counter(i for n in range(400)
                     for i in book.assigner.sequence(f"ip:{n}|fp:x", book.per_actor))
    mean = 400 * book.per_actor / book.size  # 20
    values = [counts.get(i, 0) for i in range(book.size)]
    assert abs(sum(values) / len(values) - mean) < 1e-9
    variance = sum((v - mean) ** 2 for v in values) / len(values)
    assert 0.8 * mean * 0.95 < variance < 1.2 * mean  # binomial: n p (1 - p)


def test_picks_are_stable_per_page_and_stay_in_the_window(book: CanaryBook) -> None:
    picks = book.assigner.pick("account:a", "/reviews?page=1", 3, 0)
    assert picks == book.assigner.pick("account:a", "/reviews?page=1", 3, 0)
    assert len(set(picks)) == 3
    assert picks != book.assigner.pick("account:a", "/reviews?page=2", 3, 0)
    ordering = book.assigner.sequence("account:a", 2 * book.per_actor)
    first, second = set(ordering[:book.per_actor]), set(ordering[book.per_actor:])
    pages = {i for p in range(300) for i in book.assigner.pick("account:a", f"/p/{p}", 1, 0)}
    later = {i for p in range(300) for i in book.assigner.pick("account:a", f"/p/{p}", 1, 1)}
    assert pages <= first
    assert later <= second
    assert len(pages) > 90  # 300 pages draw most of the window of 100


def test_an_actors_set_grows_with_what_it_reads(tmp_path: Path) -> None:
    """The old sets were the first k of the ordering: a crawler reading 40 times more pages
    than k met the same k canaries again and again. Now it moves along its ordering, so the
    distinct canaries it holds keep pace with the canaries it is served."""
    book = new_book(tmp_path, servings="memory://", count=20_000)
    injector = Injector(book)
    pages = 2000
    for page in range(pages):
        injector.mix(list(range(20)), "account:crawler", f"/api/reviews?page={page}")
    distinct = book.servings.served_counts(["account:crawler"])["account:crawler"]
    assert distinct > 0.8 * pages  # one canary a page, nearly all of them new
    assert distinct > 10 * book.per_actor
    windows = {book.assigner.position("account:crawler", c) // book.per_actor
               for c in book.servings.served(range(book.size))}
    assert max(windows) == book.assigner.window_for(distinct)
    assert len(windows) == max(windows) + 1  # every window on the way, none skipped
    assert book.window("account:reader") == 0


def test_the_book_warns_when_an_actor_exhausts_it(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    book = new_book(tmp_path, servings="memory://", count=400, per_actor=100)
    injector = Injector(book)
    with caplog.at_level(logging.WARNING, "scrapeguard.canary"):
        for page in range(400):
            injector.swap(list(range(20)), "account:m", f"/p/{page}")
    warnings = [r for r in caplog.records if "whole ordering" in r.getMessage()]
    assert len(warnings) == 1  # once per actor, not once per page
    assert "--exposure" in warnings[0].getMessage()
    assert book.window("account:m") == book.assigner.windows - 1  # it stays in the last one
    assert book.servings.served_counts(["account:m"])["account:m"] <= book.size


def test_book_sizes_follow_the_expected_exposure() -> None:
    assert book_size_for(40_000) == 20_000  # 2,000 canaries at 1 in 20: a tenth of the book
    assert book_size_for(1) == 1000
    assert book_size_for(1_000_000, rate=0.01) == 100_000
    with pytest.raises(ValueError, match="at least one record"):
        book_size_for(0)


def test_actors_for_rederives_who_could_have_had_a_canary(tmp_path: Path) -> None:
    book = new_book(tmp_path, servings="memory://")
    canary = book.for_actor("account:a")[0]
    book.record("account:a", [canary])
    stranger = next(f"account:s{n}" for n in range(100)
                    if not book.assigned(f"account:s{n}", canary))
    book.record(stranger, [canary])  # a serving the key does not explain
    assert set(book.actors_for(canary)) == {"account:a"}
    assert set(book.servings.served([canary.index])[canary.index]) == {"account:a", stranger}


def test_a_canary_profile_resolves_only_for_whom_it_was_served(tmp_path: Path) -> None:
    book = new_book(tmp_path)
    canary = book.for_actor("account:a")[3]
    assert book.resolve(canary.id, "account:a") is None  # assigned is not served
    book.record("account:a", [canary], datetime(2026, 3, 2, tzinfo=UTC))
    assert book.resolve(canary.id, "account:a") == canary
    assert book.resolve(canary.id, "account:b") is None
    assert book.resolve("123456789", "account:a") is None
    book.close()


def test_actor_keys() -> None:
    assert actor_key("u1", "203.0.113.7", "abc") == "account:u1"
    assert actor_key(None, "203.0.113.7", "abc") == "ip:203.0.113.7|fp:abc"
    keys = {"ip": "203.0.113.7", "net": "203.0.113.0/24", "fp": "abc"}
    assert actor_from_keys(keys) == "ip:203.0.113.7|fp:abc"
    assert group_keys(keys) == ("fp:abc",)
    assert group_keys({**keys, "account": "u1"}, "campaign:enum:/user/{n}") == (
        "campaign:enum:/user/{n}",)
