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
WITH ev AS (
    SELECT e.ts,
           coalesce(e.account, e.ip) AS client,
           CASE WHEN upper(e.method) IN ('GET', 'HEAD') OR e.method IS NULL THEN 'read'
                WHEN upper(e.method) = 'OPTIONS' THEN 'preflight'
                ELSE 'write' END AS mgroup,
           p.template, p.path_only, p.is_static, p.route_index, p.route_item, p.record_item, e.path,
           e.bytes, e.status,
           e.subjects IS NOT NULL AS has_list,
           coalesce(len(e.subjects), 0) > 0 AS names_people,
           nullif(regexp_extract(e.referer, '^{referer}', 1), '') AS ref_path
    FROM "{events}" e JOIN "{paths}" p ON e.path = p.path
),
pages AS (
    SELECT client, path_only AS page, ts FROM ev WHERE mgroup = 'read' AND NOT is_static
),
linked AS (
    SELECT ev.*, pages.ts AS page_ts
    FROM ev ASOF LEFT JOIN pages
      ON ev.client = pages.client AND ev.ref_path = pages.page AND ev.ts >= pages.ts
)
SELECT template, mgroup,
       count(*) AS requests,
       count(DISTINCT client) AS clients,
       count(DISTINCT coalesce(route_item, record_item)) AS ids,
       count(DISTINCT path) AS paths,
       count(DISTINCT path) FILTER (WHERE regexp_matches(path, '{asset_query}')) AS asset_paths,
       avg(CASE WHEN is_static THEN 1 ELSE 0 END) AS static_share,
       avg(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS error_share,
       count(DISTINCT client) FILTER (
           WHERE page_ts IS NOT NULL AND ref_path <> path_only
             AND ts - page_ts <= INTERVAL {after} SECOND) AS after_page_clients,
       avg(CASE WHEN has_list THEN 1 ELSE 0 END) AS list_share,
       bool_or(names_people) AS names_people,
       min(route_index) AS route_index,
       median(bytes) AS median_bytes
FROM linked
GROUP BY template, mgroup
"""


def learn(backend: Any, events: str, paths: ir.Table, policy: Policy) -> RouteTable:
    """The route table of the log in table `events`, given the per-path table of lookups."""
    paths_name = paths.get_name().rsplit(".", 1)[-1]
    sql = _SQL.format(events=events, paths=paths_name, referer=REFERER_PATH.pattern,
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
