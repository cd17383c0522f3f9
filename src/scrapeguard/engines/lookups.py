"""Lookup tables built once per distinct value: paths, user agents (addresses: `networks.py`).

A big log repeats a few thousand agents, some hundred thousand addresses and paths millions of
times. Everything that needs a regex or a Python library is derived here per distinct value
and joined back by key, so the per-event work is arithmetic on integers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.types as ir

from scrapeguard import clientshape, pathfacts, referrals, uaclass
from scrapeguard.allowlist import Allowlister
from scrapeguard.engines import sqlcache
from scrapeguard.events import fingerprint
from scrapeguard.policy.model import Policy, Route
from scrapeguard.policy.patterns import glob_regex, query_regex, route_regex, static_regex
from scrapeguard.routes import templates as route_templates
from scrapeguard.routes.model import RouteTable

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_HEX = r"[0-9a-fA-F]{8,}"
TOOL_CLASSES = tuple(sorted(uaclass.TOOL_CLASSES))
"""User-agent classes of tools no person browses with."""

_NAME = r"[A-Za-z][A-Za-z0-9._-]{0,38}[A-Za-z0-9_]"
"""A user name as sites spell them in paths: a letter first, 2 to 40 letters, digits, `.`, `_`
and `-` (numbers are `{n}` by then)."""
_OWNER_WORDS = r"u|users?|profiles?|members?|people|authors?"
_HANDLE = r"[A-Za-z0-9][A-Za-z0-9._@-]{0,62}"
TEMPLATE_PASSES: tuple[tuple[str, str], ...] = (
    (f"/(?:{_UUID})(/|$)", r"/{uuid}\1"),
    (r"/\d+(/|$)", r"/{n}\1"),
    (r"/\d+(/|$)", r"/{n}\1"),
    (f"/{_HEX}(/|$)", r"/{hex}\1"),
    (f"/{_HEX}(/|$)", r"/{hex}\1"),
    (f"(?i)/({_OWNER_WORDS})/{_NAME}(/|$)", r"/\1/{name}\2"),
    (f"^/@{_HANDLE}(/|$)", r"/@{name}\1"),
)
"""Id segments to placeholders, in order; written once for RE2, run by DuckDB (batch) and
`google-re2` (stream), both linear in the path however an attacker writes it. Profiles by
name are ids too, where a path says whose: the segment after `/u/`, `/users/`, `/profile/`,
`/members/`, `/people/` or `/author/` (`/u/alice` → `/u/{name}`, `/api/v1/users/alice` →
`/api/v1/users/{name}`), and a leading `@handle` (`/@alice`, `/@alice@other.social`:
Mastodon, Medium, YouTube, TikTok). Fixed words there (`/users/sign_in`, `/u/preferences`)
join the template as one more name each; a route needs `settings.min_template_ids`
different ones before it is a record route."""

OWNER_NAMES = (f"(?i)/(?:{_OWNER_WORDS})/({_NAME})(?:/|$)", f"^/@({_HANDLE})(?:/|$)")
"""The person a path names by user name (group 1 of the first that matches), for
`record_item`: everything
under `/users/alice/…` or `/@alice/…` (her posts, her followers) is one person's record, not
a new person per status id; lower-cased, as sites match names."""


def owner_name(path_only: ir.StringValue) -> ir.StringValue:
    """The user name a path is about (`OWNER_NAMES`), lower-cased; '' for none."""
    first = path_only.re_extract(OWNER_NAMES[0], 1)
    return ibis.ifelse(first != "", first, path_only.re_extract(OWNER_NAMES[1], 1)).lower()


REFERER_PATH = r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*(/[^?#]*)"
"""The path part of an absolute referer URL; written once for RE2 (batch and stream)."""

NUMERIC_ID = r"(\d{1,18})\D*$"
"""The number an item ends with, for sequential steps; written once for RE2."""

INFERRED = 0
"""`route_index` of an inferred subject template; declared routes count from 1."""


def key(column: ir.Value) -> ir.IntegerValue:
    """A 64-bit hash standing for a string in joins and distinct counts; null stays null."""
    return ibis.ifelse(column.isnull(), ibis.null(), column.hash())


def infer_template(path: ir.StringValue) -> ir.StringValue:
    """`/user/83112/reviews` → `/user/{n}/reviews`: ids become placeholders.

    Numbers, UUIDs and hex strings of 8+ characters are ids; words are not (all-letter hex words
    of that length are rare enough to ignore). Numbers go before hex so `/12345678` is `{n}`.
    Adjacent id segments need two passes because a match consumes its trailing slash.
    """
    template = path
    for pattern, replacement in TEMPLATE_PASSES:
        template = template.re_replace(pattern, replacement)
    return template


def is_link(path: ir.StringValue, referer_path: ir.StringValue) -> ir.BooleanValue:
    """The request arrived through a link: its referer is a URL naming another page.
    `referer_path` is `referer_path(referer)`, taken once per distinct referer (`referers`).

    A self-referer is no link: a page answered with an error has no link to itself, and it is
    the referer scanners forge most (`Referer: http://site/wp-login.php` on a request for
    `/wp-login.php`). A referer that is not a URL is no browser's either (its path is "");
    an absent one has a null path.
    """
    return ((referer_path != "") & (referer_path != path.split("?")[0])).fill_null(False)


def referer_path(referer: ir.StringValue) -> ir.StringValue:
    """The path of an absolute referer URL in the request path's spelling; "" for a referer
    that is no URL, null for none."""
    return spelled(referer.re_extract("^" + REFERER_PATH, 1))


def referer_page(referer: ir.StringValue) -> ir.StringValue:
    """`referer_path` with the query: what `is_page_link` compares."""
    return spelled(referer.re_extract("^" + REFERER_PAGE, 1))


SLASH_RUNS = (r"//+", "/")
TRAILING_SLASH = (r"([^/])/+(\?|$)", r"\1\2")
"""How a referer's path is brought to the request path's spelling before the two are compared
(`canonical.py` drops empty segments and a trailing slash): `http://site/administrator/` on a
request for `/administrator/` (logged, and counted, as `/administrator`) is the self-referer
scanners forge, not a link from another page. Applied in this order, everywhere, by both
engines."""


def spelled(referer_path: ir.StringValue) -> ir.StringValue:
    """A referer's path (query included or not) in the request path's spelling."""
    collapsed = referer_path.re_replace(SLASH_RUNS[0], SLASH_RUNS[1])
    return collapsed.re_replace(TRAILING_SLASH[0], TRAILING_SLASH[1])


REFERER_PAGE = r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*(/[^#]*)"
"""The path and query of an absolute referer URL (RE2, both engines)."""


def is_page_link(path: ir.StringValue, referer_page: ir.StringValue) -> ir.BooleanValue:
    """The referer is a URL naming another page, its query included (`referer_page`): on a
    site whose pages are all `/?p=N` (WordPress' plain permalinks), `/?p=7` links to
    `/?author=2`, which `is_link` (paths alone) takes for a self-referer. A self-referer is
    still no link."""
    return ((referer_page != "") & (referer_page != path)).fill_null(False)


def linked_paths(events: ir.Table, referers: ir.Table, paths: ir.Table, own: ir.Table,
                 own_from_ms: int | None) -> ir.Table:
    """Per file (`file_key` of `paths`, the per-path table: an asset without its query)
    some client reached through a link (`is_link`): when that first happened
    (`linked_since`), and when that first happened from one of the site's own pages
    (`site_linked_since`, `from_site`).

    A site's broken links are followed by people and crawlers, many of whom send no referer;
    once anyone arrived at a path from a link, errors on it are the site's, not a prober's
    guesses. Both engines learn this as the log goes, never from the future.
    `referers` is the per-referer table (`referers`): its path and host are taken once per
    referer. `own` is `referrals.own_hosts_since`; `own_from_ms` the first moment any host
    was known as the site's own (None: never).
    """
    # Every referer is in `referers`; an event without one is no link and joins nothing.
    referred = events.inner_join(referers, key(events.referer) == referers.ref_key)
    linked = referred.filter(is_link(referred.path, referred.ref_path))
    linked = linked.mutate(_ms=epoch_ms(linked.ts))
    linked = linked.left_join(own, linked.ref_host == own.own_host)
    site = from_site(linked.own_since_ms, linked._ms, own_from_ms)
    first = linked.group_by(_linked_key=key(linked.path)).aggregate(
        _since=linked.ts.min(), _site_since=ibis.ifelse(site, linked.ts, ibis.null()).min())
    first = first.inner_join(paths.select("path_key", "file_key"),
                             first._linked_key == paths.path_key)
    return first.group_by(linked_file_key=first.file_key).aggregate(
        linked_since=first._since.min(), site_linked_since=first._site_since.min())


def from_site(own_since_ms: ir.IntegerValue, ts_ms: ir.IntegerValue,
              own_from_ms: int | None) -> ir.BooleanValue:
    """A link's referer names one of the site's own hosts, as known before `ts_ms` — or no
    host is known as the site's own yet (a site whose assets are served elsewhere never
    learns one), when every link counts as before.

    A scanner target is asked for by a link only from the site's own pages: a foreign page's
    "link" to `/administrator/index.php` is a scanner replaying the referer of the last site
    it probed, and must not make the path linked for every prober after it.
    """
    if own_from_ms is None:
        return ibis.literal(True)
    return (own_since_ms < ts_ms).fill_null(False) | (ts_ms <= own_from_ms)


def epoch_ms(ts: Any) -> Any:
    """Milliseconds since the epoch of a timestamp column."""
    # DuckDB's epoch() keeps the fraction: floor it, or the milliseconds count twice.
    return ts.epoch_seconds().floor().cast("int64") * 1000 + ts.millisecond()


def served_paths(events: ir.Table, paths: ir.Table) -> ir.Table:
    """Per file (`file_key` of `paths`, as `linked_paths`) the site served (2xx, or 304: the
    client's copy is current): when that first happened. Redirects are no proof: sites
    redirect any path to their canonical host first.

    A path the site has served is one it has, whatever it answers a later client (a WordPress
    security plugin refusing `/wp-login.php` to some addresses): asking for it is no guess.
    Learnt as the log goes, like `linked_paths`.
    """
    status = events.status
    served = events.filter(((status >= 200) & (status < 300)) | (status == 304))
    first = served.group_by(_served_key=key(served.path)).aggregate(_since=served.ts.min())
    first = first.inner_join(paths.select("path_key", "file_key"),
                             first._served_key == paths.path_key)
    return first.group_by(served_file_key=first.file_key).aggregate(
        served_since=first._since.min())


def robots_readers(events: ir.Table) -> ir.Table:
    """Per address and agent, when it first asked for `/robots.txt`: a crawler that reads the
    site's rules before it crawls (`polite_requests`). Learnt as the log goes."""
    read = events.filter(events.path.re_search(r"^/robots\.txt(?:\?|$)") & events.ua.notnull())
    return read.group_by(robots_ip=read.ip, robots_ua=read.ua).aggregate(
        robots_since=read.ts.min())


def referers(backend: Any, events: ir.Table) -> ir.Table:
    """Per distinct referer, joined back by `ref_key`: the key of the inferred template of
    the page it names (a profile reached from a profile is one step of a walk), and what
    the per-event flags read of it (`ref_path`, `ref_page`, `ref_host`), so its regular
    expressions run once per referer, not several times per event."""
    distinct = events.select("referer").distinct()
    distinct = distinct.filter(distinct.referer.notnull())
    path = distinct.referer.re_extract("^" + REFERER_PATH, 1)
    table = distinct.select(
        ref_key=key(distinct.referer),
        ref_template_key=ibis.ifelse(path == "", ibis.null(), key(infer_template(path))),
        ref_path=referer_path(distinct.referer),
        ref_page=referer_page(distinct.referer),
        ref_host=referrals.referer_host_expr(distinct.referer),
    )
    return materialize(backend, table, "_referers")


def static_pattern(policy: Policy) -> str:
    return static_regex(policy.settings.static_extensions)


def paths(backend: Any, events: ir.Table, policy: Policy) -> ir.Table:
    """Per distinct path: its route template (declared, else inferred with the query key that
    names a record), the declared route it belongs to, the record it names, flags."""
    distinct = events.select("path").distinct()
    path_only = distinct.path.split("?")[0]
    is_static = path_only.lower().re_search(static_pattern(policy))
    routes = policy.routes
    route_cases = [(path_only.re_search(route_regex(r)), ibis.literal(i + 1))
                   for i, r in enumerate(routes)]
    template_cases = [(path_only.re_search(route_regex(r)), ibis.literal(r.path))
                      for r in routes]
    query = route_templates.query_key(distinct.path)
    inferred = route_templates.with_query(infer_template(path_only), query)
    template = ibis.cases(*template_cases, else_=inferred) if routes else inferred
    value_cases = [(path_only.re_search(route_regex(r)), _route_item(r, distinct.path, path_only))
                   for r in routes]
    is_trap = ibis.literal(False)
    for glob in policy.traps:
        is_trap = is_trap | path_only.re_search(glob_regex(glob))
    owner = owner_name(path_only)
    record_item = ibis.ifelse(owner != "", "@" + owner, path_only + ibis.ifelse(
        query == "", "", "?" + query + "=" + route_templates.query_value(distinct.path, query)))
    table = distinct.mutate(
        path_only=path_only,
        is_static=is_static.fill_null(False),
        template=template,
        route_index=ibis.cases(*route_cases, else_=ibis.null()) if routes
        else ibis.null().cast("int16"),
        route_item=ibis.cases(*value_cases, else_=ibis.null()) if routes
        else ibis.null().cast("string"),
        record_item=record_item,
        is_robots=path_only == "/robots.txt",
        is_trap=is_trap,
        is_attack=distinct.path.re_search(pathfacts.attack_pattern()).fill_null(False),
        is_login=path_only.re_search(pathfacts.LOGIN_PATH).fill_null(False),
        is_login_form=path_only.re_search(pathfacts.LOGIN_FORM_PATH).fill_null(False),
        is_xmlrpc=path_only.re_search(pathfacts.XMLRPC_PATH).fill_null(False),
        is_inbox=path_only.re_search(pathfacts.INBOX_PATH).fill_null(False),
        is_staff=(path_only.re_search(pathfacts.STAFF_PATH)
                  & ~path_only.re_search(pathfacts.LOGIN_PATH)).fill_null(False),
        is_target=path_only.re_search(pathfacts.target_pattern()).fill_null(False),
        is_script=path_only.re_search(pathfacts.SCRIPT_PATH).fill_null(False),
        is_form=distinct.path.re_search(pathfacts.FORM_PATH).fill_null(False),
        is_site_form=path_only.re_search(pathfacts.SITE_FORM_PATH).fill_null(False),
        is_feed_or_api=(path_only.re_search(pathfacts.FEED_OR_API_PATH)
                        | distinct.path.re_search(pathfacts.APP_DATA_QUERY)).fill_null(False),
        is_feed=path_only.re_search(pathfacts.FEED_PATH).fill_null(False),
        is_browser_fetched=path_only.re_search(pathfacts.BROWSER_FETCHED).fill_null(False),
        author_id=distinct.path.re_extract(pathfacts.AUTHOR_ID, 1),
    )
    return materialize(backend, table, "_paths")


def path_lookup(backend: Any, table: ir.Table, policy: Policy, routes: RouteTable) -> ir.Table:
    """The per-path table joined into every event, once the routes are known: sub-resources
    count as assets, and a record route names a person (exposure) or a catalogue item."""
    infer = policy.settings.infer_templates
    classes = dict.fromkeys(routes.subresource_templates, "asset")
    if infer:
        classes |= dict.fromkeys(routes.person_templates, "person")
        classes |= dict.fromkeys(routes.item_templates, "item")
    # Joined, not `isin`: a log can have thousands of templates of one class.
    known = sqlcache.table_of(backend, "_route_classes",
                              {"r_template": list(classes), "r_class": list(classes.values())},
                              {"r_template": "string", "r_class": "string"})
    table = table.left_join(known, table.template == known.r_template).drop("r_template")
    is_static = table.is_static | (table.r_class == "asset").fill_null(False)
    # A feed is published for readers' software to poll: no inferred record route counts it
    # (a person's feed under their name is what they syndicate, not a lookup of them).
    undeclared = table.route_index.isnull() & ~is_static & ~table.is_feed
    is_inferred = undeclared & (table.r_class == "person").fill_null(False)
    is_thing = undeclared & (table.r_class == "item").fill_null(False)
    item_routes = [i + 1 for i, r in enumerate(policy.routes) if r.kind == "item"]
    if item_routes:
        is_thing = is_thing | table.route_index.isin(item_routes)
    item = ibis.ifelse(is_inferred | (is_thing & table.route_index.isnull()), table.record_item,
                       table.route_item)
    digits = item.re_extract(NUMERIC_ID, 1)
    derived = table.mutate(
        is_static=is_static,
        route_index=ibis.ifelse(is_inferred, INFERRED,
                                ibis.ifelse(is_thing, ibis.null(), table.route_index)
                                ).cast("int16"),
        path_item_key=ibis.ifelse(is_thing, ibis.null(), key(item)),
        catalogue_key=ibis.ifelse(is_thing, key(item), ibis.null()),
        numeric_id=ibis.ifelse(digits == "", ibis.null(), digits).cast("int64"),
        path_key=key(table.path),
        # The file a path names, for what the site has (`linked_paths`, `served_paths`): an
        # asset's query is a version or a cache-buster (`style.css?ver=4.4.2`), so a crawler
        # asking for the bare file asks for the one the site's pages link; a page's query
        # names a different answer.
        file_key=key(ibis.ifelse(is_static, table.path_only, table.path)),
        inferred_key=key(infer_template(table.path_only)),
        page_key=ibis.ifelse(is_static, ibis.null(), key(table.path)),
        template_key=key(table.template),
        author_key=ibis.ifelse(table.author_id == "", ibis.null(), key(table.author_id)),
    ).drop("author_id", "route_item", "path_only", "record_item", "r_class")
    return materialize(backend, derived, "_path_lookup")


def _route_item(route: Route, path: ir.StringValue, path_only: ir.StringValue) -> Any:
    if route.subject is not None:
        value = path_only.re_extract(route_regex(route), 1)
    elif route.query is not None:
        raw = path.re_extract(query_regex(route.query), 1)
        value = ibis.ifelse(raw == "", ibis.null(), raw)
    else:
        value = path  # a list page: the page itself stands for its records
    return route.name + ":" + value


def agents(backend: Any, table: str) -> tuple[ir.Table, list[str]]:
    """Per distinct user agent: class, bot, tool and library flags, fingerprint (`_agents`)."""
    uas: list[str] = [row[0] for row in backend.con.execute(
        f"SELECT DISTINCT coalesce(ua, '') FROM {table}").fetchall()]
    return agent_table(backend, uas), uas


def agent_table(backend: Any, uas: list[str]) -> ir.Table:
    """The per-agent table of `agents` for these distinct agents ('' for none)."""
    classes = uaclass.classify_many(uas)
    fingerprints = [fingerprint(ua) for ua in uas]
    rows: dict[str, list[Any]] = {
        "ua_text": uas,
        "ua_class": [classes[ua] for ua in uas],
        "is_bot_ua": [uaclass.is_crawler_class(classes[ua]) for ua in uas],
        "is_tool_ua": [classes[ua] in TOOL_CLASSES for ua in uas],
        "is_browser_ua": [uaclass.is_browser_agent(ua) for ua in uas],
        "is_feed_ua": [classes[ua] == "feed-reader" for ua in uas],
        "is_attack_ua": [pathfacts.ua_attack(ua) for ua in uas],
        "is_library_ua": [uaclass.is_library(ua) for ua in uas],
        "fp": fingerprints,
    }
    schema = {"ua_text": "string", "ua_class": "string", "is_bot_ua": "boolean",
              "is_tool_ua": "boolean", "is_browser_ua": "boolean", "is_feed_ua": "boolean",
              "is_attack_ua": "boolean", "is_library_ua": "boolean", "fp": "string"}
    return sqlcache.table_of(backend, "_agents", rows, schema)


def stacks(backend: Any, table: str) -> ir.Table:
    """Per distinct (agent, header shape, TLS fingerprint) seen with either of the last two:
    the `hdr` and `tls` actor values and the consistency flags (`clientshape.py`), the same
    the stream engine derives per event (`_stacks`). Logs without them give an empty table."""
    events = backend.table(table)
    seen = events.filter(events.hdr.notnull() | events.tls.notnull()).select(
        ua=events.ua.fill_null(""), hdr=events.hdr.fill_null(""),
        tls=events.tls.fill_null("")).distinct()
    triples = [(r["ua"], r["hdr"], r["tls"]) for r in sqlcache.arrow(backend, seen).to_pylist()]
    rows: dict[str, list[Any]] = {name: [] for name in (
        "s_ua", "s_hdr", "s_tls", "hdr_id", "tls_id", "is_shape_mismatch", "is_tls_mismatch")}
    for ua, hdr, tls in triples:
        agent = ua or None
        judged = clientshape.judge(agent, hdr or None, tls or None)
        for name, value in (("s_ua", ua), ("s_hdr", hdr), ("s_tls", tls),
                            ("hdr_id", clientshape.hdr_key(hdr or None)),
                            ("tls_id", clientshape.tls_key(agent, tls or None)),
                            ("is_shape_mismatch", bool(judged.header)),
                            ("is_tls_mismatch", bool(judged.tls))):
            rows[name].append(value)
    schema = {"s_ua": "string", "s_hdr": "string", "s_tls": "string", "hdr_id": "string",
              "tls_id": "string", "is_shape_mismatch": "boolean", "is_tls_mismatch": "boolean"}
    return sqlcache.table_of(backend, "_stacks", rows, schema)


def verified_crawlers(backend: Any, table: str, policy: Policy, uas: list[str]) -> ir.Table:
    """(address, agent) pairs of crawlers whose agent *and* published range agree."""
    con = backend.con

    def pairs_of(claimed: list[str]) -> list[tuple[str, str]]:
        con.execute("CREATE OR REPLACE TEMP TABLE _claimed(ua VARCHAR)")
        con.executemany("INSERT INTO _claimed VALUES (?)", [(ua,) for ua in claimed])
        found: list[tuple[str, str]] = con.execute(
            f"SELECT DISTINCT ip, ua FROM {table} WHERE ua IN (SELECT ua FROM _claimed)"
        ).fetchall()
        return found

    return verified_table(backend, policy, uas, pairs_of)


def verified_table(backend: Any, policy: Policy, uas: list[str],
                   pairs_of: Callable[[list[str]], list[tuple[str, str]]]) -> ir.Table:
    """`verified_crawlers` given how to find the (address, agent) pairs of claimed agents."""
    rows: dict[str, list[Any]] = {"v_ip": [], "v_ua": [], "v_reason": []}
    if policy.allowlist.search_engines:
        allower = Allowlister(policy)
        claimed = [ua for ua in uas if ua and allower.claimed_engine(ua)]
        if claimed:
            for ip, ua in pairs_of(claimed):
                reason = allower.allows(ip, ua)
                if reason:
                    rows["v_ip"].append(ip)
                    rows["v_ua"].append(ua)
                    rows["v_reason"].append(reason)
    return sqlcache.table_of(backend, "_verified", rows,
                             {"v_ip": "string", "v_ua": "string", "v_reason": "string"})


def materialize(backend: Any, table: ir.Table, name: str) -> ir.Table:
    """Compute once into a table (DuckDB) or a checkpointed view (Spark), so later steps do
    not redo the work; on DuckDB the query is compiled once per machine (`sqlcache.py`)."""
    if backend.name == "pyspark":  # a Spark temp view of a checkpoint (`engines/spark`)
        from scrapeguard.engines.spark.session import materialize as on_spark

        return on_spark(backend, table, name)
    return sqlcache.materialize(backend, table, name)
