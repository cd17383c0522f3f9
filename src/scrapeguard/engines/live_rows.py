"""The per-event derivation of the stream engine: the same rows the batch enrichment builds.

`engines/enrich.py` and `engines/lookups.py` compute these columns as dataframe expressions;
this module computes them for one event in Python, with the same patterns (`route_regex`,
`TEMPLATE_PASSES`) on the same regex engine, RE2 (`policy/patterns.py`), so the two engines
count the same things and no path can make a match backtrack on the event loop.
`tests/test_conformance.py` replays logs through both and compares their decisions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from scrapeguard import clients, clientshape, pathfacts, referrals, sitefacts, uaclass
from scrapeguard.allowlist import Allowlister
from scrapeguard.canonical import canonical_ip, canonical_path
from scrapeguard.engines.enrich import ERROR_STATUSES, REDIRECTS, TARGET_ERRORS
from scrapeguard.engines.lookups import (
    NUMERIC_ID,
    OWNER_NAMES,
    REFERER_PAGE,
    REFERER_PATH,
    SLASH_RUNS,
    TEMPLATE_PASSES,
    TOOL_CLASSES,
    TRAILING_SLASH,
    static_pattern,
)
from scrapeguard.events import fingerprint
from scrapeguard.netinfo import for_policy, network_keys
from scrapeguard.policy.model import Policy, Route
from scrapeguard.policy.patterns import (
    Match,
    Matcher,
    compile_pattern,
    glob_regex,
    query_regex,
    route_regex,
)
from scrapeguard.routes.templates import query_key_py, query_value_py, with_query_py

_TEMPLATE_PASSES = tuple((compile_pattern(p), r) for p, r in TEMPLATE_PASSES)
_OWNER_NAMES = tuple(compile_pattern(p) for p in OWNER_NAMES)
_REFERER_PATH = compile_pattern(REFERER_PATH)
_REFERER_PAGE = compile_pattern(REFERER_PAGE)
_NUMERIC_ID = compile_pattern(NUMERIC_ID)

LINKED_PATHS = 100_000
"""Paths reached through a link that a node remembers; the oldest are forgotten first."""


class PathInfo(NamedTuple):
    """Everything about an event that depends on its path alone."""

    static: bool
    template: str
    route_index: int | None
    """1-based declared route, 0 an inferred personal-data template, None neither."""
    item: str | None
    robots: bool
    trap: bool
    inferred: str
    """The path's inferred template, for comparing with a referer's (`referer_template`)."""
    catalogue: str | None = None
    """The catalogue item (product, listing) the path names, if it is an item route."""
    attack: bool = False
    """Carries an injection or traversal payload (`pathfacts.attack_pattern`)."""
    login: bool = False
    """A login endpoint (`pathfacts.LOGIN_PATH`)."""
    author: str | None = None
    """The author id an author archive is asked for by (`pathfacts.AUTHOR_ID`)."""
    login_form: bool = False
    """A login form (`pathfacts.LOGIN_FORM_PATH`)."""
    xmlrpc: bool = False
    """WordPress' XML-RPC endpoint (`pathfacts.XMLRPC_PATH`)."""
    staff: bool = False
    """The site's staff area, not its login page (`pathfacts.STAFF_PATH`)."""
    inbox: bool = False
    """An ActivityPub inbox (`pathfacts.INBOX_PATH`)."""
    target: bool = False
    """A path scanners ask every site for (`pathfacts.target_pattern`)."""
    script: bool = False
    """A server-side script (`pathfacts.SCRIPT_PATH`)."""
    form: bool = False
    """A comment or registration form (`pathfacts.FORM_PATH`)."""
    site_form: bool = False
    """A form by a generic name (`pathfacts.SITE_FORM_PATH`), a form if the site answers it."""
    feed_or_api: bool = False
    """A feed, sitemap or API path (`pathfacts.FEED_OR_API_PATH`)."""
    feed: bool = False
    """A feed (`pathfacts.FEED_PATH`)."""
    browser_fetched: bool = False
    """An icon or manifest browsers ask for by name (`pathfacts.BROWSER_FETCHED`)."""
    declared: int | None = None
    """The 1-based declared route the path matched, whatever its kind (`lookups.paths`'
    `route_index`), for the route learner."""
    by_extension: bool = False
    """Static by its file extension alone, before any learned sub-resource template."""
    record: str = ""
    """The record the path would name on a record route: the path, with the query value that
    names a record (`lookups.paths`' `record_item`)."""


