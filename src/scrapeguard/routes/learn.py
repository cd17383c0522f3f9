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
    SELECT path, path_only, template, is_static, route_index, coalesce(route_item, record_item)
               AS item,
           regexp_matches(path, '{asset_query}') AS asset_q
    FROM "{paths}"
),
refs AS (
    SELECT referer, nullif(regexp_extract(referer, '^{referer}', 1), '') AS ref_path
    FROM (SELECT DISTINCT referer FROM "{events}" WHERE referer IS NOT NULL)
),
ev AS (
    SELECT e.ts,
           coalesce(e.account, e.ip) AS client,
           CASE WHEN upper(e.method) IN ('GET', 'HEAD') OR e.method IS NULL THEN 'read'
                WHEN upper(e.method) = 'OPTIONS' THEN 'preflight'
                ELSE 'write' END AS mgroup,
           p.template, p.path_only, p.is_static, p.route_index, p.item, p.asset_q, e.path,
           e.status, e.subjects IS NOT NULL AS has_list,
           coalesce(len(e.subjects), 0) > 0 AS names_people,
           r.ref_path
    FROM "{events}" e JOIN paths p ON e.path = p.path
    LEFT JOIN refs r ON e.referer = r.referer
),
pages AS (
    SELECT client, path_only AS page, ts FROM ev WHERE mgroup = 'read' AND NOT is_static
),
followers AS (
    -- Only reads that name another page as referer can be a browser's sub-resource fetch.
    SELECT client, ts, template, ref_path FROM ev
    WHERE mgroup = 'read' AND NOT is_static AND ref_path IS NOT NULL AND ref_path <> path_only
),
after_page AS (
    SELECT f.template, count(DISTINCT f.client) AS after_page_clients
    FROM followers f ASOF JOIN pages p
      ON f.client = p.client AND f.ref_path = p.page AND f.ts >= p.ts
    WHERE f.ts - p.ts <= INTERVAL {after} SECOND
    GROUP BY f.template
),
totals AS (
    SELECT template, mgroup,
           count(*) AS requests,
           count(DISTINCT client) AS clients,
           count(DISTINCT item) AS ids,
           count(DISTINCT path) AS paths,
           count(DISTINCT path) FILTER (WHERE asset_q) AS asset_paths,
           count(DISTINCT client) FILTER (WHERE asset_q) AS asset_clients,
           avg(CASE WHEN is_static THEN 1 ELSE 0 END) AS static_share,
           avg(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS error_share,
           avg(CASE WHEN has_list THEN 1 ELSE 0 END) AS list_share,
           bool_or(names_people) AS names_people,
           min(route_index) AS route_index
    FROM ev
    GROUP BY template, mgroup
)
SELECT t.*, CASE WHEN t.mgroup = 'read' THEN coalesce(a.after_page_clients, 0) ELSE 0 END
           AS after_page_clients
FROM totals t LEFT JOIN after_page a ON t.template = a.template
"""


def learn(backend: Any, events: str, paths: ir.Table, policy: Policy) -> RouteTable:
    """The route table of the log in table `events`, given the per-path table of lookups."""
    paths_name = paths.get_name().rsplit(".", 1)[-1]
    sql = _SQL.format(events=events, paths=paths_name, referer=REFERER_PATH,
                      asset_query=ASSET_QUERY.replace("'", "''"), after=AFTER_PAGE_SECONDS)
    cursor = backend.con.execute(sql)
    names = [column[0] for column in cursor.description]
    stats = [TemplateStats(**{k: _plain(v) for k, v in zip(names, row, strict=True)})
             for row in cursor.fetchall()]
    return classify(stats, policy)


def _plain(value: Any) -> Any:
    """pandas' NaN and numpy scalars to Python values."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
