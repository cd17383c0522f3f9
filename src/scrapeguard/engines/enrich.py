"""Enrichment: from contract events to the per-event columns that features are built from.

Everything here is an Ibis expression over the `events` table (DuckDB by default, Spark where
logs outgrow one machine), except the lookups that need Python libraries — user-agent classes,
allowlists, IPv6 networks — which run once per *distinct* value and join back as small tables.

One row per (event, exposed item): a JSON event that carried five subjects becomes five rows
sharing `eid`; `one` is 1 on the first of them only, so request counts stay counts of requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard import uaclass
from scrapeguard.allowlist import Allowlister
from scrapeguard.events import fingerprint, network_of
from scrapeguard.policy.model import Policy, Route

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_HEX = r"[0-9a-fA-F]{8,}"
ERROR_STATUSES = (400, 403, 404, 405)
TOOL_CLASSES = ("scanner", "http-library", "browser-automation")
"""User-agent classes of tools no person browses with."""


@dataclass(frozen=True)
class EnrichStats:
    """What enrichment learnt about the log, for the summary and the report."""

    inferred_templates: list[str]
    allowlisted_requests: dict[str, int]


def infer_template(path: ir.StringValue) -> ir.StringValue:
    """`/user/83112/reviews` → `/user/{n}/reviews`: ids become placeholders.

    Numbers, UUIDs and hex strings of 8+ characters are ids; words are not (all-letter hex words
    of that length are rare enough to ignore). Numbers go before hex so `/12345678` is `{n}`.
    Adjacent id segments need two passes because a match consumes its trailing slash.
    """
    template = path.re_replace(f"/(?:{_UUID})(/|$)", r"/{uuid}\1")
    for _ in range(2):
        template = template.re_replace(r"/\d+(/|$)", r"/{n}\1")
    for _ in range(2):
        template = template.re_replace(f"/{_HEX}(/|$)", r"/{hex}\1")
    return template


def route_regex(route: Route) -> str:
    """A route's path template as an anchored RE2 pattern; the subject placeholder is group 1."""
    pattern = "^"
    position = 0
    for match in re.finditer(r"\{(\w+)\}", route.path):
        pattern += re.escape(route.path[position : match.start()])
        pattern += "([^/]+)" if match.group(1) == route.subject else "(?:[^/]+)"
        position = match.end()
    pattern += re.escape(route.path[position:]) + "/?$"
    return pattern


def _query_value(path: ir.StringValue, key: str) -> ir.StringValue:
    value = path.re_extract(rf"[?&]{re.escape(key)}=([^&#]*)", 1)
    return ibis.ifelse(value == "", ibis.null(), value)


def _glob_regex(glob: str) -> str:
    return "^" + re.escape(glob).replace(r"\*", ".*") + "$"


def explode_subjects(con: Any, table: str) -> str:
    """One row per exposed subject for events that carry a `subjects` list (JSON sources).

    Returns the name of a table/view with `eid`, `item_pos` and `json_item` added. Logs without
    subject lists skip the unnest entirely.
    """
    has_lists = con.execute(
        f"SELECT count(*) FROM {table} WHERE subjects IS NOT NULL AND len(subjects) > 1"
    ).fetchone()[0]
    if has_lists:
        body = (
            f"SELECT *, unnest(coalesce(nullif(subjects, []), [NULL::VARCHAR])) AS json_item, "
            f"unnest(range(greatest(coalesce(len(subjects), 0), 1)::BIGINT)) AS item_pos "
            f"FROM (SELECT row_number() OVER () AS eid, * FROM {table})"
        )
    else:
        body = (
            f"SELECT row_number() OVER () AS eid, *, subjects[1] AS json_item, "
            f"0::BIGINT AS item_pos FROM {table}"
        )
    con.execute(f"CREATE OR REPLACE VIEW exploded AS {body}")
    return "exploded"


def lookup_tables(con: Any, table: str) -> tuple[ir.Table, ir.Table, list[str | None]]:
    """Per distinct user agent: class, bot flag, fingerprint; per distinct address: network.

    These need Python (crawler-user-agents, ua-parser, ipaddress) so they run once per value.
    """
    uas: list[str | None] = [
        row[0] for row in con.execute(f"SELECT DISTINCT coalesce(ua, '') FROM {table}").fetchall()
    ]
    classes = uaclass.classify_many(uas)
    ua_rows = {
        "ua_key": uas,
        "ua_class": [classes[ua] for ua in uas],
        "is_bot_ua": [int(uaclass.is_bot_class(classes[ua])) for ua in uas],
        "fp": [fingerprint(ua) for ua in uas],
    }
    v6 = [row[0] for row in con.execute(f"SELECT DISTINCT ip FROM {table} WHERE ip LIKE '%:%'")
          .fetchall()]
    net_rows = {"v6ip": v6, "v6net": [network_of(ip) for ip in v6]}
    ua_table = ibis.memtable(ua_rows, schema={"ua_key": "string", "ua_class": "string",
                                              "is_bot_ua": "int8", "fp": "string"})
    net_table = ibis.memtable(net_rows, schema={"v6ip": "string", "v6net": "string"})
    return ua_table, net_table, uas