@dataclass
class Row:
    """One (event, exposed item) row: the per-event columns features are built from."""

    item: str | None = None
    item_weight: int = 0
    lookup: str | None = None
    """The item again when the event named exactly one person (a profile, a lookup)."""
    numeric_id: int | None = None
    flags: dict[str, int] = field(default_factory=dict)


@dataclass
class EventRows:
    """An event's rows and the keys they are counted under."""

    ts: datetime
    ts_ms: int
    keys: dict[str, str | None]
    """Actor values by kind: ip, net, account, session, fp, hdr, tls (no `kind:` prefix)."""
    identity: str
    """What the client's steps are followed by (`clients.identity`): account, else address."""
    client: str | None
    """The proven client (`clients.client`), None for an address alone."""
    template: str
    path: str
    page: str | None
    error_path: str | None
    ua: str | None
    hour: int
    rows: list[Row]
    allow_reason: str | None
    author: str | None = None
    """The author id of a `?author=N` request (`pathfacts.AUTHOR_ID`), else None."""
    catalogue: str | None = None
    """The catalogue item (product, listing) an item route's answer named, else None."""
    target_miss: str | None = None
    """The path, when it is a scanner target the site does not have (`target_probes`)."""
    target_guess: str | None = None
    """The path, when it is a scanner target the site never served, answered with anything
    but success (`target_guesses`)."""
    script_miss: str | None = None
    """The path, when it is a script the site does not have (`missing_scripts`)."""
    library_page: str | None = None
    """The page, when an HTTP library asked for it and it is no feed or API path."""
    headless_page: str | None = None
    """The page, when a headless browser asked for it (`uaclass.HEADLESS`)."""
    library_path: str | None = None
    """The path, page or asset, when an HTTP library (or no user agent) asked for it and it
    is no feed or API path."""
    browser_page: str | None = None
    """The page, when an agent claiming no crawler or library read it on a site whose
    browsers load its assets (`browser_pages`)."""
    login_agent: str | None = None
    """The user agent, when it asked for the login form on a site whose browsers load its
    assets (`login_agents`)."""
    feed_agent: str | None = None
    """The user agent, when a browser's agent asked for a feed (`feed_agents`)."""
    arrival_agent: str | None = None
    """The user agent, when a browser's agent arrived at a page from an external host
    (`arrival_agents`)."""
    asked: str | None = None
    """The record the path names (else the path), when the event asked for one record of
    a personal-data route, found or not (`asked_beyond_day`)."""
    referral: str | None = None
    """The external host this page was reached from, on a site whose browsers load assets
    (`referrals.arrival_host`): the client joins that host's referral campaign."""
    campaign_host: str | None = None
    """The referral campaign this event counts under (set by the stream engine, which keeps
    each client's day), and the sums of the assets its client loaded before joining it."""
    campaign_prior: dict[str, int] = field(default_factory=dict)

    @property
    def is_lookup(self) -> bool:
        return bool(self.rows and self.rows[0].flags.get("is_subject_route"))


