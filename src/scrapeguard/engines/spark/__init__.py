"""The batch engine on Apache Spark: the same Ibis definitions, compiled for PySpark.

`analyze --engine spark` runs the pipeline of `analysis.analyze` with a Spark session in
place of DuckDB (`session.py`): log lines are read and parsed by Spark (`parse.py`), and the
few steps the DuckDB engine writes as raw DuckDB SQL have a Spark twin here, built from the
same patterns and constants (`steps.py`). Everything else — per-path facts, the enriched row,
campaigns, every feature's window sums and every rule — is the one Ibis definition both
engines compile. `docs/engine.md` says why; `docs/scale.md` says how to run it on a cluster.
"""
