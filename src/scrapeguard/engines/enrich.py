"""Enrichment: from contract events to the narrow per-event rows that features are built from.

The result has one row per (event, exposed item): a JSON event that carried five subjects
becomes five rows sharing `eid`; `one` is 1 on the first of them only, so request counts stay
counts of requests. Strings become 64-bit keys (`lookups.key`), and everything that needs a
regex or a library is looked up per distinct value (`lookups.py`), so the table stays small
enough for a ten-million-line log and the per-row work is integer arithmetic.

Actor columns: `ip_key`, `net_key`, `asn_key` and `prefix_key` (`netinfo.py`), `account_key`,
`session_key`, `fp_key`, `hdr_key`, `tls_key` (header shape and TLS fingerprint,
`clientshape.py`), and `campaign_key`
(see `campaigns.py`); `resolve_names` maps the keys decisions were made on back to text.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from scrapeguard import canonical, clients, pathfacts, referrals, sitefacts, uaclass
from scrapeguard.engines import lookups, sqlcache
from scrapeguard.engines.lookups import INFERRED, key
from scrapeguard.engines.networks import address_table as address_table_of
from scrapeguard.engines.stats import EnrichStats
from scrapeguard.features import SEQ_MEMORY_SECONDS
from scrapeguard.policy.model import Policy
from scrapeguard.routes.learn import learn
from scrapeguard.routes.model import RouteTable

ERROR_STATUSES = (400, 403, 404, 405)
TARGET_ERRORS = tuple(sorted({*ERROR_STATUSES, *pathfacts.REFUSED_STATUSES,
                              *pathfacts.MISSING_STATUSES}))
"""Answers that say the site has no such thing for this client: a scanner target asked for and
answered so was a guess (`known-target-probe`)."""
REDIRECTS = (301, 302, 303)
"""How a login form answers a password it accepts: a redirect to where the person was going.
A wrong password is answered with the form again (200)."""


def explode_subjects(con: Any, table: str) -> str:
    """One row per exposed subject for events that carry a `subjects` list (JSON sources).

    Each event first gets a stored id (`eid`), so every later join on it — the report's
    included — sees the same numbering; logs without subject lists skip the unnest.
    """
    columns = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
    if "eid" not in columns:
        con.execute("CREATE OR REPLACE SEQUENCE _eid_seq")
        con.execute(f"ALTER TABLE {table} ADD COLUMN eid BIGINT DEFAULT nextval('_eid_seq')")
    has_lists = con.execute(
        f"SELECT count(*) FROM {table} WHERE subjects IS NOT NULL AND len(subjects) > 1"
    ).fetchall()[0][0]
    if has_lists:
        body = (
            f"SELECT *, unnest(coalesce(nullif(subjects, []), [NULL::VARCHAR])) AS json_item, "
            f"unnest(range(greatest(coalesce(len(subjects), 0), 1)::BIGINT)) AS item_pos "
            f"FROM {table}"
        )
    else:
        body = f"SELECT *, subjects[1] AS json_item, 0::BIGINT AS item_pos FROM {table}"
    con.execute(f"CREATE OR REPLACE VIEW _exploded AS {body}")
    return "_exploded"


def rewrite_events(con: Any, table: str) -> None:
    """Paths and addresses in their one spelling (`canonical.py`), in place, before anything
    counts them; only the few distinct values that may change go through Python."""
    for column, candidate, spell in (("path", canonical.PATH_CANDIDATE, canonical.canonical_path),
                                     ("ip", canonical.IP_CANDIDATE, canonical.canonical_ip)):
        written = [row[0] for row in con.execute(
            f"SELECT DISTINCT {column} FROM {table} WHERE regexp_matches({column}, ?)",
            [candidate]).fetchall()]
        changed = [(text, spell(text)) for text in written if spell(text) != text]
        if not changed:
            continue
        raw, canon = zip(*changed, strict=True)
        mapping = pa.table({"raw": list(raw), "canon": list(canon)})
        con.register("_canonical", mapping)
        try:
            con.execute(f"UPDATE {table} SET {column} = _canonical.canon FROM _canonical "
                        f"WHERE {table}.{column} = _canonical.raw")
        finally:
            con.unregister("_canonical")


class DuckDBSteps:
    """The steps of `enrich` that the DuckDB engine writes in DuckDB SQL of its own; the
    Spark engine passes its twins (`engines/spark/steps.py`), and every other step is the
    one Ibis definition both compile."""

    def __init__(self, con: Any) -> None:
        self.con = con
        self.backend = ibis.duckdb.from_connection(con)

    def rewrite_events(self, table: str) -> None:
        rewrite_events(self.con, table)

    def learn(self, table: str, paths: ir.Table, policy: Policy) -> RouteTable:
        return learn(self.backend, table, paths, policy)

    def agents(self, table: str) -> tuple[ir.Table, list[str]]:
        return lookups.agents(self.backend, table)

    def verified_crawlers(self, table: str, policy: Policy, uas: list[str]) -> ir.Table:
        return lookups.verified_crawlers(self.backend, table, policy, uas)

    def explode_subjects(self, table: str) -> str:
        return explode_subjects(self.con, table)

    def mark_seq_steps(self, rows: ir.Table, policy: Policy) -> None:
        _mark_seq_steps(self.backend, rows, policy)


def enrich(con: Any, table: str, policy: Policy,
           steps: Any = None) -> tuple[ir.Table, EnrichStats]:
    """The enriched rows, materialized, and what was learnt on the way."""
    steps = steps or DuckDBSteps(con)
    steps.rewrite_events(table)
    backend = steps.backend
    events = backend.table(table)
    routes = steps.learn(table, lookups.paths(backend, events, policy), policy)
    path_table = lookups.path_lookup(backend, backend.table("_paths"), policy, routes)
    agent_table, uas = steps.agents(table)
    address_table = lookups.materialize(backend, address_table_of(backend, table, policy),
                                        "_addresses")
    verified = steps.verified_crawlers(table, policy, uas)

    t = backend.table(steps.explode_subjects(table))
    # Joins on 64-bit keys of the strings: cheaper to hash once than to compare strings. The
    # actor keys a small table's text stands for are hashed there, once per distinct value.
    t = t.mutate(_path_key=key(t.path), _ua_key=key(t.ua.fill_null("")), _ip_key=key(t.ip))
    t = t.left_join(path_table.drop("path"), t._path_key == path_table.path_key)
    agent_table = agent_table.mutate(_ak=key(agent_table.ua_text),
                                     fp_key=key(agent_table.fp)).drop("fp")
    t = t.left_join(agent_table, t._ua_key == agent_table._ak)
    address_table = address_table.mutate(
        _ipk=key(address_table.ip_text), net_key=key(address_table.net),
        asn_key=key(address_table.net_asn), prefix_key=key(address_table.net_prefix),
    ).drop("net", "net_asn", "net_prefix")
    t = t.left_join(address_table, t._ip_key == address_table._ipk)
    t = t.left_join(verified, [t.ip == verified.v_ip, t.ua == verified.v_ua])
    stack_table = lookups.stacks(backend, table)
    stack_table = stack_table.mutate(hdr_key=key(stack_table.hdr_id),
                                     tls_key=key(stack_table.tls_id)).drop("hdr_id", "tls_id")
    t = t.left_join(stack_table, [t.ua.fill_null("") == stack_table.s_ua,
                                  t.hdr.fill_null("") == stack_table.s_hdr,
                                  t.tls.fill_null("") == stack_table.s_tls])
    referer_table = lookups.referers(backend, events)
    t = t.left_join(referer_table, key(t.referer) == referer_table.ref_key)
    assets = lookups.materialize(backend, _linked_assets(events, path_table), "_linked_assets")
    nth = sqlcache.arrow(backend, sitefacts.assets_expected_since(assets)).to_pylist()
    since = int(nth[0]["first_ms"]) if nth else None
    # The site's own hosts: those that refer its assets (`referrals.py`).
    own = lookups.materialize(backend, referrals.own_hosts_since(assets),
                              referrals.OWN_HOSTS_TABLE)
    own_from = _first_own_ms(backend, own)
    linked = lookups.linked_paths(events, referer_table, path_table, own, own_from)
    t = t.left_join(linked, t.file_key == linked.linked_file_key)
    robots = lookups.robots_readers(events)
    t = t.left_join(robots, [t.ip == robots.robots_ip, t.ua == robots.robots_ua])
    served = lookups.served_paths(events, path_table)
    t = t.left_join(served, t.file_key == served.served_file_key)
    first_seen = _sessions(backend, events)
    t = t.left_join(first_seen, key(t.session) == first_seen.first_session_key)
    t = t.left_join(own, t.ref_host == own.own_host)
    rows = lookups.materialize(backend, _columns(t, policy, since, own_from), "enriched")
    steps.mark_seq_steps(rows, policy)
    return backend.table("enriched"), EnrichStats(
        routes.person_templates if policy.settings.infer_templates else [], _allowlisted(rows),
        routes)


def _columns(t: ir.Table, policy: Policy, assets_since_ms: int | None,
             own_from_ms: int | None) -> ir.Table:
    """The narrow row: keys, flags, exposure; see the module docstring. `assets_since_ms`:
    from when the site is one whose browsers load its assets (`sitefacts.py`);
    `own_from_ms`: from when it knows one of its own hosts (`lookups.from_site`)."""
    one = t.item_pos == 0
    has_list = t.subjects.notnull()
    # An empty method is one the source did not log, as a missing one (`live_rows`: GET).
    method = t.method.upper().nullif("")
    # Only a GET answers with a record of an inferred route; a CORS preflight is no page (a
    # write still is: exploit POSTs to many paths are a crawl). Declared routes say what they
    # say, whatever the method.
    is_get = (method == "GET").fill_null(True)
    is_read = (method != "OPTIONS").fill_null(True)
    route_index = ibis.ifelse((t.route_index == INFERRED) & ~is_get, ibis.null(), t.route_index)
    catalogue = ibis.ifelse(is_get & ~has_list & (t.status < 400), t.catalogue_key, ibis.null())
    missed = ibis.cases(
        (has_list, t.subjects.length() == 0),
        *((route_index == i + 1, _route_missed(t, r)) for i, r in enumerate(policy.routes)),
        (route_index == INFERRED, t.status.isin((404, 410))),
        else_=False,
    )
    weights = ibis.cases(
        (has_list, 1),
        *((route_index == i + 1, r.records_per_hit) for i, r in enumerate(policy.routes)),
        else_=1,
    )
    is_route = has_list | route_index.notnull()
    # A refusal or an error served nobody's record: only answers below 400 expose.
    refused = t.status >= 400
    item_key = ibis.ifelse(has_list, key(t.json_item),
                           ibis.ifelse(missed | refused, ibis.null(), t.path_item_key))
    # One record asked for, found or not: the record the path names (`asked_beyond_day`);
    # a lookup (`single`) when it found exactly one person.
    asked = ibis.ifelse(has_list, t.subjects.length() <= 1, weights == 1) & is_route
    single = asked & (~has_list | (t.subjects.length() == 1))
    is_error = t.status.isin(ERROR_STATUSES)
    # An empty Referer header carried nothing: no referer, as `-` (and as the stream says).
    has_referer = t.referer.notnull() & ~t.referer.isin(("", "-"))
    # An error on a path reached by a link, now or earlier by anyone, is a broken link
    # followed, not a path guessed (`lookups.linked_paths`).
    link = lookups.is_link(t.path, t.ref_path)
    linked = link | (t.linked_since.notnull() & (t.linked_since < t.ts))
    is_unlinked_error_page = (is_error.fill_null(False) & ~t.is_static.fill_null(False)
                              & ~linked)
    # A path the site does not have: never served before, never reached through a link.
    served = t.served_since.notnull() & (t.served_since < t.ts)
    unknown = ~linked & ~served
    ts_ms = _ts_ms(t.ts)
    # A scanner target is reached through a link only from the site's own pages: a foreign
    # referer is a scanner replaying the last site it probed (`lookups.from_site`).
    site_link = link & lookups.from_site(t.own_since_ms, ts_ms, own_from_ms)
    site_linked = site_link | (t.site_linked_since.notnull() & (t.site_linked_since < t.ts))
    # A feed reader polls the feeds its subscribers gave it, dead ones too, for months.
    target_miss = (t.is_target & t.status.isin(TARGET_ERRORS) & ~site_linked & ~served
                   & ~t.is_feed_ua).fill_null(False)
    # A scanner target guessed at, whatever the answer but success: a redirect too.
    target_guess = (t.is_target & ~t.status.between(200, 299) & (t.status != 304) & unknown
                    & ~t.is_feed_ua).fill_null(False)
    script_miss = (t.is_script & t.status.isin(pathfacts.MISSING_STATUSES)
                   & unknown).fill_null(False)
    is_post = (method == "POST").fill_null(False)
    allow_reason = ibis.coalesce(t.v_reason, t.cidr_reason, _account_reason(t, policy))
    client = clients.client_expr(t.account, t.session, t.session_first_ms, ts_ms)
    assets_expected = (ibis.literal(False) if assets_since_ms is None
                       else ts_ms > assets_since_ms)
    is_page = ~t.is_static.fill_null(False) & is_read
    # A library's breadth of pages, feeds and APIs left out (`pathfacts.FEED_OR_API_PATH`).
    library_path = t.is_library_ua.fill_null(False) & ~t.is_feed_or_api.fill_null(False)
    library_page = is_page & library_path
    # A headless browser's pages: one is a rendered view (a link preview), more a walk.
    headless_page = is_page & (t.ua_class == uaclass.HEADLESS).fill_null(False)
    identity = clients.identity_expr(t.account, t.ip)
    # A page read (GET) under a browser's agent, on a site whose browsers load its assets:
    # a browser's, which loads them too. A server's own agent (`Misskey/…` delivering to
    # inboxes, an AMP cache) loads none, and claims no browser.
    browser_page = (is_page & is_get & assets_expected & t.is_browser_ua.fill_null(False)
                    & ~t.is_feed_or_api.fill_null(False))
    # A password the login form did not take, posted without the form's page as referer.
    blind_login_post = (t.is_login_form & is_post & ~has_referer
                        & ~t.status.isin(REDIRECTS)).fill_null(False)
    # An XML-RPC call that names a page as its referer: apps and other blogs' pingbacks send
    # none; a pingback spammer forges the page it claims to come from.
    forged_rpc = (t.is_xmlrpc & is_post & has_referer).fill_null(False)
    # A comment or sign-up form submitted, its page reached through a link from the site's
    # own pages (a browser rendered that page first), or asked for where the site has none
    # to serve (4xx). A form page the site serves, reached from elsewhere (a search engine,
    # an advert, a typed address), is where a visit starts, before its assets.
    form_reached = is_post | site_link | (t.status >= 400).fill_null(False)
    blind_form = (((_is_form(t) & form_reached) | blind_login_post | forged_rpc)
                  & assets_expected)
    # A feed under a browser's agent (`feed_agents`).
    feed_agent = (t.is_feed & t.is_browser_ua).fill_null(False)
    # The site answered its staff area to this account: staff by its own authorization.
    staff_page = (t.is_staff & t.account.notnull() & (t.account != "")
                  & ~t.is_static.fill_null(False)
                  & (t.status >= 200) & (t.status < 300)).fill_null(False)
    # A password the login endpoint did not take: anything but the redirect of a success.
    login_failure = (t.is_login & is_post & ~t.status.isin(REDIRECTS)).fill_null(False)
    # A delivery the site's ActivityPub inbox accepted: a federated server by the signature
    # the site verified (`pathfacts.INBOX_PATH`). Servers deliver under their own agent; a
    # browser posting to an `/inbox` is a person's messages on a site of another kind.
    peer_delivery = (t.is_inbox & is_post & ~t.is_browser_ua.fill_null(False)
                     & (t.status >= 200) & (t.status < 300)).fill_null(False)
    # The external host a page was reached under a browser's agent from
    # (`referrals.arrival_host`), counted once, on the event's first row; and whether it was
    # so reached (`arrival_agents`), on each of its rows, as the live side keeps it.
    arrived = (is_page & assets_expected & t.is_browser_ua & t.ref_host.notnull()
               & (t.own_since_ms.isnull() | (t.own_since_ms >= ts_ms))).fill_null(False)
    referral_host = ibis.ifelse(one & arrived, t.ref_host, ibis.null()).cast("string")
    # The login form under an agent, on a site whose browsers load its assets.
    login_agent = (t.is_login_form.fill_null(False) & assets_expected & t.ua.notnull()
                   & (t.ua != "-") & (t.ua != ""))
    # A lookup no link of this site led to, on a site whose browsers load its assets: an
    # arrival from outside (`campaigns._thin`).
    direct_lookup = single & assets_expected & ~site_link

    # An author archive reached through a link is a reader's, and one the site's own pages
    # link (a byline) is no secret a crawler following it enumerates: only ids asked for
    # that no page of the site links count (`authors`).
    author_linked = lookups.is_page_link(t.path, t.ref_page) | site_linked

    def flag(condition: Any) -> Any:
        return ibis.ifelse(one & condition, 1, 0).cast("int8")

    return t.select(
        eid=t.eid,
        item_pos=t.item_pos.cast("int32"),
        ts=t.ts,
        ts_ms=ts_ms,
        ip_key=key(t.ip),
        net_key=t.net_key,
        asn_key=t.asn_key,
        prefix_key=t.prefix_key,
        account_key=key(t.account),
        session_key=key(t.session),
        fp_key=t.fp_key,
        hdr_key=t.hdr_key,
        tls_key=t.tls_key,
        identity_key=key(identity),
        referral_host=referral_host,
        client_key=key(client),
        ua_key=key(t.ua),
        template_key=t.template_key,
        path_key=t.path_key,
        # A crawl's breadth is documents: feeds, APIs and app data left out (`pages`).
        page_key=ibis.ifelse(is_read & ~t.is_feed_or_api.fill_null(False), t.page_key,
                             ibis.null()),
        browser_page_key=ibis.ifelse(browser_page, t.page_key, ibis.null()),
        login_agent_key=ibis.ifelse(login_agent, key(t.ua), ibis.null()),
        feed_agent_key=ibis.ifelse(feed_agent, key(t.ua), ibis.null()),
        arrival_agent_key=ibis.ifelse(arrived, key(t.ua), ibis.null()),
        author_key=ibis.ifelse(author_linked, ibis.null(), t.author_key),
        library_page_key=ibis.ifelse(library_page, t.page_key, ibis.null()),
        headless_page_key=ibis.ifelse(headless_page, t.page_key, ibis.null()),
        library_path_key=ibis.ifelse(library_path, t.path_key, ibis.null()),
        catalogue_key=ibis.ifelse(one, catalogue, ibis.null()),
        error_path_key=ibis.ifelse(is_unlinked_error_page, t.path_key, ibis.null()),
        target_key=ibis.ifelse(target_miss, t.path_key, ibis.null()),
        script_key=ibis.ifelse(script_miss, t.path_key, ibis.null()),
        target_guess_key=ibis.ifelse(target_guess, t.path_key, ibis.null()),
        item_key=ibis.ifelse(is_route, item_key, ibis.null()),
        item_weight=ibis.ifelse(is_route, weights, 0).cast("int32"),
        lookup_key=ibis.ifelse(single, item_key, ibis.null()),
        asked_key=ibis.ifelse(one & asked, ibis.coalesce(t.path_item_key, t.path_key),
                              ibis.null()),
        numeric_id=ibis.ifelse(is_route & ~has_list, t.numeric_id, ibis.null()),
        hour=t.ts.hour().cast("int8"),
        one=ibis.ifelse(one, 1, 0).cast("int8"),
        is_subject_route=flag(is_route),
        is_miss=flag(is_route & missed),
        is_static=flag(t.is_static.fill_null(False)),
        is_hosting=flag(t.net_hosting.notnull()),
        has_referer=flag(has_referer),
        is_robots=flag(t.is_robots.fill_null(False)),
        is_trap=flag(t.is_trap.fill_null(False)),
        is_attack=flag((t.is_attack | t.is_attack_ua).fill_null(False)),
        is_target_miss=flag(target_miss),
        is_script_miss=flag(script_miss),
        is_target_guess=flag(target_guess),
        is_login_refused=flag(
            (t.is_login & t.status.isin(pathfacts.REFUSED_STATUSES)).fill_null(False)),
        is_blind_login_post=flag(blind_login_post),
        is_browser_rpc_post=flag((t.is_xmlrpc & is_post & t.is_browser_ua).fill_null(False)),
        is_author=flag(t.author_key.notnull() & ~author_linked),
        is_login_post=flag((t.is_login & (t.method.upper() == "POST")).fill_null(False)),
        is_login_failure=flag(login_failure),
        is_staff_page=flag(staff_page),
        is_peer_delivery=flag(peer_delivery),
        is_error=flag(is_error.fill_null(False)),
        is_page=flag(is_page),
        is_library_page=flag(library_page),
        is_library_path=flag(library_path),
        is_headless_page=flag(headless_page),
        is_blind_form=flag(blind_form),
        is_feed_agent=flag(feed_agent),
        is_arrival_agent=flag(arrived),
        is_login_agent=flag(login_agent),
        is_browser_page=flag(browser_page),
        is_catalogue=flag(catalogue.notnull()),
        is_lookup=flag(single.fill_null(False)),
        is_walk_step=flag((single & (t.ref_template_key == t.inferred_key)).fill_null(False)),
        is_direct_lookup=flag(direct_lookup.fill_null(False)),
        is_error_page=flag(is_unlinked_error_page),
        is_bot_ua=flag(t.is_bot_ua.fill_null(False)),
        is_tool_ua=flag(t.is_tool_ua.fill_null(False)),
        is_shape_mismatch=flag(t.is_shape_mismatch.fill_null(False)),
        is_tls_mismatch=flag(t.is_tls_mismatch.fill_null(False)),
        is_scanner_ua=flag((t.ua_class == uaclass.SCANNER).fill_null(False)),
        # A declared crawler that read robots.txt under this agent before this request.
        is_polite=flag((t.is_bot_ua & t.robots_since.notnull()
                        & (t.robots_since < t.ts)).fill_null(False)),
        is_seq_step=ibis.literal(0, type="int8"),
        allow_reason=allow_reason,
    )


def _linked_assets(events: ir.Table, path_table: ir.Table) -> ir.Table:
    """`ip`, `ts_ms` and referer `host` of each request for a linked asset: what the asset
    witness (`sitefacts.py`) and the site's own hosts (`referrals.py`) learn from. The events
    and their paths' flags alone, written once: the whole enriched join, which both used to
    read, was compiled and run again for each."""
    keyed = events.select("ip", "ts", "referer", _pk=key(events.path))
    rows = keyed.join(path_table.select("path_key", "is_static", "is_browser_fetched"),
                      keyed._pk == path_table.path_key)
    assets = rows.filter(rows.is_static.fill_null(False)
                         & ~rows.is_browser_fetched.fill_null(False))
    return assets.select(ip=assets.ip, ts_ms=_ts_ms(assets.ts),
                         host=referrals.referer_host_expr(assets.referer))


def _first_own_ms(backend: Any, own: ir.Table) -> int | None:
    """When the first host became known as the site's own (`referrals.own_hosts_since`)."""
    first = sqlcache.arrow(backend, own.own_since_ms.min()).column(0)[0].as_py()
    return None if first is None or first != first else int(first)


