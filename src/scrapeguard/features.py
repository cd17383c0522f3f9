"""Feature definitions, shared by the batch and the stream engine.

A feature is a windowed aggregate per actor. Each is defined once here, as one of five shapes
over per-event columns that the enrichment step derives (see `engines/enrich.py`):

- `Sum(column)`: the running total of a 0/1 or numeric event column;
- `Distinct(column, weight)`: how many distinct values of a column the actor has touched, each
  counted with its weight the first time it appears (exposure counts list pages as N records);
- `Ratio(numerator, denominator)`: two other features divided, 0 when the denominator is 0;
- `GapStat(which)`: statistics of inter-arrival gaps (machine timing is regular), and their
  sum, the seconds the window has spanned so far;
- `Beyond(column, bound)`: how many distinct values of a column a multi-day window holds
  beyond the most that any one (UTC) day of it holds — the new values of the actor's other
  days. The same values again every day count 0; new ones every day count nearly all.

Engines only walk this catalogue, so adding a feature touches this file and its test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Sum:
    column: str


@dataclass(frozen=True)
class Distinct:
    column: str
    bound: str
    """A 0/1 or weight column whose sum can never be below the distinct count: the batch
    engine's cheap first pass compares rule floors against it."""
    weight: str | None = None
    present: bool = False
    """The column is never null, so a window with any row has at least one value."""
    floor: int = 0
    """The least value a window with any row has (`clients`: an address is one client)."""


@dataclass(frozen=True)
class Ratio:
    numerator: str
    denominator: str


@dataclass(frozen=True)
class GapStat:
    which: Literal["mean", "cv", "span"]


@dataclass(frozen=True)
class Beyond:
    column: str
    bound: str
    """As `Distinct.bound`: the value never exceeds the window's distinct count."""


Shape = Sum | Distinct | Ratio | GapStat | Beyond

DAY_SECONDS = 86_400
"""The day of `Beyond`: the UTC day of the event's time (`ts_ms // DAY_MS`)."""
DAY_MS = DAY_SECONDS * 1000

SEQ_MEMORY_SECONDS = 86_400
"""How long a client's previous id on a route counts for `seq_steps`: a lookup more than a
day after the one before it is no step from it. It bounds what the live store keeps per
client and route (`EventUpdate.seq_ttl`), and the batch engine applies the same bound."""


@dataclass(frozen=True)
class Feature:
    name: str
    shape: Shape
    doc: str

    @property
    def monotone(self) -> bool:
        """True when the value can only grow as a window fills, so a final value bounds it."""
        return isinstance(self.shape, Sum | Distinct)