class Deriver:
    """Derives `EventRows` from contract events under one policy and calibration."""

    def __init__(self, policy: Policy, subject_templates: Sequence[str] = (),
                 catalogue_templates: Sequence[str] = (),
                 asset_templates: Sequence[str] = ()) -> None:
        self.policy = policy
        self.subject_templates = frozenset(subject_templates)
        self.catalogue_templates = frozenset(catalogue_templates)
        self.asset_templates = frozenset(asset_templates)
        self._calibrated = (self.subject_templates, self.catalogue_templates,
                            self.asset_templates)
        self.allower = Allowlister(policy)
        self.networks = for_policy(policy)
        """The ASN database and hosting lists (`netinfo.py`): `asn`, `prefix`, `is_hosting`."""
        self.static = compile_pattern(static_pattern(policy))
        self.routes = [(route, compile_pattern(route_regex(route)),
                        compile_pattern(query_regex(route.query)) if route.query else None)
                       for route in policy.routes]
        self.traps = [compile_pattern(glob_regex(g)) for g in policy.traps]
        self._path = lru_cache(maxsize=100_000)(self._path_uncached)
        self._template = lru_cache(maxsize=100_000)(self._template_uncached)
        self._referer_template = lru_cache(maxsize=100_000)(referer_template)
        self._assets = sitefacts.AssetWitness()
        self.own_hosts = referrals.OwnHosts()
        # What is learnt as the log goes is kept with when it was first learnt (ms), and
        # counts for events strictly after that, as in the batch (`lookups.linked_paths`):
        # lines of the same moment are in no telling order (workers log as they finish).
        self._linked: dict[str, int] = {}
        """Paths some client reached through a link, oldest first, at most `LINKED_PATHS`."""
        self._robots: dict[str, int] = {}
        """Address and agent pairs that asked for /robots.txt, oldest first, at most
        `LINKED_PATHS`."""
        self._served: dict[str, int] = {}
        """Paths the site answered with success, oldest first, at most `LINKED_PATHS`."""
        self._site_linked: dict[str, int] = {}
        """Paths reached through a link from the site's own pages (`lookups.from_site`)."""

    def learn(self, subject_templates: frozenset[str], catalogue_templates: frozenset[str],
              asset_templates: frozenset[str]) -> None:
        """Add what the live route learner (`routes/live.py`) found to the calibration's
        templates. Every path's cached analysis is dropped: a template's class changed, and
        with it what its paths count as. Classes change a few times per template at most, so
        the cache refills at once. A new cache rather than a cleared one: an analysis another
        thread began under the old templates lands in the old cache, never in the new."""
        person, items, assets = self._calibrated
        self.subject_templates = person | subject_templates
        self.catalogue_templates = items | catalogue_templates
        self.asset_templates = assets | asset_templates
        self._path = lru_cache(maxsize=100_000)(self._path_uncached)

    def _link(self, path: str, ts_ms: int) -> None:
        _remember(self._linked, path, ts_ms)

    def derive(self, event: dict[str, Any]) -> EventRows:
        """`event["session_since"]`, when present, is the session's first sighting (the
        guard's signed issue time, or the stream engine's memory of it)."""
        ts: datetime = event["ts"]
        ts_ms = int(ts.timestamp() * 1000)
        ip = canonical_ip(str(event["ip"]))
        path = canonical_path(event.get("path") or "")
        status = int(event.get("status") or 0)
        # An answer the source did not log tells nothing: no guess, no item, no refusal
        # (the batch compares a null status as null).
        answered = event.get("status") is not None
        size = int(event.get("bytes") or 0)
        ua = event.get("ua")
        account, session = event.get("account"), event.get("session")
        since: datetime | None = event.get("session_since")
        subjects = event.get("subjects")
        info = self._path(path)
        static, template, route_index, path_item, robots, trap, inferred = info[:7]
        method = str(event.get("method") or "GET").upper()
        is_get, is_read = method == "GET", method != "OPTIONS"
        if route_index == 0 and not is_get:
            route_index = None  # only a GET answers with an inferred route's record
        catalogue = (info.catalogue if is_get and subjects is None and answered and status < 400
                     else None)
        is_error = status in ERROR_STATUSES
        referer = event.get("referer")
        has_referer = bool(referer) and referer != "-"
        # An error on a path reached by a link, now or earlier by anyone, is a broken link
        # followed, not a path guessed (`lookups.linked_paths`).
        link = is_link(path, referer)
        # What the site has is remembered per file: an asset without its query (`file_key`).
        file = path.split("?")[0] if static else path
        linked = link or _before(self._linked, file, ts_ms)
        unlinked_error_page = is_error and not static and not linked
        # A path the site does not have: never served before, never reached through a link.
        served = _before(self._served, file, ts_ms)
        unknown = not linked and not served
        host = referrals.referer_host(referer)
        own = host is not None and self.own_hosts.is_own(host, ts_ms)
        # A scanner target is reached through a link only from the site's own pages: a
        # foreign referer is a scanner replaying the last site it probed (`lookups.from_site`).
        site_link = link and (own or not self.own_hosts.known(ts_ms))
        site_linked = site_link or _before(self._site_linked, file, ts_ms)
        klass = uaclass.classify(ua)
        # A feed reader polls the feeds its subscribers gave it, dead ones too, for months.
        target_miss = (info.target and status in TARGET_ERRORS and not site_linked
                       and not served and klass != "feed-reader")
        # A scanner target guessed at, whatever the answer but success: a redirect too.
        target_guess = (info.target and answered and not (200 <= status < 300 or status == 304)
                        and unknown and klass != "feed-reader")
        script_miss = info.script and status in pathfacts.MISSING_STATUSES and unknown
        if linked:
            self._link(file, ts_ms)
        if site_link:
            _remember(self._site_linked, file, ts_ms)
        if 200 <= status < 300 or status == 304:  # served (`lookups.served_paths`)
            _remember(self._served, file, ts_ms)
        # A declared crawler that read robots.txt under this agent before this request.
        reader = f"{ip}\x1f{ua}"
        polite = uaclass.is_crawler_class(klass) and _before(self._robots, reader, ts_ms)
        if robots and ua:
            _remember(self._robots, reader, ts_ms)
        is_post = method == "POST"
        # An author archive reached through a link, or one the site's pages link (a byline),
        # is a reader's; only ids no page links count (`enrich.author_linked`).
        author = None if is_page_link(path, referer) or site_linked else info.author
        # Judged on the addresses that loaded assets before this event (`sitefacts.py`).
        assets_expected = self._assets.expected_at(ts_ms)
        self._assets.saw(ip, static and not info.browser_fetched, ts_ms)
        is_page = not static and is_read
        browser = uaclass.is_browser_agent(ua)  # the batch side's `is_browser_ua`
        referral = referrals.arrival_host(host, is_page, assets_expected, own, browser)
        arrival_agent = ua if referral is not None else None
        self.own_hosts.saw(host, ip, static and not info.browser_fetched, ts_ms)
        library_path = uaclass.is_library(ua) and not info.feed_or_api
        library_page = is_page and library_path
        headless_page = is_page and klass == uaclass.HEADLESS
        hdr, tls = event.get("hdr") or None, event.get("tls") or None
        judged = clientshape.judge(ua, hdr, tls)
        # A page read (GET) under a browser's agent (`enrich.browser_page`).
        browser_page = (is_page and is_get and assets_expected and browser
                        and not info.feed_or_api)
        # A password the login form did not take, posted without the form's page as referer.
        blind_login_post = (info.login_form and is_post and not has_referer and answered
                            and status not in REDIRECTS)
        # An XML-RPC call that names a page as its referer: apps and other blogs' pingbacks
        # send none; a pingback spammer forges the page it claims to come from.
        forged_rpc = info.xmlrpc and is_post and has_referer
        # A feed under a browser's agent (`feed_agents`).
        feed_agent = ua if info.feed and browser else None
        # The site answered its staff area to this account: staff by its own authorization.
        staff_page = info.staff and bool(account) and not static and 200 <= status < 300
        # A password the login endpoint did not take: anything but the redirect of a success.
        login_failure = info.login and is_post and answered and status not in REDIRECTS
        # The login form under an agent, on a site whose browsers load its assets.
        login_agent = ua if info.login_form and assets_expected and ua and ua != "-" else None
        common = {
            "is_static": int(static),
            "has_referer": int(has_referer),
            "is_robots": int(robots),
            "is_trap": int(trap),
            "is_attack": int(info.attack or pathfacts.ua_attack(ua)),
            "is_target_miss": int(target_miss),
            "is_script_miss": int(script_miss),
            "is_target_guess": int(target_guess),
            "is_login_refused": int(info.login and status in pathfacts.REFUSED_STATUSES),
            "is_blind_login_post": int(blind_login_post),
            "is_browser_rpc_post": int(info.xmlrpc and is_post and browser),
            "is_author": int(author is not None),
            "is_login_post": int(info.login and str(event.get("method") or "").upper() == "POST"),
            "is_login_failure": int(login_failure),
            "is_staff_page": int(staff_page),
            # A delivery the site's inbox accepted, not a browser's (`enrich.peer_delivery`).
            "is_peer_delivery": int(info.inbox and is_post and 200 <= status < 300
                                    and not browser),
            "is_error": int(is_error),
            "is_page": int(is_page),
            "is_library_page": int(library_page),
            "is_library_path": int(library_path),
            "is_headless_page": int(headless_page),
            # Submitted, reached by a site link, or not there (`enrich.blind_form`).
            "is_blind_form": int((((info.form or (info.site_form and 0 < status < 400))
                                    and (is_post or site_link or status >= 400))
                                   or blind_login_post or forged_rpc) and assets_expected),
            "is_feed_agent": int(feed_agent is not None),
            "is_arrival_agent": int(arrival_agent is not None),
            "is_login_agent": int(login_agent is not None),
            "is_browser_page": int(browser_page),
            "is_catalogue": int(catalogue is not None),
            "is_error_page": int(unlinked_error_page),
            "is_bot_ua": int(uaclass.is_crawler_class(klass)),
            "is_tool_ua": int(klass in TOOL_CLASSES),
            "is_hosting": int(self.networks.lookup(ip).hosting is not None),
            "is_shape_mismatch": int(bool(judged.header)),
            "is_tls_mismatch": int(bool(judged.tls)),
            "is_scanner_ua": int(klass == uaclass.SCANNER),
            "is_polite": int(polite),
            "one": 1,
        }
        rows = self._rows(subjects, route_index, path_item, status, size)
        # One record asked for, found or not; a lookup when it found exactly one person.
        asked = bool(rows[0].flags.get("is_subject_route")) and (
            len(subjects) <= 1 if subjects is not None else rows[0].item_weight <= 1)
        single = asked and (subjects is None or len(subjects) == 1)
        rows[0].flags["is_lookup"] = int(single)
        rows[0].flags["is_walk_step"] = int(
            single and self._referer_template(event.get("referer")) == inferred)
        # A lookup no link of this site led to (`campaigns._thin`).
        rows[0].flags["is_direct_lookup"] = int(single and assets_expected and not site_link)
        for index, row in enumerate(rows):
            row.lookup = row.item if single else None
            first = index == 0
            row.flags = {**(common if first else dict.fromkeys(common, 0)), **row.flags}
            if not first:
                row.flags["is_subject_route"] = row.flags["is_miss"] = 0
                row.flags["is_lookup"] = row.flags["is_walk_step"] = 0
                row.flags["is_direct_lookup"] = 0
        return EventRows(
            ts=ts,
            ts_ms=ts_ms,
            keys={"ip": ip, **network_keys(self.networks, ip), "account": account,
                  "session": session, "fp": fingerprint(ua), "hdr": clientshape.hdr_key(hdr),
                  "tls": clientshape.tls_key(ua, tls)},
            identity=clients.identity(account, ip),
            client=clients.client(account, session, since, ts),
            template=template,
            path=path,
            # A crawl's breadth is documents: feeds, APIs and app data left out (`pages`).
            page=None if static or not is_read or info.feed_or_api else path,
            error_path=path if unlinked_error_page else None,
            ua=ua,
            hour=ts.hour,
            rows=rows,
            allow_reason=self.allower.allows(ip, ua, account),
            author=author,
            catalogue=catalogue,
            target_miss=path if target_miss else None,
            script_miss=path if script_miss else None,
            target_guess=path if target_guess else None,
            library_page=path if library_page else None,
            headless_page=path if headless_page else None,
            library_path=path if library_path else None,
            login_agent=login_agent,
            feed_agent=feed_agent,
            arrival_agent=arrival_agent,
            browser_page=path if browser_page else None,
            asked=(path_item or path) if asked else None,
            referral=referral,
        )

    def _rows(self, subjects: list[str] | None, route_index: int | None,
              path_item: str | None, status: int, size: int) -> list[Row]:
        if subjects is not None:
            if not subjects:  # a lookup that found nobody weighs 1, as a route's miss does
                return [Row(item_weight=1, flags={"is_subject_route": 1, "is_miss": 1})]
            return [Row(item=s, item_weight=1, flags={"is_subject_route": 1, "is_miss": 0})
                    for s in subjects]
        if route_index is None:
            return [Row(flags={"is_subject_route": 0, "is_miss": 0})]
        if route_index == 0:
            missed = status in (404, 410)
            weight = 1
        else:
            route = self.policy.routes[route_index - 1]
            missed = _route_missed(route, status, size, path_item)
            weight = route.records_per_hit
        item = None if missed or status >= 400 else path_item  # refusals expose nobody
        digits = _NUMERIC_ID.search(path_item or "")
        return [Row(item=item, item_weight=weight,
                    numeric_id=int(digits.group(1)) if digits else None,
                    flags={"is_subject_route": 1, "is_miss": int(missed)})]

    def path_info(self, path: str) -> PathInfo:
        """Everything that depends on the path alone (cached per path)."""
        return self._path(path)

    def template_of(self, path: str) -> str:
        """The route template a path belongs to (declared, else inferred): `path_info`'s
        template, without the dozen pattern searches of the rest of it. The decision needs
        only this, and a path not seen before (a profile's id) misses every cache."""
        return self._template(canonical_path(path))

    def _template_uncached(self, path: str) -> str:
        """`_path_uncached(path).template`, computed alone; what was learned plays no part
        (it changes a template's class, never which template a path has)."""
        path_only = path.split("?")[0]
        declared = self._declared(path_only)
        if declared is not None:
            return declared[1].path
        return with_query_py(infer_template(path_only), query_key_py(path))

    def _declared(self, path_only: str) -> tuple[int, Route, Match, Matcher | None] | None:
        """The first declared route the path matches, numbered from 1, with the match and the
        route's query matcher: the one place that says which declared route a path is."""
        for index, (route, pattern, query) in enumerate(self.routes, 1):
            match = pattern.search(path_only)
            if match:
                return index, route, match, query
        return None

    def _path_uncached(self, path: str) -> PathInfo:
        """What `lookups.paths` derives per distinct path, for one path; cached per path."""
        path_only = path.split("?")[0]
        static = bool(self.static.search(path_only.lower()))
        robots = path_only == "/robots.txt"
        trap = any(t.match(path_only) for t in self.traps)
        author = pathfacts.AUTHOR_REGEX.search(path)
        facts: dict[str, Any] = {"attack": bool(pathfacts.attack_regex().search(path)),
                                 "login": bool(pathfacts.LOGIN_REGEX.search(path_only)),
                                 "author": author.group(1) if author else None,
                                 "login_form": bool(pathfacts.LOGIN_FORM_REGEX.search(path_only)),
                                 "xmlrpc": bool(pathfacts.XMLRPC_REGEX.search(path_only)),
                                 "staff": bool(pathfacts.STAFF_REGEX.search(path_only))
                                 and not pathfacts.LOGIN_REGEX.search(path_only),
                                 "inbox": bool(pathfacts.INBOX_REGEX.search(path_only)),
                                 "target": bool(pathfacts.target_regex().search(path_only)),
                                 "script": bool(pathfacts.SCRIPT_REGEX.search(path_only)),
                                 "form": bool(pathfacts.FORM_REGEX.search(path)),
                                 "site_form": bool(pathfacts.SITE_FORM_REGEX.search(path_only)),
                                 "feed_or_api": bool(
                                     pathfacts.FEED_OR_API_REGEX.search(path_only)
                                     or pathfacts.APP_DATA_REGEX.search(path)),
                                 "feed": bool(pathfacts.FEED_REGEX.search(path_only)),
                                 "browser_fetched": bool(
                                     pathfacts.BROWSER_FETCHED_REGEX.search(path_only))}
        bare = infer_template(path_only)
        query_key = query_key_py(path)
        owner = owner_name_py(path_only)
        record = f"@{owner}" if owner else path_only + (
            f"?{query_key}={query_value_py(path, query_key)}" if query_key else "")
        facts |= {"by_extension": static, "record": record}
        declared = self._declared(path_only)
        if declared is not None:
            index, route, match, query = declared
            item = _route_item(route, path, match, query)
            if route.kind == "item":
                return PathInfo(static, route.path, None, None, robots, trap, bare, item,
                                declared=index, **facts)
            return PathInfo(static, route.path, index, item, robots, trap, bare,
                            declared=index, **facts)
        template = with_query_py(bare, query_key)
        static = static or template in self.asset_templates
        syndicated = static or facts["feed"]  # a feed is polled, never a record (`lookups`)
        if template in self.subject_templates and not syndicated:
            return PathInfo(static, template, 0, record, robots, trap, bare, **facts)
        if template in self.catalogue_templates and not syndicated:
            return PathInfo(static, template, None, None, robots, trap, bare, record, **facts)
        return PathInfo(static, template, None, None, robots, trap, bare, **facts)


