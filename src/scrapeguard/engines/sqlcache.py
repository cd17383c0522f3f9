"""Compiled SQL, kept: an Ibis expression compiled once is run again without compiling it.

Ibis compiles an expression by rewriting its whole graph, and that costs more than running
the query on a small log: about a second of every `analyze`, whatever the log's size
(docs/engine.md). The SQL depends on nothing but the expression and the versions of Ibis and
sqlglot that compile it, so it is kept under a digest of the expression's graph (operation
types, names, literals, schemas): the same rule pack over the same columns compiles once per
machine, and a log that changes a literal (a measured percentile, the time a site began to
serve its assets) recompiles only the queries that literal is in.

Kept in memory for the run and in files under `SCRAPEGUARD_CACHE_DIR` (default
`$XDG_CACHE_HOME/scrapeguard/sql`, else `~/.cache/scrapeguard/sql`); `SCRAPEGUARD_CACHE_DIR=`
(empty) keeps nothing on disk. A directory that cannot be written only costs the compiling.
An expression over an in-memory table (`ibis.memtable`) is compiled every time: its SQL names
a table Ibis registers under a fresh name each run; the engine writes its small tables into
DuckDB by name instead (`table_of`).
"""

from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import sqlglot.expressions as sge
from ibis.common.graph import Graph, Node
from ibis.formats.pyarrow import PyArrowData

FORMAT = "1"
"""Bumped whenever what is stored, or how it is keyed, changes."""

_MEMORY: dict[str, str] = {}
_VERSIONS = f"ibis {ibis.__version__}, sqlglot {version('sqlglot')}"
"""What else the SQL depends on: the compiler and the SQL generator under it."""


class Uncacheable(Exception):
    """The expression holds something whose SQL is not a function of the graph alone."""


def cache_dir() -> Path | None:
    """Where compiled SQL is kept between runs; None: not kept on disk."""
    configured = os.environ.get("SCRAPEGUARD_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "scrapeguard" / "sql"


def digest(expr: ir.Expr, purpose: str) -> str:
    """A stable name for what compiling `expr` for `purpose` gives; raises `Uncacheable`."""
    ordered = Graph.from_bfs(expr.op()).toposort()  # every node after its arguments
    graph = ordered[0] if isinstance(ordered, tuple) else ordered  # (graph, dependents)
    names: dict[Node, str] = {}
    for node in graph:
        if isinstance(node, ops.InMemoryTable):
            raise Uncacheable(node.name)
        parts = [_type(node)]
        for name, arg in zip(node.__argnames__, node.__args__, strict=True):
            if isinstance(node, ops.DatabaseTable) and name == "source":
                continue  # the connection: the SQL does not name it
            parts.append(f"{name}={_encode(arg, names)}")
        names[node] = _hash("\x1f".join(parts))
    head = f"{FORMAT}|{_VERSIONS}|{purpose}|{names[expr.op()]}"
    return _hash(head)


def _type(value: Any) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def _encode(value: Any, names: Mapping[Node, str]) -> str:
    """An argument as text that two different arguments never share."""
    if isinstance(value, Node):
        return "@" + names[value]
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, tuple | list):
        return "(" + ",".join(_encode(v, names) for v in value) + ")"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{_encode(k, names)}:{_encode(v, names)}"
                              for k, v in value.items()) + "}"
    if isinstance(value, frozenset | set):
        return "<" + ",".join(sorted(_encode(v, names) for v in value)) + ">"
    if hasattr(value, "__argnames__") and hasattr(value, "__args__"):  # dtypes, schemas
        return _type(value) + "(" + ",".join(
            f"{n}={_encode(a, names)}" for n, a in zip(value.__argnames__, value.__args__,
                                                        strict=True)) + ")"
    if isinstance(value, datetime.date | datetime.time | datetime.timedelta | decimal.Decimal):
        return f"{_type(value)}:{value!r}"
    text = repr(value)
    if " at 0x" in text:
        raise Uncacheable(text)
    return f"{_type(value)}:{text}"


def _lookup(key: str) -> str | None:
    found = _MEMORY.get(key)
    if found is not None:
        return found
    folder = cache_dir()
    if folder is None:
        return None
    try:
        found = (folder / f"{key}.sql").read_text()
    except OSError:
        return None
    _MEMORY[key] = found
    return found


def _store(key: str, sql: str) -> None:
    _MEMORY[key] = sql
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as f:
            f.write(sql)
        os.replace(f.name, folder / f"{key}.sql")  # whole or not at all, for a parallel run
    except OSError:
        pass


def _cached(expr: ir.Expr, purpose: str, compile_: Any) -> str:
    try:
        key = digest(expr, purpose)
    except Uncacheable:
        return str(compile_())
    sql = _lookup(key)
    if sql is None:
        sql = str(compile_())
        _store(key, sql)
    return sql


def query_sql(backend: Any, expr: ir.Expr) -> str:
    """`backend.compile(expr)`, compiled once."""
    return _cached(expr, "query", lambda: backend.compile(expr))


