"""The script spark-submit runs: `scrapeguard` with its arguments, on the cluster's session.

    spark-submit --master yarn --deploy-mode client \\
        "$(python -c 'import scrapeguard.engines.spark.submit as m; print(m.__file__)')" \\
        analyze 'hdfs:///logs/2026-12-0*/access.log.gz' --engine spark --decisions out.jsonl

Only the driver needs scrapeguard installed: every step runs as Spark SQL in the executors'
JVMs, with no Python UDF (see docs/scale.md).
"""

from __future__ import annotations

from scrapeguard.cli import app

if __name__ == "__main__":
    app()