def _route_item(route: Route, path: str, match: Match, query: Matcher | None) -> str | None:
    if route.subject is not None:
        return f"{route.name}:{match.group(1)}"
    if query is not None:
        found = query.search(path)
        return f"{route.name}:{found.group(1)}" if found and found.group(1) else None
    return f"{route.name}:{path}"


def _route_missed(route: Route, status: int, size: int, item: str | None) -> bool:
    missed = status in route.miss_status
    if route.miss_max_bytes is not None:
        missed = missed or size <= route.miss_max_bytes
    if route.subject is None and route.query is not None:
        missed = missed or item is None
    return missed


def _remember(paths: dict[str, int], path: str, ts_ms: int) -> None:
    """Add a path, with when it was first seen, to a bounded memory of paths, forgetting
    the oldest first."""
    if path in paths:
        return
    if len(paths) >= LINKED_PATHS:
        del paths[next(iter(paths))]
    paths[path] = ts_ms


def _before(paths: dict[str, int], path: str, ts_ms: int) -> bool:
    """The path was remembered strictly before `ts_ms`."""
    since = paths.get(path)
    return since is not None and since < ts_ms


def is_link(path: str, referer: str | None) -> bool:
    """The Python twin of `lookups.is_link`: the referer is a URL naming another page."""
    found = _REFERER_PATH.match(referer or "")
    return found is not None and spelled(found.group(1)) != path.split("?")[0]


