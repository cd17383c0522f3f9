"""Looking back into a finished analysis: the rows, timelines and evidence of decided actors.

`analyze(..., keep_connection=True)` leaves the engine's tables on its DuckDB connection. The
report needs a few things the decisions do not carry (when each actor was first and last seen,
its activity over time, which kinds of personal data it received, a few raw lines), and
`report affected` needs the subject ids themselves. Everything here starts from the rows of the
*decided* actors (`_report_rows`), selected once by joining on actor keys hashed with the same
ibis expression the engine used (`lookups.key`), so the work after that selection grows with
what those actors did, not with the log, and only aggregates reach Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from scrapeguard.decisions import Decision
from scrapeguard.engines.batch import KIND_COLUMN
from scrapeguard.engines.campaigns import campaign_rows
from scrapeguard.engines.lookups import key, materialize
from scrapeguard.policy.model import Policy

ROW_COLUMNS = ("eid", "item_pos", "ts", "ts_ms", "one", "item_key", "item_weight", "path_key",
               "template_key", "ip_key", "account_key", "session_key", "is_subject_route")
"""What the report reads of each row; `idx` (the decision's position) and `d_first` join it."""


def backend_of(con: Any) -> Any:
    """The ibis backend over a kept analysis connection."""
    return ibis.duckdb.from_connection(con)


def decided_rows(con: Any, decisions: Sequence[Decision], policy: Policy) -> ir.Table:
    """Materialize `_report_rows`: every row each decision counted, tagged with its `idx`.

    The same rows the engine counted for the decision (allowlisted rows left out; campaign
    rows from `_campaign_rows`), so the figures here reproduce the decision's own.
    """
    backend = backend_of(con)
    actors = ibis.memtable(
        {"idx": list(range(len(decisions))),
         "d_kind": [d.kind for d in decisions],
         "d_text": [d.actor.split(":", 1)[1] for d in decisions],
         "d_first": [d.first_action_ts for d in decisions]},
        schema={"idx": "int64", "d_kind": "string", "d_text": "string",
                "d_first": "timestamp('UTC')"},
    )
    actors = actors.mutate(d_key=key(actors.d_text))
    parts = []
    for kind in sorted({d.kind for d in decisions}):
        if kind not in KIND_COLUMN:
            continue
        source = _source(backend, kind, policy)
        column = source[KIND_COLUMN[kind]]
        mine = actors.filter(actors.d_kind == kind)
        scoped = source.filter(column.notnull() & source.allow_reason.isnull())
        joined = scoped.inner_join(mine, scoped[KIND_COLUMN[kind]] == mine.d_key)
        parts.append(joined.select("idx", "d_first", *ROW_COLUMNS))
    if not parts:
        empty = backend.table("enriched").select(*ROW_COLUMNS).limit(0)
        parts.append(empty.mutate(idx=ibis.literal(0, "int64"),
                                  d_first=ibis.null("timestamp('UTC')")))
    union = parts[0] if len(parts) == 1 else ibis.union(*parts)
    return materialize(backend, union, "_report_rows")


def _source(backend: Any, kind: str, policy: Policy) -> ir.Table:
    if kind != "campaign":
        return backend.table("enriched")
    found = backend.con.execute(
        "SELECT 1 FROM duckdb_tables() WHERE table_name = '_campaign_rows'").fetchall()
    if not found:
        campaign_rows(backend, backend.table("enriched"), policy)
    return backend.table("_campaign_rows")


def _first_receipts(rows: ir.Table) -> ir.Table:
    """One row per (actor, record): when the actor first received it, and its weight."""
    return (
        rows.filter(rows.item_key.notnull())
        .group_by(["idx", "item_key"])
        .aggregate(first=lambda t: t.ts.min(), w=lambda t: t.item_weight.max(),
                   d_first=lambda t: t.d_first.max())
    )


def exposure(rows: ir.Table) -> dict[int, dict[str, Any]]:
    """Per decision: requests, records, records before its first action, first/last seen,
    and how many addresses, accounts and sessions it spanned."""
    activity = rows.group_by("idx").aggregate(
        requests=lambda t: t.one.sum(),
        first_seen=lambda t: t.ts.min(),
        last_seen=lambda t: t.ts.max(),
        ips=lambda t: t.ip_key.nunique(),
        accounts=lambda t: t.account_key.nunique(),
        sessions=lambda t: t.session_key.nunique(),
    )
    firsts = _first_receipts(rows)
    records = firsts.group_by("idx").aggregate(
        records=lambda t: t.w.sum(),
        before=lambda t: (t.w * (t.first < t.d_first).cast("int64")).sum(),
    )
    frame = activity.left_join(records, "idx").execute()
    return {int(r["idx"]): r for r in frame.to_dict("records")}


def people(rows: ir.Table) -> tuple[int, int]:
    """(records any acted-on actor received, of which some actor received before it was acted
    on): the union over actors, since one harvester often appears under several keys."""
    firsts = _first_receipts(rows)
    per_item = firsts.group_by("item_key").aggregate(
        w=lambda t: t.w.max(),
        early=lambda t: (t.first < t.d_first).cast("int64").max(),
    )
    out = per_item.aggregate(total=per_item.w.sum(),
                             before=(per_item.w * per_item.early).sum()).execute()
    record = out.to_dict("records")[0]
    return _int(record["total"]), _int(record["before"])


def span(con: Any) -> tuple[datetime | None, datetime | None]:
    """First and last event of the whole log."""
    ((first, last),) = con.execute("SELECT min(ts), max(ts) FROM events").fetchall()
    return first, last


def timeline(rows: ir.Table, bucket_ms: int) -> list[dict[str, Any]]:
    """Requests and newly received records per (decision, time bucket), non-empty buckets only.

    A record counts in the bucket where the actor first received it, so an actor's buckets add
    up to its records.
    """
    requests = rows.filter(rows.one == 1).mutate(bucket=rows.ts_ms // bucket_ms) \
        .group_by(["idx", "bucket"]).aggregate(requests=lambda t: t.count())
    with_ms = rows.filter(rows.item_key.notnull())
    firsts = with_ms.group_by(["idx", "item_key"]).aggregate(
        ms=lambda t: t.ts_ms.min(), w=lambda t: t.item_weight.max())
    records = firsts.mutate(bucket=firsts.ms // bucket_ms).group_by(["idx", "bucket"]) \
        .aggregate(records=lambda t: t.w.sum())
    joined = requests.outer_join(records, ["idx", "bucket"])
    frame = joined.select(
        idx=ibis.coalesce(joined.idx, joined.idx_right),
        bucket=ibis.coalesce(joined.bucket, joined.bucket_right),
        requests=joined.requests.fill_null(0),
        records=joined.records.fill_null(0),
    ).order_by(["idx", "bucket"]).execute()
    return [{k: int(v) for k, v in r.items()} for r in frame.to_dict("records")]


def record_fields(con: Any, rows: ir.Table, policy: Policy) -> ir.Table:
    """(idx, item_key, w, field): the kinds of personal data each received record carried.

    A JSON event's own `fields` list wins; otherwise the declared route's `fields`; records
    on inferred routes, or routes that declare none, are `unclassified`.
    """
    backend = backend_of(con)
    routes = ibis.memtable(pa.table(
        {"r_index": pa.array(range(1, len(policy.routes) + 1), pa.int16()),
         "r_fields": pa.array([list(r.fields) for r in policy.routes], pa.list_(pa.string()))}))
    lookup = backend.table("_path_lookup").select("path_key", "route_index")
    items = rows.filter(rows.item_key.notnull())
    if _events_have_fields(con):
        exploded = backend.table("_exploded").select(x_eid="eid", x_fields="fields")
        exploded = exploded.semi_join(items, exploded.x_eid == items.eid).distinct()
        items = items.left_join(exploded, items.eid == exploded.x_eid)
        own = items.x_fields
    else:
        own = ibis.null("array<string>")
        items = items.mutate(x_fields=own)
    items = items.left_join(lookup, items.path_key == lookup.path_key)
    items = items.left_join(routes, items.route_index == routes.r_index)
    chosen = ibis.coalesce(ibis.ifelse(items.x_fields.length() > 0, items.x_fields, ibis.null()),
                           ibis.ifelse(items.r_fields.length() > 0, items.r_fields, ibis.null()),
                           ibis.literal(["unclassified"], "array<string>"))
    return items.select("idx", "item_key", w="item_weight", field=chosen.unnest())


def _events_have_fields(con: Any) -> bool:
    found = con.execute("SELECT 1 FROM events WHERE fields IS NOT NULL LIMIT 1").fetchall()
    return bool(found)


def fields(con: Any, rows: ir.Table, policy: Policy) -> tuple[list[dict[str, Any]],
                                                               list[dict[str, Any]]]:
    """Records by field class: per decision (idx, field, records) and over all of them."""
    pairs = record_fields(con, rows, policy)
    per_actor = pairs.group_by(["idx", "field", "item_key"]).aggregate(w=lambda t: t.w.max()) \
        .group_by(["idx", "field"]).aggregate(records=lambda t: t.w.sum())
    overall = pairs.group_by(["field", "item_key"]).aggregate(w=lambda t: t.w.max()) \
        .group_by("field").aggregate(records=lambda t: t.w.sum())
    return _records(per_actor), _records(overall)


def routes(con: Any, rows: ir.Table) -> list[dict[str, Any]]:
    """Records by route template per decision: where the records were taken from."""
    lookup = backend_of(con).table("_path_lookup").select("template_key", "template").distinct()
    firsts = rows.filter(rows.item_key.notnull()).group_by(["idx", "template_key", "item_key"]) \
        .aggregate(w=lambda t: t.item_weight.max())
    per = firsts.group_by(["idx", "template_key"]).aggregate(records=lambda t: t.w.sum())
    named = per.left_join(lookup, "template_key").select("idx", "template", "records")
    return _records(named)


def catalogue_items(con: Any, rows: ir.Table) -> dict[int, int]:
    """Distinct catalogue items (products, listings) per decision: what a catalogue harvest
    took, counted apart from people's records."""
    enriched = backend_of(con).table("enriched").select("eid", "item_pos", "catalogue_key")
    joined = rows.select("idx", "eid", "item_pos").inner_join(enriched, ["eid", "item_pos"])
    per = joined.filter(joined.catalogue_key.notnull()).group_by("idx").aggregate(
        items=lambda t: t.catalogue_key.nunique()).execute()
    return {int(i): int(n) for i, n in zip(per["idx"], per["items"], strict=True)}


def evidence(con: Any, rows: ir.Table, per_actor: int) -> list[dict[str, Any]]:
    """The first `per_actor` raw events of each decision, oldest first, unredacted; its
    personal-data requests come first, since they show the harvest rather than the home page.

    Events are found again by time, address and path (not by the event number, which would
    mean numbering the whole log again): a probe of the `ts` column, then key comparisons on
    the few events left. Two identical requests in the same millisecond show as one line.
    """
    backend = backend_of(con)
    firsts = rows.filter(rows.one == 1)
    ranked = firsts.mutate(n=ibis.row_number().over(
        group_by=firsts.idx,
        order_by=[firsts.is_subject_route.desc(), firsts.ts_ms, firsts.eid]))
    wanted = ranked.filter(ranked.n < per_actor).select("idx", "ts", "ip_key", "path_key")
    wanted = materialize(backend, wanted, "_report_evidence")
    events = backend.table("events")
    events = events.semi_join(wanted, events.ts == wanted.ts)
    joined = wanted.inner_join(events, [wanted.ts == events.ts, wanted.ip_key == key(events.ip),
                                        wanted.path_key == key(events.path)])
    frame = joined.select(
        "idx", "ts", "ip", "method", "path", "status", "bytes", "ua", "referer", "account",
        subjects=joined.subjects.length(),
    ).distinct().order_by(["idx", "ts", "path"]).execute()
    return [_plain(r) for r in frame.to_dict("records")]


def _records(table: ir.Table) -> list[dict[str, Any]]:
    return [_plain(r) for r in table.execute().to_dict("records")]


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """pandas scalars → Python ints, strings and datetimes; missing → None."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        if value is None or (isinstance(value, float) and value != value):
            out[name] = None
        elif hasattr(value, "to_pydatetime"):
            out[name] = value.to_pydatetime()
        elif hasattr(value, "item"):
            out[name] = value.item()
        else:
            out[name] = value
    return out


def _int(value: Any) -> int:
    return 0 if value is None or value != value else int(value)


def overlaps(rows: ir.Table) -> list[tuple[int, int, int]]:
    """(idx, other idx, shared requests) for decisions that counted the same requests.

    One harvester is often decided under several keys (its address, its account, a
    campaign); the report links them instead of presenting them as strangers.
    """
    firsts = rows.filter(rows.one == 1).select("idx", "eid")
    other = firsts.select(o_idx="idx", o_eid="eid")
    pairs = firsts.inner_join(other, [firsts.eid == other.o_eid, firsts.idx < other.o_idx])
    shared = pairs.group_by(["idx", "o_idx"]).aggregate(shared=lambda t: t.count()).execute()
    return [(int(a), int(b), int(n)) for a, b, n in
            zip(shared["idx"], shared["o_idx"], shared["shared"], strict=True)]
