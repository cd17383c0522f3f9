"""The condition language: parsing, located errors, and the soundness of the prefilter.

The batch engine skips any window for which `Condition.possible` says no, so that answer must
never be wrong: whenever a condition holds for some values inside the bounds, `possible`
must say yes. Hypothesis checks this on random conditions and values.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scrapeguard.features import BY_NAME
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


def _walked(condition: object, values: dict[str, float]) -> object:
    """The tree walk's answer, or the exception type it raised."""
    from scrapeguard.policy.expr import _eval
    try:
        return bool(_eval(condition.tree, values))  # type: ignore[attr-defined]
    except Exception as exc:
        return type(exc)


def _compiled(condition: object, values: dict[str, float]) -> object:
    try:
        return condition.evaluate(values)  # type: ignore[attr-defined]
    except Exception as exc:
        return type(exc)


term = st.one_of(st.sampled_from(NAMES), st.integers(0, 9).map(str),
                 st.sampled_from(["0.5", "-1", "-requests", "(requests - misses)"]))
arithmetic = st.tuples(term, st.sampled_from(["+", "-", "*", "/"]), term).map(" ".join)
side = st.one_of(term, arithmetic,
                 st.lists(term, min_size=2, max_size=3).flatmap(
                     lambda args: st.sampled_from(["min", "max"]).map(
                         lambda fn: f"{fn}({', '.join(args)})")))
rich_clause = st.tuples(side, st.sampled_from([">=", ">", "<", "<=", "==", "!="]), side).map(
    " ".join)
rich_condition = st.lists(st.one_of(rich_clause, rich_clause.map(lambda c: f"not {c}")),
                          min_size=1, max_size=4).flatmap(
    lambda parts: st.sampled_from([" and ", " or "]).map(lambda op: op.join(parts)))
value = st.one_of(st.integers(0, 3), st.floats(allow_nan=True, allow_infinity=True))


@settings(max_examples=400, deadline=None)
@given(rich_condition, st.fixed_dictionaries(dict.fromkeys(NAMES, value)))
def test_compiled_evaluation_is_the_tree_walk(text: str, values: dict[str, float]) -> None:
    """The stream engine evaluates compiled conditions; they must agree with the tree walk
    on every value, including what they raise (a zero denominator after a false term: the
    walk evaluates every term of `and`/`or`, so the compiled form must not short-circuit)."""
    try:
        condition = parse(text)
    except ExpressionError:
        assume(False)  # outside the language: nothing to evaluate
    assert _compiled(condition, values) == _walked(condition, values)


def test_every_shipped_rule_compiles_to_its_tree_walk() -> None:
    from scrapeguard.policy.load import load_policy

    policy = load_policy(None)
    samples = [dict.fromkeys(BY_NAME, v) for v in (0, 1, 7.5, 1e9, float("nan"))]
    for rule in policy.active_rules():
        condition = parse(rule.when)
        resolved = condition.resolve(dict.fromkeys(condition.percentiles, 3.0))
        for values in samples:
            assert _compiled(resolved, values) == _walked(resolved, values), rule.id
