"""Finding canaries however a dump reformatted them, and the statistics of a coincidence."""

from __future__ import annotations

import math
import random
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.canary.harvest import PHONE_STYLES, canary_row, format_phone
from scrapeguard.canary.match import CanaryIndex, Found
from scrapeguard.canary.mint import derive_canaries
from scrapeguard.canary.model import Canary
from scrapeguard.canary.normalize import Candidates
from scrapeguard.canary.stats import bonferroni, hypergeom_sf
from test_canary_support import KEY, spec


@cache
def canaries() -> tuple[Canary, ...]:
    return tuple(derive_canaries(KEY, spec(count=500)))


@cache
def index() -> CanaryIndex:
    return CanaryIndex(canaries())


def found_in(*texts: str) -> Found:
    values = Candidates()
    for text in texts:
        values.add(text)
    return index().match(values)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 499), st.integers(0, 2**32), st.sampled_from(["", "call ", "tel: "]),
       st.sampled_from(["", " now", ", 900000001 x", " 2026-03-02"]))
def test_a_phone_is_found_in_any_layout_and_company(n: int, seed: int, before: str,
                                                     after: str) -> None:
    canary = canaries()[n]
    text = before + format_phone(canary.phone_cc, canary.phone_nsn, random.Random(seed)) + after
    assert found_in(text).strong == {n: {"phone"}}, text


@pytest.mark.parametrize("style", PHONE_STYLES)
def test_every_phone_style_is_matched(style: str) -> None:
    canary = canaries()[7]
    rng = random.Random(0)
    rng.choice = lambda seq: style  # type: ignore[method-assign, assignment, return-value]
    assert found_in(format_phone(canary.phone_cc, canary.phone_nsn, rng)).strong == {7: {"phone"}}


def test_longer_or_shorter_numbers_do_not_match() -> None:
    """Digits glued on either side make another number; only country-code forms are allowed.
    (A separate group before it, such as `+44 1700...`, may be any other field, so it matches.)
    """
    nsn = canaries()[3].phone_nsn
    assert not found_in(f"1234{nsn}", f"{nsn}5", nsn[:-1], f"44{nsn}").strong


@pytest.mark.parametrize("form", ["{id}", "U{id}", "uid:{id}", "/user/{id}?tab=1",
                                  "https://shop.example/user/{id}", "ID-{id}", "user_{id}"])
def test_ids_are_found_with_prefixes(form: str) -> None:
    canary = canaries()[11]
    assert found_in(form.format(id=canary.id)).strong == {11: {"id"}}


def test_review_text_is_found_recased_respaced_and_inside_a_line() -> None:
    canary = canaries()[20]
    spaced = "  ".join(canary.comment.split()) + " "
    line = f"王 (U123) tel 138 said: {canary.comment} | 5 stars"
    for text in (canary.comment, spaced, canary.comment.upper(), line):
        assert found_in(text).strong == {20: {"comment"}}, text
    assert not found_in(canary.comment[: len(canary.comment) // 2]).strong  # truncated


def test_a_name_alone_never_counts() -> None:
    canary = canaries()[30]
    found = found_in(canary.name, " ".join(canary.name))
    assert not found.strong
    assert 30 in found.names


def test_a_resold_row_is_found_by_every_strong_field() -> None:
    rng = random.Random(5)
    for canary in canaries()[:100]:
        row = canary_row(canary, rng)
        found = found_in(*row.values())
        assert found.strong == {canary.index: {"phone", "id", "comment"}}, row


def test_matching_a_union_is_the_union_of_matches() -> None:
    """Why the bulk drills may match records one by one: values are looked up independently."""
    rng = random.Random(9)
    rows = [canary_row(c, rng) for c in rng.sample(canaries(), 40)]
    together, separate = Candidates(), Found()
    for row in rows:
        one = Candidates()
        for value in row.values():
            one.add(value)
            together.add(value)
        separate.update(index().match(one))
    assert index().match(together) == separate


def _exact_tail(m: int, total: int, drawn: int, marked: int) -> float:
    top = min(drawn, marked)
    return sum(math.comb(marked, x) * math.comb(total - marked, drawn - x)
               for x in range(m, top + 1)) / math.comb(total, drawn)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 1500), st.data())
def test_the_tail_matches_exact_arithmetic(total: int, data: st.DataObject) -> None:
    drawn = data.draw(st.integers(0, total))
    marked = data.draw(st.integers(0, total))
    m = data.draw(st.integers(0, min(drawn, marked) + 1))
    exact = _exact_tail(m, total, drawn, marked)
    assert hypergeom_sf(m, total, drawn, marked) == pytest.approx(exact, rel=1e-9, abs=1e-300)


def test_the_tail_agrees_with_scipy_far_out() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    for m, total, drawn, marked in [(9, 10_000, 30, 865), (23, 10_000, 23, 230),
                                    (40, 1_000_000, 60, 5_000), (2, 10_000, 400, 20)]:
        expected = float(scipy_stats.hypergeom.sf(m - 1, total, marked, drawn))
        assert hypergeom_sf(m, total, drawn, marked) == pytest.approx(expected, rel=1e-8)


def test_bonferroni() -> None:
    assert bonferroni(1e-9, 1000) == pytest.approx(1e-6)
    assert bonferroni(0.5, 10) == 1.0
    assert bonferroni(1e-9, 0) == 1e-9
