"""Learn what each template is from the log itself: one aggregation per (template, methods).

Everything per event happens in DuckDB; Python only reads one row per template (a site has
hundreds to a few thousand) and weighs the evidence (`classify.py`). Evidence counts distinct
clients — the account, else the address — never requests, so one harvester fetching a person
route the way a browser fetches a thumbnail, however often, stays one client out of many.
"""

from __future__ import annotations

from typing import Any

import ibis.expr.types as ir

from scrapeguard.engines.lookups import REFERER_PATH
from scrapeguard.policy.model import Policy
from scrapeguard.routes.classify import TemplateStats, classify
from scrapeguard.routes.model import RouteTable
from scrapeguard.routes.vocabulary import ASSET_QUERY

AFTER_PAGE_SECONDS = 5
"""A browser fetches a page's images and scripts within seconds of the page; people take
longer than this to read a page and click a link on it."""

_SQL = """
WITH paths AS (
    -- Per distinct path, not per event: its strings become 64-bit keys here, once.
    SELECT path, hash(template) AS template_key, {key_page} AS page_key, is_static,
           route_index, {key_item} AS item_key, hash(path) AS path_key,
           regexp_matches(path, '{asset_query}') AS asset_q
    FROM "{paths}"
),
refs AS (
    SELECT referer, {key_ref} AS ref_page_key
    FROM (SELECT referer, nullif(regexp_extract(referer, '^{referer}', 1), '') AS ref_path
          FROM (SELECT DISTINCT referer FROM "{events}" WHERE referer IS NOT NULL))
),
ev AS (
    SELECT e.ts,
           {key_client} AS client,
           CASE WHEN upper(e.method) IN ('GET', 'HEAD') OR e.method IS NULL THEN 0
                WHEN upper(e.method) = 'OPTIONS' THEN 1
                ELSE 2 END AS mgroup,
           p.template_key, p.page_key, p.is_static, p.route_index, p.item_key, p.asset_q,
           p.path_key, e.status, e.subjects IS NOT NULL AS has_list,
           coalesce(len(e.subjects), 0) > 0 AS names_people,
           r.ref_page_key
    FROM "{events}" e JOIN paths p ON e.path = p.path
    LEFT JOIN refs r ON e.referer = r.referer
),
pages AS (
    SELECT client, page_key, ts FROM ev WHERE mgroup = 0 AND NOT is_static
),
followers AS (
    -- Only reads that name another page as referer can be a browser's sub-resource fetch.
    SELECT client, ts, template_key, ref_page_key FROM ev
    WHERE mgroup = 0 AND NOT is_static AND ref_page_key IS NOT NULL
      AND ref_page_key <> page_key
),
after_page AS (
    SELECT f.template_key, count(DISTINCT f.client) AS after_page_clients
    FROM followers f ASOF JOIN pages p
      ON f.client = p.client AND f.ref_page_key = p.page_key AND f.ts >= p.ts
    WHERE f.ts - p.ts <= INTERVAL {after} SECOND
    GROUP BY f.template_key
),
rendered AS (
    -- A page's own assets asked for with it as referer: a browser rendered it as a document,
    -- which no image or script ever is (the tab's icon aside).
    SELECT d.template_key, count(DISTINCT e.client) AS rendered_clients
    FROM ev e JOIN (SELECT DISTINCT page_key, template_key FROM paths WHERE NOT is_static) d
      ON e.ref_page_key = d.page_key
    WHERE e.mgroup = 0 AND e.is_static AND e.path_key <> hash('/favicon.ico')
    GROUP BY d.template_key
),
totals AS (
    SELECT template_key, mgroup,
           count(*) AS requests,
           count(DISTINCT client) AS clients,
           count(DISTINCT item_key) AS ids,
           count(DISTINCT path_key) AS paths,
           count(DISTINCT path_key) FILTER (WHERE asset_q) AS asset_paths,
           count(DISTINCT client) FILTER (WHERE asset_q) AS asset_clients,
           avg(CASE WHEN is_static THEN 1 ELSE 0 END) AS static_share,
           avg(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS error_share,
           avg(CASE WHEN has_list THEN 1 ELSE 0 END) AS list_share,
           bool_or(names_people) AS names_people,
           min(route_index) AS route_index
    FROM ev
    GROUP BY template_key, mgroup
),
names AS (
    SELECT DISTINCT hash(template) AS template_key, template FROM "{paths}"
)
SELECT n.template, ['read', 'preflight', 'write'][t.mgroup + 1] AS mgroup,
       t.* EXCLUDE (template_key, mgroup),
       CASE WHEN t.mgroup = 0 THEN coalesce(a.after_page_clients, 0) ELSE 0 END
           AS after_page_clients,
       CASE WHEN t.mgroup = 0 THEN coalesce(r.rendered_clients, 0) ELSE 0 END
           AS rendered_clients
FROM totals t JOIN names n ON t.template_key = n.template_key
LEFT JOIN after_page a ON t.template_key = a.template_key
LEFT JOIN rendered r ON t.template_key = r.template_key
"""


def learn(backend: Any, events: str, paths: ir.Table, policy: Policy) -> RouteTable:
    """The route table of the log in table `events`, given the per-path table of lookups."""
    paths_name = paths.get_name().rsplit(".", 1)[-1]
    sql = _SQL.format(events=events, paths=paths_name, referer=REFERER_PATH,
                      asset_query=ASSET_QUERY.replace("'", "''"), after=AFTER_PAGE_SECONDS,
                      key_client=_key("coalesce(e.account, e.ip)"), key_page=_key("path_only"),
                      key_item=_key("coalesce(route_item, record_item)"),
                      key_ref=_key("ref_path"))
    cursor = backend.con.execute(sql)
    names = [column[0] for column in cursor.description]
    # DuckDB's cursor gives Python values (no NaN: every group has rows to average).
    stats = [TemplateStats(**dict(zip(names, row, strict=True))) for row in cursor.fetchall()]
    return classify(stats, policy)


def _key(column: str) -> str:
    """`lookups.key` in SQL: a 64-bit hash standing for the string; null stays null (DuckDB
    hashes null to a value, which would count as one more distinct id)."""
    return f"CASE WHEN {column} IS NULL THEN NULL ELSE hash({column}) END"