def _is_form(t: ir.Table) -> Any:
    """A comment or registration form (`pathfacts.FORM_PATH`; `SITE_FORM_PATH` when the site
    answered it)."""
    return (t.is_form | (t.is_site_form & (t.status < 400))).fill_null(False)


def _ts_ms(ts: Any) -> Any:
    return lookups.epoch_ms(ts)


def _sessions(backend: Any, events: ir.Table) -> ir.Table:
    """Each session's first sighting in the log (ms): its history, which `clients.py` asks
    of a session before it counts as a client."""
    named = events.filter(events.session.notnull())
    first = named.group_by(first_session_key=key(named.session)).aggregate(
        session_first_ms=_ts_ms(named.ts).min())
    return lookups.materialize(backend, first, "_sessions")


def _route_missed(t: ir.Table, route: Any) -> Any:
    missed = t.status.isin(route.miss_status)
    if route.miss_max_bytes is not None:
        missed = missed | (t.bytes.fill_null(0) <= route.miss_max_bytes)
    if route.subject is None and route.query is not None:
        missed = missed | t.path_item_key.isnull()
    return missed


def _account_reason(t: ir.Table, policy: Policy) -> Any:
    accounts = policy.allowlist.accounts
    if not accounts:
        return ibis.null().cast("string")
    return ibis.ifelse(t.account.isin(accounts), "allowlisted account " + t.account, ibis.null())


