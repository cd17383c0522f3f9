"""The condition language of rules: a small, safe subset of Python expressions.

    subjects >= max(300, 10 * p99(subjects)) and miss_ratio > 0.5

Names are features (see `features.py`); numbers, `+ - * /`, comparisons, `and`/`or`/`not`,
`min`/`max`, and `pNN(feature)` — the NN-th percentile of that feature over the rule's actors and
windows, so a threshold can follow a site's own traffic. Percentiles are resolved to numbers
before either engine runs (calibration), so both engines use the same constants.

One parse feeds every consumer: the batch engine (`to_ibis`), the stream engine (`evaluate`),
and the batch prefilter (`volume_floors`).
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scrapeguard.features import BY_NAME

_PERCENTILE = re.compile(r"^p(\d{1,2})(?:_(\d+))?$")

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


class ExpressionError(ValueError):
    """A condition is not in the language; `column` is 1-based within the expression."""

    def __init__(self, message: str, column: int = 1) -> None:
        super().__init__(message)
        self.column = column


@dataclass(frozen=True)
class Percentile:
    feature: str
    q: float


@dataclass(frozen=True)
class Condition:
    """A parsed condition; immutable, with percentiles possibly resolved to constants."""

    source: str
    tree: ast.expr

    @property
    def features(self) -> set[str]:
        calls = {id(n.func) for n in ast.walk(self.tree) if isinstance(n, ast.Call)}
        return {
            n.id for n in ast.walk(self.tree) if isinstance(n, ast.Name) and id(n) not in calls
        }

    @property
    def percentiles(self) -> set[Percentile]:
        found = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                match = _PERCENTILE.match(node.func.id)
                if match:
                    found.add(Percentile(_arg_name(node), _quantile(match)))
        return found

    def resolve(self, values: Mapping[Percentile, float]) -> Condition:
        """Replace every `pNN(feature)` by its calibrated number."""
        return Condition(self.source, _Resolver(values).visit(_copy(self.tree)))

    def evaluate(self, features: Mapping[str, float]) -> bool:
        """Evaluate on one actor's current feature values (the stream engine's path)."""
        return bool(self._compiled(features))

    @functools.cached_property
    def _compiled(self) -> Callable[[Mapping[str, Any]], Any]:
        """The tree as one Python function, with `_eval`'s exact semantics.

        The stream engine evaluates every rule of every group on every counted event;
        walking the tree node by node took a third of the record lane's time under
        bench/service.py. Compiled once per condition, from the checked tree only."""
        return _compile(self.tree)

    def to_ibis(self, columns: Mapping[str, Any]) -> Any:
        """Build a boolean Ibis expression over feature columns (the batch engine's path)."""
        import ibis

        return _eval(self.tree, columns, ibis_mode=True, ibis_module=ibis)

    def possible(self, bounds: Mapping[str, Bounds]) -> Any:
        """Could the condition hold for some feature values within these bounds?

        Interval arithmetic: each feature is known only to lie in [lo, hi] (None: unbounded).
        The result is True, False, or a boolean expression over the bound columns. Never
        False where the condition could hold, so a prefilter built on it loses no firing.
        """
        return _possibly(self.tree, bounds)[0]

    def volume_floors(self) -> list[tuple[str, float]]:
        """Conjuncts `monotone_feature >= constant` the condition cannot hold without.

        Monotone features only grow as a window fills, so a window whose final value is below
        a floor never satisfied the rule: the batch engine skips it without replaying events.
        """
        floors: list[tuple[str, float]] = []
        for conjunct in _conjuncts(self.tree):
            bound = _lower_bound(conjunct)
            if bound is not None and BY_NAME[bound[0]].monotone:
                floors.append(bound)
        return floors


Bound = Any
"""A number, an expression (a column), or None for unbounded."""
Bounds = tuple[Bound, Bound]


def _possibly(node: ast.expr, bounds: Mapping[str, Bounds]) -> tuple[Any, Any]:
    """(possibly, certainly) for a boolean node, as bools or boolean expressions."""
    if isinstance(node, ast.BoolOp):
        parts = [_possibly(v, bounds) for v in node.values]
        if isinstance(node.op, ast.And):
            return _all([p for p, _ in parts]), _all([c for _, c in parts])
        return any_of([p for p, _ in parts]), any_of([c for _, c in parts])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        possibly, certainly = _possibly(node.operand, bounds)
        return _negate(certainly), _negate(possibly)
    if isinstance(node, ast.Compare):
        left = _interval(node.left, bounds)
        right = _interval(node.comparators[0], bounds)
        op = node.ops[0]
        if isinstance(op, ast.Gt | ast.GtE):
            return _cmp(left[1], right[0], op, True), _cmp(left[0], right[1], op, False)
        if isinstance(op, ast.Lt | ast.LtE):
            return _cmp(left[0], right[1], op, True), _cmp(left[1], right[0], op, False)
        return True, False  # == and != on intervals: keep, never certain
    raise ExpressionError(f"not a condition: {ast.unparse(node)}")


def _interval(node: ast.expr, bounds: Mapping[str, Bounds]) -> Bounds:
    if isinstance(node, ast.Constant):
        return node.value, node.value
    if isinstance(node, ast.Name):
        return bounds.get(node.id, (None, None))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        lo, hi = _interval(node.operand, bounds)
        return (None if hi is None else -hi), (None if lo is None else -lo)
    if isinstance(node, ast.BinOp):
        (alo, ahi), (blo, bhi) = _interval(node.left, bounds), _interval(node.right, bounds)
        if isinstance(node.op, ast.Add):
            return _add(alo, blo), _add(ahi, bhi)
        if isinstance(node.op, ast.Sub):
            return _sub(alo, bhi), _sub(ahi, blo)
        scale = _constant(node.right) if isinstance(node.op, ast.Mult | ast.Div) else None
        if scale is None and isinstance(node.op, ast.Mult):
            scale, (alo, ahi) = _constant(node.left), (blo, bhi)
        if scale is not None and scale > 0:
            factor = scale if isinstance(node.op, ast.Mult) else 1 / scale
            return _mul(alo, factor), _mul(ahi, factor)
        return None, None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        parts = [_interval(a, bounds) for a in node.args]
        pick = _least if node.func.id == "min" else _greatest
        return pick([lo for lo, _ in parts]), pick([hi for _, hi in parts])
    return None, None


def _constant(node: ast.expr) -> float | None:
    try:
        value = _eval(node, {})
    except (KeyError, ExpressionError):
        return None
    return float(value) if isinstance(value, int | float) else None


def _add(a: Bound, b: Bound) -> Bound:
    return None if a is None or b is None else a + b


def _sub(a: Bound, b: Bound) -> Bound:
    return None if a is None or b is None else a - b


def _mul(a: Bound, factor: float) -> Bound:
    return None if a is None else a * factor


def _least(values: list[Bound]) -> Bound:
    if any(v is None for v in values):
        return None
    if all(isinstance(v, int | float) for v in values):
        return min(values)
    import ibis

    return ibis.least(*values)


def _greatest(values: list[Bound]) -> Bound:
    if any(v is None for v in values):
        return None
    if all(isinstance(v, int | float) for v in values):
        return max(values)
    import ibis

    return ibis.greatest(*values)


def _cmp(a: Bound, b: Bound, op: ast.cmpop, unbounded: bool) -> Any:
    """`a op b`; an unbounded side leaves it undecided, answered by `unbounded`."""
    if a is None or b is None:
        return unbounded
    return _COMPARE[type(op)](a, b)


def _all(values: list[Any]) -> Any:
    result: Any = True
    for value in values:
        if value is False:
            return False
        if value is not True:
            result = value if result is True else (result & value)
    return result


def any_of(values: list[Any]) -> Any:
    """Or of booleans and boolean expressions, staying a plain bool where it can."""
    result: Any = False
    for value in values:
        if value is True:
            return True
        if value is not False:
            result = value if result is False else (result | value)
    return result


def _negate(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    return ~value


def parse(source: str) -> Condition:
    """Parse and check a condition; raise ExpressionError with a column on any problem."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error: {exc.msg}", exc.offset or 1) from None
    _check(tree)
    return Condition(source, tree)


def _check(node: ast.AST) -> None:
    column = getattr(node, "col_offset", 0) + 1
    if isinstance(node, ast.BoolOp | ast.UnaryOp):
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not | ast.USub):
            raise ExpressionError("only `not` and unary minus are allowed", column)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.boolop | ast.unaryop):
                _check(child)
        return
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1:
            raise ExpressionError("chain comparisons with `and`", column)
        _check(node.left)
        _check(node.comparators[0])
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionError("only + - * / are allowed", column)
        _check(node.left)
        _check(node.right)
        return
    if isinstance(node, ast.Name):
        if node.id not in BY_NAME:
            known = ", ".join(sorted(BY_NAME))
            raise ExpressionError(f"unknown feature {node.id!r}; known: {known}", column)
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ExpressionError("only numeric constants are allowed", column)
        return
    if isinstance(node, ast.Call):
        _check_call(node, column)
        return
    raise ExpressionError(f"{type(node).__name__} is not allowed in a condition", column)


def _check_call(node: ast.Call, column: int) -> None:
    if not isinstance(node.func, ast.Name) or node.keywords:
        raise ExpressionError("only min(), max() and pNN(feature) calls are allowed", column)
    name = node.func.id
    if name in ("min", "max"):
        if len(node.args) < 2:
            raise ExpressionError(f"{name}() takes at least two arguments", column)
        for arg in node.args:
            _check(arg)
        return
    match = _PERCENTILE.match(name)
    if not match:
        raise ExpressionError(f"unknown function {name!r}", column)
    if len(node.args) != 1 or not isinstance(node.args[0], ast.Name):
        raise ExpressionError(f"{name}() takes one feature name", column)
    _check(node.args[0])
    if not 0 < _quantile(match) < 100:
        raise ExpressionError(f"{name}: percentile must be between 0 and 100", column)


def _quantile(match: re.Match[str]) -> float:
    whole, frac = match.group(1), match.group(2)
    return float(f"{whole}.{frac}") if frac else float(whole)


def _arg_name(call: ast.Call) -> str:
    arg = call.args[0]
    assert isinstance(arg, ast.Name)
    return arg.id


def _copy(tree: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(tree), mode="eval").body


class _Resolver(ast.NodeTransformer):
    def __init__(self, values: Mapping[Percentile, float]) -> None:
        self.values = values

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if isinstance(node.func, ast.Name):
            match = _PERCENTILE.match(node.func.id)
            if match:
                key = Percentile(_arg_name(node), _quantile(match))
                if key not in self.values:
                    raise ExpressionError(f"percentile {key} was not calibrated")
                return ast.copy_location(ast.Constant(float(self.values[key])), node)
        self.generic_visit(node)
        return node


def _eval(
    node: ast.expr,
    names: Mapping[str, Any],
    *,
    ibis_mode: bool = False,
    ibis_module: Any = None,
) -> Any:
    def ev(n: ast.expr) -> Any:
        return _eval(n, names, ibis_mode=ibis_mode, ibis_module=ibis_module)

    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names[node.id]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](ev(node.left), ev(node.right))
    if isinstance(node, ast.UnaryOp):
        operand = ev(node.operand)
        if isinstance(node.op, ast.USub):
            return -operand
        return ~operand if ibis_mode else not operand
    if isinstance(node, ast.Compare):
        return _COMPARE[type(node.ops[0])](ev(node.left), ev(node.comparators[0]))
    if isinstance(node, ast.BoolOp):
        values = [ev(v) for v in node.values]
        result = values[0]
        for value in values[1:]:
            if isinstance(node.op, ast.And):
                result = (result & value) if ibis_mode else (result and value)
            else:
                result = (result | value) if ibis_mode else (result or value)
        return result
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [ev(a) for a in node.args]
        if node.func.id in ("min", "max"):
            if ibis_mode and any(not isinstance(a, int | float) for a in args):
                fn = ibis_module.least if node.func.id == "min" else ibis_module.greatest
                return fn(*args)
            return min(args) if node.func.id == "min" else max(args)
        raise ExpressionError(f"unresolved percentile {ast.unparse(node)}")
    raise ExpressionError(f"cannot evaluate {ast.unparse(node)}")


def _and(*values: Any) -> Any:
    """`and` over values all evaluated first, as `_eval` does (no short-circuit: a term that
    raises raises even after a false one, and the caller's handling of it is kept)."""
    result = values[0]
    for value in values[1:]:
        result = result and value
    return result


def _or(*values: Any) -> Any:
    result = values[0]
    for value in values[1:]:
        result = result or value
    return result


_SOURCE_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_SOURCE_COMPARE = {ast.Gt: ">", ast.GtE: ">=", ast.Lt: "<", ast.LtE: "<=", ast.Eq: "==",
                   ast.NotEq: "!="}


def _compile(tree: ast.expr) -> Callable[[Mapping[str, Any]], Any]:
    """A function of the feature mapping computing `_eval(tree, features)`; a tree with a
    node `_eval` cannot evaluate keeps `_eval` (which raises its error when called)."""
    constants: list[Any] = []

    def emit(node: ast.expr) -> str:
        if isinstance(node, ast.Constant):
            constants.append(node.value)
            return f"_c[{len(constants) - 1}]"
        if isinstance(node, ast.Name):
            return f"_f[{node.id!r}]"
        if isinstance(node, ast.BinOp) and type(node.op) in _SOURCE_BINARY:
            return f"({emit(node.left)} {_SOURCE_BINARY[type(node.op)]} {emit(node.right)})"
        if isinstance(node, ast.UnaryOp):
            return f"(-{emit(node.operand)})" if isinstance(node.op, ast.USub) else (
                f"(not {emit(node.operand)})")
        if isinstance(node, ast.Compare) and type(node.ops[0]) in _SOURCE_COMPARE:
            return (f"({emit(node.left)} {_SOURCE_COMPARE[type(node.ops[0])]} "
                    f"{emit(node.comparators[0])})")
        if isinstance(node, ast.BoolOp):
            helper = "_and" if isinstance(node.op, ast.And) else "_or"
            return f"{helper}({', '.join(emit(v) for v in node.values)})"
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("min", "max") and node.args):
            return f"{node.func.id}(({', '.join(emit(a) for a in node.args)},))"
        raise ExpressionError(f"cannot evaluate {ast.unparse(node)}")

    try:
        source = emit(tree)
    except ExpressionError:
        return functools.partial(_eval, tree)
    namespace = {"__builtins__": {}, "_c": constants, "_and": _and, "_or": _or,
                 "min": min, "max": max}
    function: Callable[[Mapping[str, Any]], Any] = eval(  # built from the checked tree only
        f"lambda _f: {source}", namespace)
    return function


def _conjuncts(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return [c for v in node.values for c in _conjuncts(v)]
    return [node]


def _lower_bound(node: ast.expr) -> tuple[str, float] | None:
    """`feature >= c`, `feature > c`, `c <= feature`, `c < feature` with a constant c."""
    if not isinstance(node, ast.Compare):
        return None
    left, op, right = node.left, node.ops[0], node.comparators[0]
    if isinstance(op, ast.Lt | ast.LtE):
        left, right = right, left
        op = ast.GtE() if isinstance(op, ast.LtE) else ast.Gt()
    if not isinstance(op, ast.Gt | ast.GtE) or not isinstance(left, ast.Name):
        return None
    try:
        value = float(_eval(right, {}))
    except (KeyError, ExpressionError):
        return None
    return left.id, value
