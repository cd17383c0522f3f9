"""A Spark session and an Ibis backend whose SQL means what DuckDB's means.

Ibis compiles one expression to both dialects, but a few functions of the same name differ:
Spark's `hash` is 32-bit (keys would collide from ~65k distinct strings on: a distinct
count would be off by one), Java's regex replacement writes group references as `$1` where
RE2 writes `\\1`, and Spark's `split` takes a regular expression where DuckDB's takes the
text. The compiler below spells those three the DuckDB way; `tests/test_spark.py` holds the
decisions of both engines equal.
"""

from __future__ import annotations

import logging
import os
import re
import time
import warnings
from typing import Any, ClassVar

import ibis
import ibis.expr.operations as ops
import sqlglot.expressions as sge

# pyspark 4 warns on import that it has not been tested with pandas 3; nothing here converts
# frames through pyspark's pandas path
warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas", FutureWarning)

from ibis.backends.pyspark import Backend as _PySparkBackend  # noqa: E402
from ibis.backends.sql.compilers.pyspark import (  # noqa: E402
    PySparkCompiler,
    offset_to_filter,
)

log = logging.getLogger(__name__)

MASTER_ENV = "SCRAPEGUARD_SPARK_MASTER"
"""Spark master for `--engine spark` outside spark-submit; default `local[2]`."""

LOCAL_SHUFFLE_PARTITIONS = 4
"""Local mode: Spark's default 200 shuffle partitions cost more to schedule than to run."""


class _Compiler(PySparkCompiler):  # type: ignore[misc]
    """PySpark SQL with DuckDB's meaning for hash, regex replacement and split."""

    SIMPLE_OPS: ClassVar[dict[Any, str]] = {**PySparkCompiler.SIMPLE_OPS, ops.Hash: "xxhash64"}
    # Spark has had OFFSET since 3.4: Ibis' emulation numbers rows over no order, which
    # loses the ORDER BY that an offset means anything under (`sitefacts.py`).
    rewrites = PySparkCompiler.rewrites[1:]

    def visit_RegexReplace(self, op: Any, *, arg: Any, pattern: Any, replacement: Any) -> Any:
        value = getattr(op.replacement, "value", None)
        if isinstance(value, str):  # RE2's \1 is Java's $1; a literal $ is escaped
            java = re.sub(r"\\(\d)", r"$\1", value.replace("$", r"\$"))
            replacement = sge.convert(java)
        return self.f.regexp_replace(arg, pattern, replacement)

    def visit_StringSplit(self, op: Any, *, arg: Any, delimiter: Any) -> Any:
        value = getattr(op.delimiter, "value", None)
        if isinstance(value, str):  # the text itself, not a pattern
            delimiter = sge.convert(r"\Q" + value + r"\E")
        return self.f.split(arg, delimiter)


assert PySparkCompiler.rewrites[0] is offset_to_filter, "Ibis changed its PySpark rewrites"


class SparkBackend(_PySparkBackend):  # type: ignore[misc]
    """Ibis' PySpark backend with the compiler above."""

    compiler = _Compiler()


def spark_session(master: str | None = None) -> Any:
    """The session `--engine spark` runs in: spark-submit's when there is one, else local."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName("scrapeguard-analyze")
    chosen = master or os.environ.get(MASTER_ENV)
    # Under spark-submit the JVM started this Python and holds the master it was given.
    if chosen or "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = builder.master(chosen or "local[2]")
    session = (builder
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false")
               .config("spark.sql.ansi.enabled", "false")
               .getOrCreate())
    if str(session.sparkContext.master).startswith("local"):
        session.conf.set("spark.sql.shuffle.partitions", str(LOCAL_SHUFFLE_PARTITIONS))
    session.sparkContext.setLogLevel("ERROR")
    return session


def connect(session: Any | None = None) -> SparkBackend:
    _ = ibis.pyspark  # loading the entry point registers `ibis.options.pyspark`
    backend = SparkBackend()
    backend.do_connect(session or spark_session())
    return backend


def materialize(backend: SparkBackend, table: Any, name: str) -> Any:
    """Compute once and keep it (`lookups.materialize` on DuckDB): later steps read the
    result, not its whole lineage again."""
    started = time.perf_counter()
    backend._run_pre_execute_hooks(table)  # registers the memtables it reads
    frame = backend._session.sql(backend.compile(table)).localCheckpoint(eager=True)
    frame.createOrReplaceTempView(name)
    log.debug("spark: %s in %.2f s", name, time.perf_counter() - started)
    return backend.table(name)