def allowlisted(con: Any, table: str, policy: Policy, uas: list[str | None]) -> ir.Table:
    """Distinct (ip, ua) pairs the policy allows, with the reason.

    Verified crawlers need their user agent *and* their published ranges, so only pairs whose
    agent claims an engine are checked; allowlisted networks need only the address. Accounts
    are matched in the query itself (see `enrich`).
    """
    allower = Allowlister(policy)
    rows: dict[str, list[Any]] = {"a_ip": [], "a_ua": [], "allow_reason": []}
    pairs: list[tuple[str, str | None]] = []
    if policy.allowlist.search_engines:
        claimed = [ua for ua in uas if ua is not None and allower.claimed_engine(ua)]
        if claimed:
            con.execute("CREATE OR REPLACE TEMP TABLE _claimed(ua VARCHAR)")
            con.executemany("INSERT INTO _claimed VALUES (?)", [(ua,) for ua in claimed])
            pairs += con.execute(
                f"SELECT DISTINCT ip, ua FROM {table} WHERE ua IN (SELECT ua FROM _claimed)"
            ).fetchall()
    if policy.allowlist.cidrs:
        pairs += [(ip, None) for (ip,) in
                  con.execute(f"SELECT DISTINCT ip FROM {table}").fetchall()]
    for ip, ua in pairs:
        reason = allower.allows(ip, ua, None)
        if reason:
            rows["a_ip"].append(ip)
            rows["a_ua"].append(ua)
            rows["allow_reason"].append(reason)
    return ibis.memtable(rows, schema={"a_ip": "string", "a_ua": "string",
                                       "allow_reason": "string"})


def subject_templates(con: Any, table: str, policy: Policy) -> list[str]:
    """Inferred templates with enough distinct ids to be personal-data routes."""
    if not policy.settings.infer_templates:
        return []
    t = ibis.duckdb.from_connection(con).table(table)
    path = t.path.split("?")[0]
    static = _static_pattern(policy)
    grouped = (
        t.filter(t.subjects.isnull() & ~path.lower().re_search(static))
        .mutate(template=infer_template(path), path_only=path)
        .filter(lambda x: x.template.contains("{"))
        .group_by("template")
        .aggregate(ids=lambda x: x.path_only.nunique())
        .filter(lambda x: x.ids >= policy.settings.min_template_ids)
    )
    return sorted(grouped.execute()["template"].tolist())


def _static_pattern(policy: Policy) -> str:
    extensions = "|".join(re.escape(e) for e in policy.settings.static_extensions)
    return rf"\.(?:{extensions})$"


def enrich(con: Any, table: str, policy: Policy) -> tuple[ir.Table, EnrichStats]:
    """The enriched event rows as an Ibis table, and what was learnt on the way."""
    templates = subject_templates(con, table, policy)
    exploded = explode_subjects(con, table)
    ua_table, net_table, uas = lookup_tables(con, table)
    allow_table = allowlisted(con, table, policy, uas)
    backend = ibis.duckdb.from_connection(con)
    t = backend.table(exploded)

    path_only = t.path.split("?")[0]
    static = path_only.lower().re_search(_static_pattern(policy))
    route_cases = _route_cases(policy, path_only)
    inferred_template = infer_template(path_only)
    template = ibis.cases(*route_cases, else_=inferred_template) if route_cases \
        else inferred_template
    t = t.mutate(path_only=path_only, is_static=static.cast("int8"), template=template)
    t = _with_subjects(t, policy, templates)
    t = t.left_join(ua_table, t.ua.fill_null("") == ua_table.ua_key).drop("ua_key")
    t = t.left_join(net_table, t.ip == net_table.v6ip)
    net4 = t.ip.re_replace(r"\.\d+$", ".0/24")
    t = t.mutate(net=ibis.ifelse(t.v6net.notnull(), t.v6net, net4)).drop("v6ip", "v6net")
    by_pair = allow_table.filter(allow_table.a_ua.notnull())
    by_address = allow_table.filter(allow_table.a_ua.isnull()).select(
        b_ip="a_ip", b_reason="allow_reason")
    t = t.left_join(by_pair, [t.ip == by_pair.a_ip, t.ua == by_pair.a_ua]).drop("a_ip", "a_ua")
    t = t.left_join(by_address, t.ip == by_address.b_ip).drop("b_ip")
    accounts = policy.allowlist.accounts
    account_reason = ibis.ifelse(t.account.isin(accounts), "allowlisted account " + t.account,
                                 ibis.null()) if accounts else ibis.null().cast("string")
    t = t.mutate(allow_reason=ibis.coalesce(t.allow_reason, t.b_reason, account_reason)) \
        .drop("b_reason")

    one = (t.item_pos == 0).cast("int8")
    traps = policy.traps
    is_trap = ibis.literal(False)
    for glob in traps:
        is_trap = is_trap | t.path_only.re_search(_glob_regex(glob))
    is_error = t.status.isin(ERROR_STATUSES)
    t = t.mutate(
        one=one,
        is_subject_route=t.is_subject_route * one,
        is_miss=t.is_miss * one,
        is_static=t.is_static * one,
        has_referer=(t.referer.notnull() & (t.referer != "-")).cast("int8") * one,
        is_robots=(t.path_only == "/robots.txt").cast("int8") * one,
        is_trap=is_trap.cast("int8") * one,
        is_error=is_error.cast("int8") * one,
        is_bot_ua=t.is_bot_ua.fill_null(0) * one,
        is_tool_ua=t.ua_class.isin(TOOL_CLASSES).fill_null(False).cast("int8") * one,
        page=ibis.ifelse(t.is_static == 0, t.path, ibis.null()),
        error_path=ibis.ifelse(is_error & (t.is_static == 0), t.path, ibis.null()),
        hour=t.ts.hour(),
        identity=ibis.coalesce(t.account, t.session, t.ip),
        ts_ms=t.ts.epoch_seconds() * 1000 + t.ts.millisecond(),
    )
    t = _with_seq_steps(t, policy)
    counts = (
        t.filter(t.allow_reason.notnull() & (t.one == 1))
        .group_by("allow_reason").aggregate(n=lambda x: x.count()).execute()
    )
    stats = EnrichStats(templates, dict(zip(counts["allow_reason"], counts["n"], strict=True)))
    return t, stats