def _mark_seq_steps(backend: Any, rows: ir.Table, policy: Policy) -> None:
    """Flag lookups whose numeric id is within `seq_step` of the identity's previous one.

    The identity is the account, else the address (`clients.identity`): keys a client keeps
    and cannot mint, so an enumerator rotating addresses under one account, or cookies at one
    address, still shows its steps.
    Only lookups with a numeric id take part, so the window sorts a fraction of the log, and
    the few steps found are written into the table in place rather than by copying it.
    """
    lookups.materialize(backend, seq_steps(rows, policy), "_steps")
    backend.con.execute(
        "UPDATE enriched SET is_seq_step = 1 FROM _steps "
        "WHERE enriched.eid = _steps.eid AND enriched.item_pos = _steps.item_pos"
    )


def seq_steps(rows: ir.Table, policy: Policy) -> ir.Table:
    """(`eid`, `item_pos`) of the lookups that are sequential steps (`_mark_seq_steps`)."""
    # An allowlisted request is no step and no client's previous id: the stream engine never
    # counts it (`StreamEngine.record_many`), so neither does the batch.
    lookups_only = rows.filter(rows.numeric_id.notnull() & rows.allow_reason.isnull())
    window = ibis.window(group_by=[lookups_only.identity_key, lookups_only.template_key],
                         order_by=[lookups_only.ts_ms, lookups_only.eid])
    step = (lookups_only.numeric_id - lookups_only.numeric_id.lag().over(window)).abs()
    # The previous id is remembered for a day (`features.SEQ_MEMORY_SECONDS`), as live.
    since = lookups_only.ts_ms - lookups_only.ts_ms.lag().over(window)
    is_step = ((step >= 1) & (step <= policy.settings.seq_step)
               & (since <= SEQ_MEMORY_SECONDS * 1000)).fill_null(False)
    marked = lookups_only.select("eid", "item_pos", _step=is_step)
    return marked.filter(marked._step).select("eid", "item_pos")