CATALOGUE: tuple[Feature, ...] = (
    Feature("requests", Sum("one"), "requests in the window"),
    Feature("subjects", Distinct("item_key", "item_weight", "item_weight"),
            "distinct people's records received (the exposure); a list page counts its records"),
    Feature("records", Sum("item_weight"), "records received, repeats included"),
    Feature("lookups", Distinct("lookup_key", "is_lookup"),
            "distinct people looked up one at a time (profiles, lookups), list pages left out"),
    Feature("asked_beyond_day", Beyond("asked_key", "is_subject_route"),
            "distinct records asked for one at a time in the window, found or not, beyond the "
            "most asked for on any one day of it: an address book synced again and again "
            "counts once, a list of strangers or of numbers worked through a day at a time "
            "counts every day but one"),
    Feature("subject_requests", Sum("is_subject_route"), "requests to personal-data routes"),
    Feature("items", Distinct("catalogue_key", "is_catalogue"),
            "distinct catalogue items received (products, listings, articles): not people"),
    Feature("item_requests", Sum("is_catalogue"), "requests to catalogue item routes"),
    Feature("misses", Sum("is_miss"), "personal-data lookups that found nobody"),
    Feature("seq_steps", Sum("is_seq_step"),
            "subject lookups whose id is within a few of the actor's previous id on that route"),
    Feature("walk_steps", Sum("is_walk_step"),
            "lookups reached by a link on a page of the same route: profile to profile"),
    Feature("static_requests", Sum("is_static"), "requests for static assets"),
    Feature("referer_requests", Sum("has_referer"), "requests that carried a referer"),
    Feature("robots_hits", Sum("is_robots"), "requests for /robots.txt"),
    Feature("trap_hits", Sum("is_trap"), "requests to trap paths no person follows"),
    Feature("attack_requests", Sum("is_attack"),
            "requests whose path, query or user agent carries an injection or traversal payload"),
    Feature("login_posts", Sum("is_login_post"),
            "POSTs to login endpoints (wp-login.php, xmlrpc.php, /login, /signin, ...)"),
    Feature("login_failures", Sum("is_login_failure"),
            "POSTs to login endpoints answered with anything but a redirect: passwords the "
            "site did not take (a wrong one is answered with the form again)"),
    Feature("staff_pages", Sum("is_staff_page"),
            "requests to the site's staff area (admin, moderation; pathfacts.STAFF_PATH) it "
            "answered 2xx to this account, login pages left out: staff by the site's own "
            "authorization, which a bought account cannot mint"),
    Feature("peer_deliveries", Sum("is_peer_delivery"),
            "POSTs to an ActivityPub inbox (pathfacts.INBOX_PATH), not under a browser's "
            "agent, that the site answered 2xx: deliveries whose HTTP signature it verified, "
            "a federated server by the site's own word"),
    Feature("blind_forms", Sum("is_blind_form"),
            "requests to comment or registration forms, login POSTs without a referer, and "
            "XML-RPC calls naming a page as referer, on a site whose browsers load "
            "its assets (sitefacts.py); with static_requests, a form reached without the "
            "page's assets"),
    Feature("error_requests", Sum("is_error"), "requests answered 400, 403, 404 or 405"),
    Feature("bot_ua_requests", Sum("is_bot_ua"),
            "requests whose user agent declares a crawler (crawler-user-agents)"),
    Feature("tool_ua_requests", Sum("is_tool_ua"),
            "requests whose user agent declares a scanner or a headless browser"),
    Feature("shape_mismatches", Sum("is_shape_mismatch"),
            "requests whose headers contradict the browser the user agent claims "
            "(clientshape.py: no Accept-Language, missing or disagreeing client hints)"),
    Feature("tls_mismatches", Sum("is_tls_mismatch"),
            "requests whose TLS fingerprint is not that of the browser the user agent claims"),
    Feature("scanner_ua_requests", Sum("is_scanner_ua"),
            "requests whose user agent declares a scanner"),
    Feature("polite_requests", Sum("is_polite"),
            "requests whose user agent declares a crawler, from an address that asked for "
            "/robots.txt under that agent before: a crawler that reads the site's rules"),
    Feature("paths", Distinct("path_key", "one", present=True), "distinct paths, query included"),
    Feature("pages", Distinct("page_key", "is_page"),
            "distinct documents: non-static paths, feeds, APIs and app data left out "
            "(a crawl's breadth)"),
    Feature("library_pages", Distinct("library_page_key", "is_library_page"),
            "distinct pages an HTTP library (or no user agent) asked for, feeds and APIs left "
            "out: a script reading the site page by page"),
    Feature("library_paths", Distinct("library_path_key", "is_library_path"),
            "distinct paths, pages and assets, query included, an HTTP library (or no user "
            "agent) asked for, feeds and APIs left out: a download tool fetching everything a "
            "page links"),
    Feature("headless_pages", Distinct("headless_page_key", "is_headless_page"),
            "distinct pages a headless browser asked for: one is a rendered view (a link "
            "preview, a screenshot), more a walk through the site"),
    Feature("browser_pages", Distinct("browser_page_key", "is_browser_page"),
            "distinct pages read under an agent claiming neither a crawler nor a library, "
            "feeds and APIs left out, on a site whose browsers load its assets"),
    Feature("templates", Distinct("template_key", "one", present=True), "distinct path templates"),
    Feature("error_paths", Distinct("error_path_key", "is_error_page"),
            "distinct non-static paths answered 4xx that no link led to (no referer): "
            "guessed paths, not a site's broken links followed"),
    Feature("target_probes", Distinct("target_key", "is_target_miss"),
            "distinct scanner targets (admin panels, installers, backups, shells; "
            "policy/data/scanner_targets.txt) answered with an error, that the site never "
            "served and no client reached through a link"),
    Feature("target_guesses", Distinct("target_guess_key", "is_target_guess"),
            "distinct scanner targets the site never served and no client reached through a "
            "link, answered with anything but success: redirects count, unlike target_probes"),
    Feature("missing_scripts", Distinct("script_key", "is_script_miss"),
            "distinct server-side scripts (.php, .asp, .jsp, .cgi, ...) answered 404 or 410, "
            "that the site never served and no client reached through a link"),
    Feature("login_refusals", Sum("is_login_refused"),
            "requests to login endpoints the site refused outright (403, 406, 407)"),
    Feature("blind_login_posts", Sum("is_blind_login_post"),
            "POSTs to a login form without a referer that the form did not accept "
            "(no redirect): submitted by a script, not from the form's page"),
    Feature("browser_rpc_posts", Sum("is_browser_rpc_post"),
            "POSTs to xmlrpc.php under a browser's user agent; XML-RPC clients are apps"),
    Feature("login_agents", Distinct("login_agent_key", "is_login_agent"),
            "distinct user agents that asked for a login form, on a site whose browsers load "
            "its assets (sitefacts.py): one client rotating agents at the login form"),
    Feature("feed_agents", Distinct("feed_agent_key", "is_feed_agent"),
            "distinct browser user agents that asked for a feed: one poller putting on a new "
            "browser's name for every fetch"),
    Feature("feed_fetches", Sum("is_feed_agent"), "feeds asked for under a browser's agent"),
    Feature("arrival_agents", Distinct("arrival_agent_key", "is_arrival_agent"),
            "distinct browser user agents under which the actor arrived at a page from an "
            "external host, on a site whose browsers load its assets: one client putting on a "
            "new browser's name for each arrival"),
    Feature("authors", Distinct("author_key", "is_author"),
            "distinct author ids asked for as `?author=N` (WordPress user enumeration), "
            "not reached through a link"),
    Feature("ips", Distinct("ip_key", "one", present=True), "distinct client addresses"),
    Feature("networks", Distinct("net_key", "one", present=True),
            "distinct networks (/24, /64): address churn inside one ISP block counts once"),
    Feature("asns", Distinct("asn_key", "one"),
            "distinct autonomous systems (with an ASN database, `netinfo.py`): a fleet renting "
            "addresses from many providers, or one provider's many /24s counted once"),
    Feature("prefixes", Distinct("prefix_key", "one"),
            "distinct announced prefixes (or listed hosting networks) the addresses came from"),
    Feature("hosting_requests", Sum("is_hosting"),
            "requests from an address in one of the operator's hosting-network lists"),
    Feature("clients", Distinct("client_key", "one", floor=1),
            "distinct clients (people behind a NAT): accounts and sessions with a history "
            "(clients.py), at least 1; a bare cookie is not a client"),
    Feature("sessions", Distinct("session_key", "one"), "distinct session cookies"),
    Feature("uas", Distinct("ua_key", "one"), "distinct user agents"),
    Feature("hours", Distinct("hour", "one", present=True), "distinct clock hours active"),
    Feature("miss_ratio", Ratio("misses", "subject_requests"),
            "share of personal-data lookups that found nobody (enumeration of unknown ids)"),
    Feature("seq_ratio", Ratio("seq_steps", "subject_requests"),
            "share of lookups that step to a neighbouring id (sequential enumeration)"),
    Feature("static_ratio", Ratio("static_requests", "requests"),
            "share of requests for assets; browsers load them, most scrapers do not"),
    Feature("hosting_ratio", Ratio("hosting_requests", "requests"),
            "share of requests from listed hosting networks: people browse from homes and "
            "phones, fleets rent servers"),
    Feature("referer_ratio", Ratio("referer_requests", "requests"), "share with a referer"),
    Feature("error_ratio", Ratio("error_requests", "requests"), "share answered 4xx"),
    Feature("bot_ratio", Ratio("bot_ua_requests", "requests"), "share with a bot user agent"),
    Feature("breadth", Ratio("subjects", "records"),
            "distinct records over records received: 1.0 is breadth without depth"),
    Feature("gap_mean", GapStat("mean"), "mean seconds between requests"),
    Feature("gap_cv", GapStat("cv"),
            "coefficient of variation of the gaps between requests: low is machine timing"),
    Feature("span", GapStat("span"),
            "seconds from the window's first request to this one: how long the first has had "
            "to be followed by what a browser does next (its page's assets, within seconds)"),
)

BY_NAME: dict[str, Feature] = {f.name: f for f in CATALOGUE}


def dependencies(name: str) -> set[str]:
    """The feature itself and every feature it is computed from."""
    shape = BY_NAME[name].shape
    if isinstance(shape, Ratio):
        return {name} | dependencies(shape.numerator) | dependencies(shape.denominator)
    return {name}