def is_page_link(path: str, referer: str | None) -> bool:
    """The Python twin of `lookups.is_page_link`: a URL naming another page, query included."""
    found = _REFERER_PAGE.match(referer or "")
    return found is not None and found.group(1) != "" and spelled(found.group(1)) != path


_SLASH_RUNS = re.compile(SLASH_RUNS[0])
_TRAILING_SLASH = re.compile(TRAILING_SLASH[0])


def spelled(referer_path: str) -> str:
    """The Python twin of `lookups.spelled`: a referer's path in the request path's spelling."""
    collapsed = _SLASH_RUNS.sub(SLASH_RUNS[1], referer_path)
    return _TRAILING_SLASH.sub(TRAILING_SLASH[1], collapsed)


def referer_template(referer: str | None) -> str | None:
    """The inferred template of the page a referer names (`https://host/user/7?x` →
    `/user/{n}`); None for no referer or one that is not a URL."""
    found = _REFERER_PATH.match(referer or "")
    return infer_template(found.group(1)) if found else None


def owner_name_py(path_only: str) -> str:
    """The Python twin of `lookups.owner_name`."""
    for pattern in _OWNER_NAMES:
        found = pattern.search(path_only)
        if found:
            return found.group(1).lower()
    return ""


def infer_template(path: str) -> str:
    """The Python twin of `lookups.infer_template`, pass for pass."""
    for pattern, replacement in _TEMPLATE_PASSES:
        path = pattern.sub(replacement, path)
    return path