def _allowlisted(rows: ir.Table) -> dict[str, int]:
    counts = (
        rows.filter(rows.allow_reason.notnull() & (rows.one == 1))
        .group_by("allow_reason").aggregate(n=lambda x: x.count())
    )
    return {str(r["allow_reason"]): int(r["n"])
            for r in sqlcache.arrow(rows._find_backend(), counts).to_pylist()}


def resolve_names(con: Any, kind: str, keys: list[int]) -> dict[int, str]:
    """Key → text for the actor keys that decisions were made on (few), never for all."""
    if not keys:
        return {}
    backend = ibis.duckdb.from_connection(con)
    exists = con.execute("SELECT 1 FROM duckdb_tables() "
                         "WHERE table_name = '_campaign_rows'").fetchall()
    return names_of(backend, kind, keys, bool(exists))


def names_of(backend: Any, kind: str, keys: list[int], campaign_rows: bool) -> dict[int, str]:
    """`resolve_names` on any backend; `campaign_rows`: whether `_campaign_rows` exists."""
    wanted = sqlcache.table_of(backend, "_wanted", {"wanted": keys}, {"wanted": "int64"})
    if kind in ("ip", "account", "session"):
        source = backend.table("_exploded")
        text = source[kind]
    elif kind in ("net", "asn", "prefix"):
        source = backend.table("_addresses")
        text = source[{"net": "net", "asn": "net_asn", "prefix": "net_prefix"}[kind]]
    elif kind == "fp":
        source = backend.table("_agents")
        text = source.fp
    elif kind in ("hdr", "tls"):
        source = backend.table("_stacks")
        text = source[f"{kind}_id"]
    elif kind == "campaign":
        templates = backend.table("_path_lookup").select("template").distinct()
        pairs = templates.select(k=key("enum:" + templates.template),
                                 v="enum:" + templates.template).union(
            templates.select(k=key("thin:" + templates.template),
                             v="thin:" + templates.template))
        if campaign_rows:  # referral campaigns are named by host, found only in their rows
            named = backend.table("_campaign_rows")
            named = named.filter(named.campaign_link == "ref")
            pairs = pairs.union(named.select(k=named.campaign_key,
                                             v=named.campaign_name).distinct())
    else:
        raise ValueError(f"unknown actor kind {kind!r}")
    if kind != "campaign":
        pairs = source.select(k=key(text), v=text).distinct()
    found = sqlcache.arrow(backend, pairs.semi_join(wanted, pairs.k == wanted.wanted))
    return {int(r["k"]): str(r["v"]) for r in found.to_pylist()}
