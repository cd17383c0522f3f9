"""The Spark twins of the enrichment steps DuckDB runs as its own SQL (`enrich.DuckDBSteps`).

Each is built from the same definition as its DuckDB twin: canonical spellings from
`canonical.py`'s candidate patterns and functions (the few distinct values that may change
go through Python, as on DuckDB), agents and verified crawlers from `lookups.agent_table` and
`lookups.verified_table`, sequential steps from `enrich.seq_steps`, and route learning from
`routes/learn.py`'s own query, transpiled from DuckDB to Spark SQL by sqlglot with the one
construct Spark lacks (the ASOF join) spelled as a window.
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir
import sqlglot
import sqlglot.expressions as sge

from scrapeguard import canonical
from scrapeguard.engines import lookups
from scrapeguard.engines.enrich import seq_steps
from scrapeguard.engines.lookups import REFERER_PATH
from scrapeguard.engines.spark.session import SparkBackend, materialize
from scrapeguard.policy.model import Policy
from scrapeguard.routes import learn as route_learning
from scrapeguard.routes.classify import TemplateStats, classify
from scrapeguard.routes.model import RouteTable
from scrapeguard.routes.vocabulary import ASSET_QUERY

_AFTER_PAGE = """after_page AS (
    -- ASOF JOIN on Spark: the latest page of (client, page) at or before each follower
    SELECT template_key, count(DISTINCT client) AS after_page_clients
    FROM (
        SELECT client, ts, template_key, is_follower,
               max(CASE WHEN NOT is_follower THEN ts END) OVER (
                   PARTITION BY client, page_key ORDER BY ts, is_follower
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS page_ts
        FROM (SELECT client, page_key, ts, NULL AS template_key, false AS is_follower
              FROM pages WHERE client IS NOT NULL AND page_key IS NOT NULL
              UNION ALL
              SELECT client, ref_page_key, ts, template_key, true
              FROM followers WHERE client IS NOT NULL))
    WHERE is_follower AND page_ts IS NOT NULL
      AND ts - page_ts <= INTERVAL {after} SECOND
    GROUP BY template_key
),
"""
_MGROUP = "['read', 'preflight', 'write'][t.mgroup + 1]"
_MGROUP_SPARK = "CASE t.mgroup WHEN 0 THEN 'read' WHEN 1 THEN 'preflight' ELSE 'write' END"
_TOTALS = ("requests", "clients", "ids", "paths", "asset_paths", "asset_clients",
           "static_share", "error_share", "list_share", "names_people", "route_index")


def learn_sql(events: str, paths: str) -> str:
    """`routes/learn.py`'s query in Spark SQL."""
    sql = route_learning._SQL.format(
        events=events, paths=paths, referer=REFERER_PATH,
        asset_query=ASSET_QUERY.replace("'", "''"), after=route_learning.AFTER_PAGE_SECONDS,
        key_client=route_learning._key("coalesce(e.account, e.ip)"),
        key_page=route_learning._key("path_only"),
        key_item=route_learning._key("coalesce(route_item, record_item)"),
        key_ref=route_learning._key("ref_path"))
    sql, n = re.subn(r"after_page AS \(.*?\n\),\n",
                     _AFTER_PAGE.format(after=route_learning.AFTER_PAGE_SECONDS), sql,
                     flags=re.S)
    sql = sql.replace(_MGROUP, _MGROUP_SPARK)
    sql = sql.replace("t.* EXCLUDE (template_key, mgroup)",
                      ", ".join(f"t.{c}" for c in _TOTALS))
    if n != 1 or _MGROUP_SPARK not in sql or "EXCLUDE" in sql:
        raise RuntimeError("routes/learn.py's query changed: update engines/spark/steps.py")
    tree = sqlglot.parse_one(sql, read="duckdb")

    def spark_terms(node: sge.Expression) -> sge.Expression:
        if isinstance(node, sge.Anonymous) and str(node.this).lower() == "hash":
            return sge.Anonymous(this="xxhash64", expressions=node.expressions)
        if isinstance(node, sge.Length) and "subjects" in node.this.sql():
            return sge.Anonymous(this="size", expressions=[node.this])
        return node

    return tree.transform(spark_terms).sql(dialect="spark")


class SparkSteps:
    """`enrich.DuckDBSteps` on a Spark backend."""

    def __init__(self, backend: SparkBackend) -> None:
        self.backend = backend
        self.session = backend._session

    def rewrite_events(self, table: str) -> None:
        events = self.backend.table(table)
        for column, candidate, spell in (
                ("path", canonical.PATH_CANDIDATE, canonical.canonical_path),
                ("ip", canonical.IP_CANDIDATE, canonical.canonical_ip)):
            col = events[column]
            written = (events.filter(col.re_search(candidate)).select(v=col).distinct()
                       .to_pyarrow().column("v").to_pylist())
            changed = [(text, spell(text)) for text in written if spell(text) != text]
            if not changed:
                continue
            raw, canon = zip(*changed, strict=True)
            mapping = ibis.memtable({"_raw": list(raw), "_canon": list(canon)},
                                    schema={"_raw": "string", "_canon": "string"})
            joined = events.left_join(mapping, col == mapping._raw)
            events = materialize(self.backend, joined.mutate(
                **{column: ibis.coalesce(joined._canon, joined[column])}
            ).drop("_raw", "_canon"), table)

    def learn(self, table: str, paths: ir.Table, policy: Policy) -> RouteTable:
        name = paths.get_name().rsplit(".", 1)[-1]
        rows = self.session.sql(learn_sql(table, name)).collect()
        stats = [TemplateStats(**row.asDict()) for row in rows]
        return classify(stats, policy)

    def agents(self, table: str) -> tuple[ir.Table, list[str]]:
        events = self.backend.table(table)
        uas = [str(ua) for ua in events.select(v=events.ua.fill_null("")).distinct()
               .to_pyarrow().column("v").to_pylist()]
        return lookups.agent_table(self.backend, uas), uas

    def verified_crawlers(self, table: str, policy: Policy, uas: list[str]) -> ir.Table:
        events = self.backend.table(table)

        def pairs_of(claimed: list[str]) -> list[tuple[str, str]]:
            found = (events.filter(events.ua.isin(claimed)).select("ip", "ua").distinct()
                     .to_pyarrow())
            return list(zip(found.column("ip").to_pylist(), found.column("ua").to_pylist(),
                            strict=True))

        return lookups.verified_table(self.backend, policy, uas, pairs_of)

    def explode_subjects(self, table: str) -> str:
        """Access logs carry no subject lists: one row per event, `eid` from parsing."""
        events = self.backend.table(table)
        materialize(self.backend, events.mutate(
            json_item=ibis.null().cast("string"), item_pos=ibis.literal(0, type="int64")),
            "_exploded")
        return "_exploded"

    def mark_seq_steps(self, rows: ir.Table, policy: Policy) -> None:
        steps = materialize(self.backend, seq_steps(rows, policy).mutate(
            _seq=ibis.literal(1, type="int8")), "_steps")
        joined = rows.left_join(steps, ["eid", "item_pos"])
        marked = joined.mutate(is_seq_step=joined._seq.fill_null(0).cast("int8"))
        materialize(self.backend, marked.select(*rows.columns), "enriched")