def arrow(backend: Any, expr: ir.Expr) -> pa.Table:
    """The rows of `expr` (a table, column or scalar: as a table), as `to_pyarrow` gives them.
    Other backends than DuckDB (Spark) run it through Ibis, uncached."""
    table = expr.as_table()
    if backend.name != "duckdb":
        return table.to_pyarrow()
    backend._run_pre_execute_hooks(table)  # registers in-memory tables, when there are any
    result = backend.con.sql(query_sql(backend, table)).to_arrow_table()
    return table.__pyarrow_result__(result, data_mapper=_Converter)


class _Converter(PyArrowData):  # type: ignore[misc]
    """Ibis' DuckDB result converter (`ibis.backends.duckdb.converter`), whose module imports
    pandas, which nothing else here needs: null-typed columns become nulls."""

    @classmethod
    def convert_scalar(cls, scalar: pa.Scalar, dtype: dt.DataType) -> pa.Scalar:
        return pa.scalar(None) if dtype.is_null() else super().convert_scalar(scalar, dtype)

    @classmethod
    def convert_column(cls, column: pa.Array, dtype: dt.DataType) -> pa.Array:
        return pa.nulls(len(column)) if dtype.is_null() else super().convert_column(column,
                                                                                     dtype)


def materialize(backend: Any, expr: ir.Table, name: str) -> ir.Table:
    """Write `expr` into the DuckDB table `name` (replacing it), the statements Ibis'
    `create_table` would send, compiled once."""
    def compile_() -> str:
        quoted = backend.compiler.quoted
        target = sge.table_(name, quoted=quoted)
        create = sge.Create(kind="TABLE", this=sge.Schema(
            this=target, expressions=expr.schema().to_sqlglot_column_defs(backend.dialect)))
        insert = sge.insert(backend.compiler.to_sqlglot(expr), into=target,
                            columns=[sge.to_identifier(c, quoted=quoted) for c in expr.columns])
        return create.sql(backend.dialect) + ";\n" + insert.sql(backend.dialect)

    statements = _cached(expr, f"table:{name}", compile_)
    backend._run_pre_execute_hooks(expr)
    backend.con.execute(f'DROP TABLE IF EXISTS "{name}"')
    create, insert = statements.split(";\n", 1)
    backend.con.execute(create)
    backend.con.execute(insert)
    return backend.table(name)


ARROW_ROWS = 5_000
"""From this many rows a small table goes to DuckDB through pyarrow, which is faster but
imports pandas on first use (about a third of a second); below it, as JSON text."""


def has_rows(backend: Any, table: ir.Table) -> bool:
    """Whether a materialized table holds any row: one LIMIT 1 on DuckDB, no compiling."""
    if backend.name != "duckdb":
        return bool(table.limit(1).count().execute())
    return backend.con.execute(f'SELECT 1 FROM "{table.get_name()}" LIMIT 1').fetchone() is not None


def table_of(backend: Any, name: str, columns: Mapping[str, list[Any]],
             schema: Mapping[str, Any]) -> ir.Table:
    """A small table from Python values, written into DuckDB as `name`, so that queries over
    it name it the same way every run (an `ibis.memtable` gets a fresh name each time). On
    Spark: the same table as a checkpointed view named `name`."""
    if backend.name == "pyspark":
        from scrapeguard.engines.spark.session import materialize as on_spark

        return on_spark(backend, ibis.memtable(dict(columns), schema=dict(schema)), name)
    ibis_schema = ibis.schema(dict(schema))
    defs = ibis_schema.to_sqlglot_column_defs(backend.dialect)
    target = sge.table_(name, quoted=True)
    create = sge.Create(kind="TABLE", this=sge.Schema(this=target, expressions=defs))
    backend.con.execute(f'DROP TABLE IF EXISTS "{name}"')
    backend.con.execute(create.sql(backend.dialect))
    size = len(next(iter(columns.values()))) if columns else 0
    if size >= ARROW_ROWS:
        arrow_schema = ibis_schema.to_pyarrow()
        rows = pa.Table.from_arrays([pa.array(list(columns[c]), type=arrow_schema.field(c).type)
                                     for c in schema], schema=arrow_schema)
        staging = f"_{name}_arrow"
        backend.con.register(staging, rows)
        try:
            backend.con.execute(f'INSERT INTO "{name}" SELECT * FROM "{staging}"')
        finally:
            backend.con.unregister(staging)
    elif size:
        # One JSON text per column, unnested side by side: DuckDB parses it in one call.
        types = [d.args["kind"].sql(backend.dialect) for d in defs]
        select = ", ".join(f"unnest(from_json(${i + 1}, '[\"{t}\"]'))"
                           for i, t in enumerate(types))
        texts = [json.dumps([_json(v) for v in columns[c]]) for c in schema]
        backend.con.execute(f'INSERT INTO "{name}" SELECT {select}', texts)
    return backend.table(name)


def _json(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.datetime) else value