def _route_cases(policy: Policy, path_only: ir.StringValue) -> list[tuple[Any, Any]]:
    return [(path_only.re_search(route_regex(r)), ibis.literal(r.path)) for r in policy.routes]


def _with_subjects(t: ir.Table, policy: Policy, templates: list[str]) -> ir.Table:
    """Which rows expose which item, with what weight, and whether the lookup missed."""
    item_cases: list[tuple[Any, Any]] = [(t.subjects.notnull(), t.json_item)]
    weight_cases: list[tuple[Any, Any]] = [(t.subjects.notnull(), ibis.literal(1))]
    miss_cases: list[tuple[Any, Any]] = [(t.subjects.notnull(), t.subjects.length() == 0)]
    route_cases: list[tuple[Any, Any]] = [(t.subjects.notnull(), ibis.literal(True))]
    for route in policy.routes:
        matches = t.path_only.re_search(route_regex(route))
        if route.subject is not None:
            value = t.path_only.re_extract(route_regex(route), 1)
        elif route.query is not None:
            value = _query_value(t.path, route.query)
        else:
            value = t.path  # a list page: the page itself stands for its records
        item = ibis.ifelse(value.isnull(), ibis.null(), route.name + ":" + value)
        missed = t.status.isin(route.miss_status)
        if route.miss_max_bytes is not None:
            missed = missed | (t.bytes.fill_null(0) <= route.miss_max_bytes)
        if route.subject is None and route.query is not None:
            missed = missed | value.isnull()
        item_cases.append((matches, ibis.ifelse(missed, ibis.null(), item)))
        weight_cases.append((matches, ibis.literal(route.records_per_hit)))
        miss_cases.append((matches, missed))
        route_cases.append((matches, ibis.literal(True)))
    inferred = t.template.isin(templates) if templates else ibis.literal(False)
    inferred_miss = t.status.isin((404, 410))
    item_cases.append((inferred, ibis.ifelse(inferred_miss, ibis.null(), t.path_only)))
    weight_cases.append((inferred, ibis.literal(1)))
    miss_cases.append((inferred, inferred_miss))
    route_cases.append((inferred, ibis.literal(True)))
    is_route = ibis.cases(*route_cases, else_=False)
    return t.mutate(
        item=ibis.cases(*item_cases, else_=ibis.null()).cast("string"),
        item_weight=ibis.cases(*weight_cases, else_=0).cast("int64"),
        is_miss=ibis.cases(*miss_cases, else_=False).cast("int8"),
        is_subject_route=is_route.cast("int8"),
        subject_id=ibis.cases(*item_cases, else_=ibis.null()).cast("string"),
    )


def _with_seq_steps(t: ir.Table, policy: Policy) -> ir.Table:
    """Flag lookups whose numeric id is within `seq_step` of the identity's previous one.

    The identity is the account, else the session, else the address: the finest key that one
    client keeps, so an enumerator rotating addresses under one account still shows its steps.
    """
    digits = t.subject_id.re_extract(r"(\d{1,18})\D*$", 1)
    numeric = ibis.ifelse(digits == "", ibis.null(), digits).cast("int64")
    t = t.mutate(numeric_id=ibis.ifelse(t.is_subject_route == 1, numeric, ibis.null()))
    window = ibis.window(group_by=[t.identity, t.template, t.numeric_id.isnull()],
                         order_by=[t.ts, t.eid])
    previous = t.numeric_id.lag().over(window)
    step = (t.numeric_id - previous).abs()
    is_step = (step >= 1) & (step <= policy.settings.seq_step)
    return t.mutate(is_seq_step=is_step.fill_null(False).cast("int8")).drop("subject_id")
