"""Assignment: each actor's canaries are its own keyed, uniform, re-derivable share."""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from scrapeguard.canary import CanaryBook, actor_key
from scrapeguard.canary.assign import Permutation
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


def test_an_actors_set_is_a_prefix_of_its_ordering(book: CanaryBook) -> None:
    assert book.for_actor("account:a", 10) == book.for_actor("account:a", 50)[:10]
    assert len(book.for_actor("account:a")) == book.per_actor
    assert all(book.assigned("account:a", c) for c in book.for_actor("account:a"))


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


def test_picks_are_stable_per_page_and_stay_in_the_set(book: CanaryBook) -> None:
    picks = book.assigner.pick("account:a", "/reviews?page=1", 3, book.per_actor)
    assert picks == book.assigner.pick("account:a", "/reviews?page=1", 3, book.per_actor)
    assert len(set(picks)) == 3
    assert picks != book.assigner.pick("account:a", "/reviews?page=2", 3, book.per_actor)
    own = {c.index for c in book.for_actor("account:a")}
    pages = {i for p in range(300) for i in book.assigner.pick("account:a", f"/p/{p}", 1, 100)}
    assert pages <= own
    assert len(pages) > 90  # 300 pages draw nearly all of the 100


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
