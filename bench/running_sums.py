"""Running totals per (actor, window) on DuckDB: the order of the partition keys.

    python bench/running_sums.py bench/out/access-1000000-seed1-numpy.log
    python bench/running_sums.py LOG --repeat 9

`analyze` runs over LOG in this process and keeps its connection; the largest replay table it
wrote (`batch._evaluate_group`: the rows of the (actor, window) groups a rule could hold in)
is the input. The same running sums (`running.running_sums`) of its 0/1 columns, partitioned
by (actor, bucket) — the baseline, the order the engine used — and by (bucket, actor), the
order it uses now, run over that table in alternating order on the run's connection. Prints
each form's median seconds, their ratio, and whether the two gave equal totals (they must:
the groups are the same). On the 1M-line bench log the largest replay table is a referral
campaign whose one actor holds two thirds of its 351k rows; a synthetic table of random
64-bit actors does not show the difference, so the figure is taken on a log's own rows.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import ibis

from scrapeguard import analysis
from scrapeguard.engines.running import running_sums

FLAGS = ("one", "is_static", "is_subject_route", "is_page", "has_referer", "is_miss")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("log", help="access log to analyze (the bench log: bench/analyze.py)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"analyzing {args.log} ...", file=sys.stderr)
    con = analysis.analyze([args.log], keep_connection=True).connection
    replays = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() "
                          "WHERE table_name LIKE '_replay_%' ORDER BY 2 DESC").fetchall()
    if not replays:
        print("no replay table: no rule could hold on this log", file=sys.stderr)
        return 1
    replay = replays[0][0]
    table = ibis.duckdb.from_connection(con).table(replay)
    columns = [c for c in FLAGS if c in table.columns]
    sql: dict[str, str] = {}
    for form, keys in (("(actor, bucket) - baseline", ["actor", "bucket"]),
                       ("(bucket, actor) - the engine's", ["bucket", "actor"])):
        summed = running_sums(table, keys, {f"_r_{c}": table[c] for c in columns})
        totals = summed.aggregate([summed[f"_r_{c}"].sum().name(c) for c in columns])
        sql[form] = str(ibis.to_sql(totals, dialect="duckdb"))
    times: dict[str, list[float]] = {form: [] for form in sql}
    results: dict[str, object] = {}
    for run in range(args.repeat):
        for form in (list(sql) if run % 2 == 0 else list(reversed(sql))):
            start = time.perf_counter()
            results[form] = con.execute(sql[form]).fetchall()
            times[form].append(time.perf_counter() - start)
    rows, actors, biggest = con.execute(
        f'SELECT count(*), count(DISTINCT actor), max(n) FROM (SELECT actor, count(*) '
        f'OVER (PARTITION BY actor) AS n FROM "{replay}")').fetchall()[0]
    print(f"{replay}: {rows:,} rows, {actors:,} actors, the largest {biggest:,} rows; "
          f"{len(columns)} running sums, medians of {args.repeat}")
    medians = {form: statistics.median(values) for form, values in times.items()}
    for form, value in medians.items():
        print(f"  partitioned by {form:32s} {value:7.3f} s")
    base, ours = medians.values()
    print(f"  ratio (baseline / engine's){'':21s} {base / ours:7.2f}x")
    same = len({repr(r) for r in results.values()}) == 1
    print(f"  equal totals: {'yes' if same else 'NO'}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
