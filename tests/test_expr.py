"""The condition language: parsing, located errors, and the soundness of the prefilter.

The batch engine skips any window for which `Condition.possible` says no, so that answer must
never be wrong: whenever a condition holds for some values inside the bounds, `possible`
must say yes. Hypothesis checks this on random conditions and values.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scrapeguard.policy.expr import ExpressionError, Percentile, parse

NAMES = ["requests", "subjects", "misses", "miss_ratio", "clients", "gap_cv"]


def test_unknown_feature_is_located() -> None:
    with pytest.raises(ExpressionError) as caught:
        parse("subjects >= 10 and sujbects > 3")
    assert caught.value.column == 20
    assert "unknown feature 'sujbects'" in str(caught.value)


@pytest.mark.parametrize("source", ["__import__('os')", "subjects.real > 1", "'a' > 1",
                                    "subjects ** 2 > 1", "1 < subjects < 3", "lambda: 1"])
def test_anything_outside_the_language_is_refused(source: str) -> None:
    with pytest.raises(ExpressionError):
        parse(source)


def test_percentiles_resolve_to_numbers() -> None:
    condition = parse("subjects >= max(300, 10 * p99(subjects))")
    assert condition.percentiles == {Percentile("subjects", 99.0)}
    resolved = condition.resolve({Percentile("subjects", 99.0): 50.0})
    assert resolved.evaluate({"subjects": 499}) is False
    assert resolved.evaluate({"subjects": 500}) is True
    assert resolved.volume_floors() == [("subjects", 500.0)]


def test_volume_floors_need_a_monotone_feature() -> None:
    assert parse("miss_ratio > 0.5 and misses >= 30").volume_floors() == [("misses", 30.0)]
    assert parse("miss_ratio > 0.5").volume_floors() == []


comparison = st.tuples(st.sampled_from(NAMES), st.sampled_from([">=", ">", "<", "<="]),
                       st.integers(0, 50))
clause = st.one_of(
    comparison.map(lambda c: f"{c[0]} {c[1]} {c[2]}"),
    st.tuples(st.sampled_from(NAMES), st.integers(1, 5), st.sampled_from(NAMES)).map(
        lambda c: f"{c[0]} >= {c[1]} * {c[2]}"),
)
condition_text = st.lists(clause, min_size=1, max_size=4).flatmap(
    lambda parts: st.sampled_from([" and ", " or "]).map(lambda op: op.join(parts)))


@settings(max_examples=300, deadline=None)
@given(condition_text, st.data())
def test_possible_never_rules_out_a_value_inside_the_bounds(text: str, data: st.DataObject) -> None:
    condition = parse(text)
    bounds = {}
    values = {}
    for name in NAMES:
        low = data.draw(st.integers(0, 60), label=f"{name} lo")
        high = low + data.draw(st.integers(0, 60), label=f"{name} hi")
        bounds[name] = (low, high)
        values[name] = data.draw(st.integers(low, high), label=name)
    if condition.evaluate(values):
        assert condition.possible(bounds) is not False
