"""Feature values as Ibis expressions: final per (actor, window), and running per event.

Both are derived from the one catalogue in `features.py`, so a feature is never written twice.
The running values replay a window event by event, the way the stream engine sees it, which is
how the batch engine finds the moment a rule would first have held.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard.features import (
    BY_NAME,
    DAY_MS,
    Beyond,
    Distinct,
    GapStat,
    Ratio,
    Sum,
    dependencies,
)

MIN_GAPS = 10
"""Gap statistics need this many gaps before they mean anything (and before a rule may use them).
`span`, their sum, is an elapsed time and needs none."""
GAP_FEATURES = frozenset({"gap_mean", "gap_cv", "span"})
"""Computed together, from one running sum of gaps."""

ORDER = ("ts", "eid", "item_pos")


def expand(names: set[str]) -> set[str]:
    """The names and every feature they are computed from."""
    out: set[str] = set()
    for name in names:
        out |= dependencies(name)
    if out & GAP_FEATURES:
        out |= GAP_FEATURES
    return out


def interval_bounds(
    rows: ir.Table, keys: list[str], names: set[str], step_ms: int,
    possible: Callable[[dict[str, tuple[Any, Any]]], Any] | None = None,
) -> tuple[ir.Table, dict[str, tuple[Any, Any]]]:
    """Per (key group, sub-window step): bounds every feature keeps at any moment in the step.

    Sums are prefix sums over steps: at a moment inside step k a sum lies between its prefix
    through step k-1 and through step k. A distinct count lies between 0 (1 once a row was
    seen, for a column that is never null) and its bound column's prefix. A ratio lies in
    [num_lo / den_hi, min(1, num_hi / den_lo)]: every ratio in the catalogue is a part over
    its whole. Gap statistics are unbounded. One hash aggregation and one window over the
    (far fewer) aggregated rows.

    With `possible` (bounds → True, False or a boolean expression, as `Condition.possible`),
    the key groups are first judged on bounds that hold over their whole window — each sum
    between 0 and its total — and only the rows of those that pass are aggregated by step
    and get the window: most groups are a handful of requests, and the step aggregation and
    the running window over hundreds of thousands of tiny groups cost far more than totals
    per group.
    """
    names = expand(names)
    whole = _sums(rows, names)
    if possible is not None and whole:
        totals = rows.group_by(keys).aggregate(**whole)
        test = possible(_bounds(names, {n: (0, totals[n]) for n in whole}, loose=True))
        if test is False:
            rows = rows.filter(ibis.literal(False))
        elif test is not True:  # DuckDB computes only the totals the test reads
            rows = rows.semi_join(totals.filter(test).select(keys), keys)
    sums = _sums(rows, names)
    stepped = rows.mutate(_step=rows.ts_ms // step_ms).group_by([*keys, "_step"])
    steps = stepped.aggregate(**sums) if sums else stepped.aggregate(_rows=lambda t: t.count())
    window = ibis.cumulative_window(group_by=[steps[k] for k in keys], order_by=steps._step)
    prefixes = {f"_hi_{n}": steps[n].sum().over(window) for n in sums}
    table = steps.mutate(**prefixes)
    table = table.mutate(**{f"_lo_{n}": table[f"_hi_{n}"] - table[n] for n in sums})
    return table, _bounds(names, {n: (table[f"_lo_{n}"], table[f"_hi_{n}"]) for n in sums})


def _sums(rows: ir.Table, names: set[str]) -> dict[str, Any]:
    """The sums the bounds of `names` rest on: a Sum's column, a distinct count's bound."""
    sums: dict[str, Any] = {}
    for name in sorted(names):
        shape = BY_NAME[name].shape
        if isinstance(shape, Sum):
            sums[name] = rows[shape.column].sum()
        elif isinstance(shape, Distinct | Beyond):
            sums[name] = rows[shape.bound].sum()
    return sums


def _bounds(names: set[str], sums: dict[str, tuple[Any, Any]],
            loose: bool = False) -> dict[str, tuple[Any, Any]]:
    """Every named feature's bounds from those of the sums they rest on (`interval_bounds`);
    `loose`: the sums' lower bounds are 0, and a distinct count's is 0 too."""
    bounds: dict[str, tuple[Any, Any]] = {}
    for name in sorted(names):
        shape = BY_NAME[name].shape
        if isinstance(shape, Sum):
            bounds[name] = sums[name]
        elif isinstance(shape, Distinct):
            lo, hi = sums[name]
            low = ibis.least(lo, 1) if (shape.present or shape.floor) and not loose else 0
            bounds[name] = (low, hi)
        elif isinstance(shape, Beyond):  # not monotone: a busier day lowers it
            bounds[name] = (0, sums[name][1])
    for name in sorted(names):
        shape = BY_NAME[name].shape
        if isinstance(shape, Ratio):
            num_lo, num_hi = bounds[shape.numerator]
            den_lo, den_hi = bounds[shape.denominator]
            lo = ibis.ifelse(den_hi > 0, num_lo / den_hi, 0.0)
            hi = ibis.ifelse(den_lo > 0, ibis.least(num_hi / den_lo, 1.0), 1.0)
            bounds[name] = (lo, hi)
        elif isinstance(shape, GapStat):
            bounds[name] = (None, None)
    return bounds


def final_features(rows: ir.Table, keys: list[str], names: set[str]) -> ir.Table:
    """One row per key group with the final value of each named feature."""
    names = expand(names)
    metrics: dict[str, Any] = {"_rows": rows.count()}
    weighted: list[str] = []
    for name in sorted(names):
        shape = BY_NAME[name].shape
        if isinstance(shape, Sum):
            metrics[name] = rows[shape.column].sum()
        elif isinstance(shape, Distinct) and shape.weight is None:
            metrics[name] = _floored(rows[shape.column].nunique(), shape)
        elif isinstance(shape, Distinct):
            weighted.append(name)
        elif isinstance(shape, Beyond):
            metrics[name] = rows[shape.column].nunique()
        elif isinstance(shape, GapStat):
            raise ValueError(f"{name}: gap statistics have no final value per window")
    table = rows.group_by(keys).aggregate(**metrics)
    for name in sorted(names):
        shape = BY_NAME[name].shape
        if isinstance(shape, Beyond):
            table = _beyond_final(rows, keys, table, name, shape)
    for name in weighted:
        shape = BY_NAME[name].shape
        assert isinstance(shape, Distinct)
        assert shape.weight is not None
        per_item = (
            rows.filter(rows[shape.column].notnull())
            .group_by([*keys, shape.column])
            .aggregate(_w=lambda t, w=shape.weight: t[w].max())
            .group_by(keys)
            .aggregate(**{name: lambda t: t._w.sum()})
        )
        table = table.left_join(per_item, keys).drop(*(f"{k}_right" for k in keys))
        table = table.mutate(**{name: table[name].fill_null(0)})
    return _with_ratios(table, names)


def _beyond_final(rows: ir.Table, keys: list[str], table: ir.Table, name: str,
                  shape: Beyond) -> ir.Table:
    """The window's distinct count (already in `table[name]`) less its busiest day's."""
    present = rows.filter(rows[shape.column].notnull())
    busiest = (
        present.mutate(_day=present.ts_ms // DAY_MS)
        .group_by([*keys, "_day"]).aggregate(_n=lambda t: t[shape.column].nunique())
        .group_by(keys).aggregate(_busiest=lambda t: t._n.max())
    )
    table = table.left_join(busiest, keys).drop(*(f"{k}_right" for k in keys))
    return table.mutate(**{name: table[name] - table._busiest.fill_null(0)}).drop("_busiest")


def running_features(rows: ir.Table, keys: list[str], names: set[str]) -> ir.Table:
    """Each row with the value every named feature had once that row was counted."""
    wanted = {n for name in names for n in dependencies(name)}  # gap statistics: only these
    names = expand(names)
    gains: dict[str, Any] = {}
    beyond = [n for n in sorted(names) if isinstance(BY_NAME[n].shape, Beyond)]
    if beyond:
        rows = rows.mutate(_day=rows.ts_ms // DAY_MS)
    order = [rows[c] for c in ORDER]
    for name in beyond:
        shape = BY_NAME[name].shape
        assert isinstance(shape, Beyond)
        column = rows[shape.column]
        for suffix, group in (("", []), ("_d", [rows._day])):
            first = ibis.row_number().over(
                group_by=[*(rows[k] for k in keys), *group, column], order_by=order
            ) == 0
            gains[f"_gain_{name}{suffix}"] = ibis.ifelse(first & column.notnull(), 1, 0)
    for name in sorted(names):
        shape = BY_NAME[name].shape
        if isinstance(shape, Distinct):
            column = rows[shape.column]
            first = ibis.row_number().over(
                group_by=[*(rows[k] for k in keys), column], order_by=order
            ) == 0
            weight = rows[shape.weight] if shape.weight else ibis.literal(1)
            gains[f"_gain_{name}"] = ibis.ifelse(first & column.notnull(), weight, 0)
    # Window results cannot nest, so first-occurrence flags are a column of their own.
    rows = rows.mutate(**gains) if gains else rows
    if beyond:  # each row's day so far, then the busiest day so far: two more columns
        rows = running_sums(rows, [*keys, "_day"],
                            {f"_today_{n}": rows[f"_gain_{n}_d"] for n in beyond})
        so_far = ibis.cumulative_window(group_by=[rows[k] for k in keys],
                                        order_by=[rows[c] for c in ORDER])
        rows = rows.mutate(**{f"_busiest_{n}": rows[f"_today_{n}"].max().over(so_far)
                              for n in beyond})
    totals: dict[str, Any] = {}
    for name in sorted(names):
        shape = BY_NAME[name].shape
        if isinstance(shape, Sum):
            totals[name] = rows[shape.column]
        elif isinstance(shape, Distinct | Beyond):
            totals[f"_total_{name}"] = rows[f"_gain_{name}"]
    table = running_sums(rows, keys, totals) if totals else rows
    values: dict[str, Any] = {}
    for name in sorted(names):
        shape = BY_NAME[name].shape
        if isinstance(shape, Distinct):
            values[name] = _floored(table[f"_total_{name}"], shape)
        elif isinstance(shape, Beyond):
            values[name] = table[f"_total_{name}"] - table[f"_busiest_{name}"]
    table = table.mutate(**values) if values else table
    table = table.drop(*gains, *(c for c in totals if c.startswith("_total_")))
    if beyond:
        table = table.drop("_day", *(f"_{w}_{n}" for n in beyond for w in ("today", "busiest")))
    if names & GAP_FEATURES:
        table = _with_gaps(table, keys, wanted)
    return _with_ratios(table, names)


def running_sums(rows: ir.Table, keys: list[str], columns: dict[str, Any]) -> ir.Table:
    """`rows` with, under each name, the running total of its column per `keys` group in
    event order (`ORDER`): one window for all of them."""
    window = ibis.cumulative_window(group_by=[rows[k] for k in keys],
                                    order_by=[rows[c] for c in ORDER])
    return rows.mutate(**{name: value.sum().over(window) for name, value in columns.items()})


def _floored(value: Any, shape: Distinct) -> Any:
    return ibis.greatest(value, shape.floor) if shape.floor else value


def _with_gaps(table: ir.Table, keys: list[str], wanted: set[str]) -> ir.Table:
    """The gap statistics `wanted` names, each running total computed once (`span` alone
    needs no squares). Gaps are whole milliseconds between a request and the row before it
    (an event's further records are no request): their count and sum are exact integers."""
    previous = table.ts_ms.lag().over(ibis.window(group_by=[table[k] for k in keys],
                                                  order_by=[table[c] for c in ORDER]))
    table = table.mutate(_gap_ms=ibis.ifelse(table.one == 1, table.ts_ms - previous,
                                             ibis.null()).cast("int64"))
    totals = {"_gap_count": table._gap_ms.notnull().cast("int64"), "_gap_total": table._gap_ms}
    if "gap_cv" in wanted:
        seconds = table._gap_ms / 1000.0
        totals["_gap_squares"] = seconds * seconds
    table = running_sums(table, keys, totals)
    count, total = table._gap_count, table._gap_total.fill_null(0) / 1000.0
    mean = total / count
    enough = count >= MIN_GAPS
    out: dict[str, Any] = {"span": total}
    if wanted & {"gap_mean", "gap_cv"}:
        out["gap_mean"] = ibis.ifelse(enough, mean, ibis.null())
    if "gap_cv" in wanted:
        variance = ibis.greatest(table._gap_squares / count - mean * mean, 0)
        out["gap_cv"] = ibis.ifelse(enough & (mean > 0), variance.sqrt() / mean, ibis.null())
    return table.mutate(**out).drop("_gap_ms", *totals)


def _with_ratios(table: ir.Table, names: set[str]) -> ir.Table:
    ratios = {}
    for name in sorted(names):
        shape = BY_NAME[name].shape
        if isinstance(shape, Ratio):
            numerator = table[shape.numerator].cast("float64")
            denominator = table[shape.denominator]
            ratios[name] = ibis.ifelse(denominator > 0, numerator / denominator, 0.0)
    return table.mutate(**ratios) if ratios else table
