"""`report affected`: the people each acted-on actor received, re-read from the logs.

This list is itself personal data, which is why nothing else in scrapeguard keeps it: the
decisions file and the reports hold counts only (docs/design.md, ground rules). It is made only on
an explicit request, by running the same enrichment over the same logs again and selecting the
rows of the decided actors, and is written by DuckDB straight to the file, so a harvest of
millions of people never passes through Python one row at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard.analysis import Progress, analyze
from scrapeguard.decisions import Decision, read_decisions
from scrapeguard.engines import inspect
from scrapeguard.engines.lookups import INFERRED, materialize
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy
from scrapeguard.sources import LogFormat
from scrapeguard.textsafe import csv_cell_sql

CSV_COLUMNS = ("actor", "subject", "first_received", "fields")
ID_SEGMENT = r"^([0-9]+|[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}|[0-9a-fA-F]{8,})$"
"""A path segment that `infer_template` turns into a placeholder (number, UUID, hex)."""
WARNING = ("{out} lists the people whose records were taken: it is personal data. Keep it "
           "only as long as notifying them requires, and share it only with those who must.")


@dataclass
class AffectedResult:
    """What `write_affected` wrote: rows, and the actors they came from."""

    rows: int
    actors: int
    people: int


def write_affected(
    inputs: Sequence[str],
    decisions_file: Path,
    out: Path,
    *,
    policy: Policy | str | None = None,
    fmt: str | LogFormat | None = None,
    strict: bool = False,
    progress: Progress | None = None,
) -> AffectedResult:
    """Write `actor,subject,first_received,fields` for every acting decision in the file.

    `first_received` is UTC (RFC 3339, milliseconds); `fields` the kinds of data, `;`-joined.
    """
    decisions = [d for d in read_decisions(decisions_file) if d.action != "allow"]
    if not isinstance(policy, Policy):
        policy = load_policy(policy)
    analysis = analyze(inputs, policy=policy, fmt=fmt, strict=strict, progress=progress,
                       keep_connection=True)
    con = analysis.connection
    try:
        return _write(con, decisions, policy, out)
    finally:
        con.close()


def _write(con: object, decisions: list[Decision], policy: Policy, out: Path) -> AffectedResult:
    rows = inspect.decided_rows(con, decisions, policy)
    received = subjects_received(con, rows, policy)
    names = ibis.memtable({"n_idx": list(range(len(decisions))),
                           "actor": [d.actor for d in decisions]},
                          schema={"n_idx": "int64", "actor": "string"})
    named = received.inner_join(names, received.idx == names.n_idx)
    table = named.select("actor", "subject", "first_received",
                         fields=named.fields.fill_null(""), order=named.idx)
    backend = inspect.backend_of(con)
    materialize(backend, table, "_affected")
    target = str(out).replace("'", "''")
    backend.con.execute(
        f"COPY (SELECT {csv_cell_sql('actor')} AS actor, {csv_cell_sql('subject')} AS subject, "
        "strftime(timezone('UTC', first_received), '%Y-%m-%dT%H:%M:%S.%gZ') AS first_received, "
        f"{csv_cell_sql('fields')} AS fields "
        f"FROM _affected ORDER BY \"order\", first_received, subject) TO '{target}' "
        "(HEADER, DELIMITER ',')"
    )
    ((count, people),) = backend.con.execute(
        "SELECT count(*), count(DISTINCT subject) FROM _affected").fetchall()
    return AffectedResult(rows=int(count), actors=len(decisions), people=int(people))


def subjects_received(con: Any, rows: ir.Table, policy: Policy) -> ir.Table:
    """(idx, subject, first_received, fields) for every subject each decision received.

    The subject is the id as the log named it: a JSON event's subject, the captured value of a
    declared route, the id segments of an inferred route's path, or a list page's path.
    """
    backend = inspect.backend_of(con)
    items = rows.filter(rows.item_key.notnull())
    exploded = backend.table("_exploded").select(
        x_eid="eid", x_pos="item_pos", json_item="json_item", path="path", x_fields="fields")
    exploded = exploded.semi_join(items, exploded.x_eid == items.eid)
    joined = items.inner_join(exploded, [items.eid == exploded.x_eid,
                                         items.item_pos == exploded.x_pos])
    paths = backend.table("_paths").select(p_path="path", path_only="path_only",
                                           route_item="route_item")
    lookup = backend.table("_path_lookup").select(l_path="path", route_index="route_index")
    joined = joined.left_join(paths, joined.path == paths.p_path)
    joined = joined.left_join(lookup, joined.path == lookup.l_path)
    pairs = inspect.record_fields(con, rows, policy).select(
        f_idx="idx", f_item="item_key", field="field")
    id_segments = joined.path_only.split("/").filter(lambda s: s.re_search(ID_SEGMENT)).join("/")
    subject = ibis.cases(
        (joined.json_item.notnull(), joined.json_item),
        (joined.route_index == INFERRED, id_segments),
        (joined.route_item.notnull(), joined.route_item.re_extract(r"^[^:]*:(.*)$", 1)),
        else_=joined.path,
    )
    subjects = joined.select("idx", "item_key", "ts", subject=subject)
    firsts = subjects.group_by(["idx", "subject"]).aggregate(
        first_received=lambda t: t.ts.min(), item_key=lambda t: t.item_key.arbitrary())
    kinds = pairs.group_by(["f_idx", "f_item"]).aggregate(
        fields=lambda t: t.field.collect(distinct=True).sort().join(";"))
    out = firsts.left_join(kinds, [firsts.idx == kinds.f_idx, firsts.item_key == kinds.f_item])
    return out.select("idx", "subject", "first_received", "fields").order_by(
        ["idx", "first_received", "subject"])
