"""Facts a request's path states by itself, shared by the batch and the stream engine.

Each fact is one RE2-compatible pattern (linear time, no backreferences), matched by DuckDB's
RE2 on the batch side (`engines/lookups.py`, once per distinct path) and by RE2's Python binding
on the stream side (`engines/live_rows.py`), so both engines flag the same requests and a
hostile path costs linear time in both.
"""

from __future__ import annotations

from functools import cache, lru_cache
from importlib.resources import files

from scrapeguard.policy.patterns import Matcher, compile_pattern


def data_pattern(name: str) -> str:
    """The patterns of a `policy/data` file (one a line, `#` comments) as one alternation,
    case-insensitive."""
    text = files("scrapeguard.policy").joinpath(f"data/{name}").read_text("utf-8")
    lines = [line.strip() for line in text.splitlines()]
    alternatives = [line for line in lines if line and not line.startswith("#")]
    return "(?i)" + "|".join(f"(?:{p})" for p in alternatives)


@cache
def attack_pattern() -> str:
    """Injection and traversal payloads (`policy/data/attack_patterns.txt`), as one pattern
    over the raw path and query, or over the user agent, case-insensitive."""
    return data_pattern("attack_patterns.txt")


@cache
def target_pattern() -> str:
    """Paths scanners ask every site for (`policy/data/scanner_targets.txt`), as one pattern
    over the path without its query, case-insensitive."""
    return data_pattern("scanner_targets.txt")


LOGIN_PATH = (r"(?i)/(?:wp-login\.php|xmlrpc\.php"
              r"|(?:user/|users/|admin/|account/|auth/)?(?:login|signin|sign-in|log-in|sign_in))/?$")
"""Login endpoints, on the path without its query: WordPress' form and XML-RPC (which takes a
password with every call), and the usual names of a site's own login form."""


LOGIN_FORM_PATH = (r"(?i)/(?:wp-login\.php"
                   r"|(?:user/|users/|admin/|account/|auth/)?(?:login|signin|sign-in|log-in|sign_in))/?$")
"""The login endpoints that are forms a person fills in (`LOGIN_PATH` without XML-RPC, which
apps call): a browser submits them from the page that holds the form, with that page as its
referer."""

STAFF_PATH = (r"(?i)^/(?:admin|administrator|moderation|moderator|staff|backoffice|back-office)"
              r"(?:/|$)")
"""A site's staff area, on the path without its query: its admin panel, its moderation queue.
The site answers these only to the accounts it has made staff, so a success there (2xx, not a
login page, to an account: `is_staff_page`) is the site's own word that the account is staff,
which a harvester with a bought account cannot mint. WordPress' `/wp-admin/` is left out: it
answers every registered subscriber (their profile page lives there)."""

XMLRPC_PATH = r"(?i)/xmlrpc\.php$"
"""WordPress' XML-RPC endpoint, on the path without its query: apps (Jetpack, the WordPress
mobile apps, blog editors) and other blogs' pingbacks call it; no browser does."""

INBOX_PATH = (r"(?i)^/(?:(?:users|u|accounts|actor|video-channels|ap/users)/[^/]+/)?"
              r"(?:inbox|actor/inbox)/?$")
"""An ActivityPub inbox, shared (`/inbox`) or an actor's (`/users/alice/inbox`: Mastodon,
Misskey, Pleroma, GoToSocial, Lemmy's `/u/`, PeerTube's `/accounts/`). A server answers a
delivery there with 2xx only when its HTTP signature verifies against a key the sending
server publishes under its own domain (401 otherwise), so an accepted delivery
(`is_peer_delivery`) is the site's own word that the client is a federated server, which a
harvester cannot mint without running one under a domain the site can block."""

SCRIPT_PATH = r"(?i)\.(?:php[0-9]?|phtml|aspx?|jsp|cgi|pl)$"
"""A server-side script, on the path without its query: what a web shell or an exploitable
script is named."""

REFUSED_STATUSES = (403, 406, 407)
"""How a site's firewall or security plugin refuses a request outright: 403 Forbidden, 406 Not
Acceptable, mod_security's default deny, and 407, which a site's own server (no forward proxy)
answers only as a deny code of its own choosing (on a real blog, to `PHP/5.x` agents and a
crawler it banned). A wrong password is answered 200 (the form again), so a refusal on a
login endpoint is the site's own verdict, not a typo."""

MISSING_STATUSES = (404, 410)
"""The site does not have the path."""

AUTHOR_ID = r"[?&]author=(\d{1,18})(?:&|#|$)"
"""A WordPress author archive asked for by number (`/?author=2`): with pretty permalinks the
site redirects it to `/author/<login>/`, which is how user names are enumerated. Group 1 is
the id."""


FORM_PATH = (r"(?i)^(?:/[^?#]*)?/(?:(?:wp-comments-post|wp-signup|register|signup)\.php(?:[?#]|$)"
             r"|(?:user|member)/register/?(?:[?#]|$)"
             r"|wp-login\.php\?(?:[^#]*&)?registration=disabled(?:[&#]|$)"
             r"|[^/?#]*\?(?:[^#]*&)?(?:action|do|mode|task|view|page|a)=regist(?:er|ration)(?:[&#]|$))")
"""Comment and account-registration handlers by the names content systems give them:
WordPress' `wp-comments-post.php`, `wp-login.php?action=register` (and
`?registration=disabled`, where it sends a registration it refuses) and `wp-signup.php`, Drupal's
`/user/register`, the `register.php`/`signup.php` of forums, and the routers that name the
action in the query (Joomla's `option=com_users&view=registration`, phpBB's
`ucp.php?mode=register`, `index.php?do=register`, `?m=member&a=register`). Matched on the path
with its query. A person reaches them from a page whose scripts, styles and images their
browser loaded; a form-spam bot submits or opens them straight away
(`rules.md#form-without-assets`). Only software aimed at a content system asks for its
handlers by name, so they count whatever the site answers: the same bots get 404 from sites
that run something else."""

SITE_FORM_PATH = r"(?i)/(?:register|registration|signup|sign-up|comment|comments/new)/?$"
"""The usual names of a site's own sign-up and comment forms, on the path without its query.
Generic words turn up in links from elsewhere too, so they count only when the site answers
them (below 400): a form that is there."""


FEED_PATH = r"(?i)(?:/feed/?$|/feed/(?:atom|rss2?|rdf)/?$|\.(?:rss|atom|rdf)$)"
"""A feed, on the path without its query: what feed readers poll (`feed_agents`)."""

FEED_OR_API_PATH = (r"(?i)(?:/feed/?$|/feed/(?:atom|rss2?|rdf)/?$|\.(?:rss|atom|rdf|xml|json)$"
                    r"|^/(?:api|wp-json|graphql)(?:/|$)|/xmlrpc\.php$)")
"""Paths that answer software rather than a reader, on the path without its query: feeds,
sitemaps and JSON/XML APIs (a single-page app's data for its pages too: Next.js'
`/_next/data/<build>/<page>.json`, Gatsby's `page-data.json`, SvelteKit's `__data.json`,
Nuxt's `_payload.json`). Feed readers and apps call these with HTTP-library user agents all
day long, and an app's script fetches one for every link that scrolls into view; walking
them is not reading the site page by page."""

APP_DATA_QUERY = r"[?&](?:_rsc|_data)="
"""A page's address asked for as a single-page app's data, on the path with its query:
Next.js' App Router fetches `<page>?_rsc=<hash>` (React Server Component payloads, prefetched
for every link in view), Remix `<page>?_data=<route>`. Software's, like `FEED_OR_API_PATH`."""


@cache
def attack_regex() -> Matcher:
    return compile_pattern(attack_pattern())


@cache
def target_regex() -> Matcher:
    return compile_pattern(target_pattern())


@lru_cache(maxsize=65_536)
def ua_attack(ua: str | None) -> bool:
    """The user agent carries an injection payload (`attack_pattern`: Shellshock, PHP object
    injection, SQL, traversal) or a download command (`UA_SHELL`): scanners try them in every
    header a server may log or hand to a script. Cached per agent: a log repeats few."""
    return bool(ua) and bool(attack_regex().search(ua or "") or UA_SHELL_REGEX.search(ua or ""))


UA_SHELL = r"(?:^|[;|&`\s])(?:wget|curl|fetch)\s+(?:-\S+\s+)*(?:https?|ftp)://"
"""A download command in a user agent (`; wget http://…`): a payload for a script that passes
the header to a shell. Not in `attack_patterns.txt`, since a search for how to use wget may
carry the same words in a query."""

UA_SHELL_REGEX = compile_pattern(UA_SHELL, ignore_case=True)
LOGIN_REGEX = compile_pattern(LOGIN_PATH)
LOGIN_FORM_REGEX = compile_pattern(LOGIN_FORM_PATH)
XMLRPC_REGEX = compile_pattern(XMLRPC_PATH)
INBOX_REGEX = compile_pattern(INBOX_PATH)
STAFF_REGEX = compile_pattern(STAFF_PATH)
SCRIPT_REGEX = compile_pattern(SCRIPT_PATH)
AUTHOR_REGEX = compile_pattern(AUTHOR_ID)
FORM_REGEX = compile_pattern(FORM_PATH)
SITE_FORM_REGEX = compile_pattern(SITE_FORM_PATH)
FEED_OR_API_REGEX = compile_pattern(FEED_OR_API_PATH)
APP_DATA_REGEX = compile_pattern(APP_DATA_QUERY)
FEED_REGEX = compile_pattern(FEED_PATH)


BROWSER_FETCHED = (r"(?i)^/(?:favicon\.ico|apple-touch-icon[\w.-]*\.png|browserconfig\.xml"
                   r"|site\.webmanifest)$")
"""Files a browser (and many bots) asks the origin for by name, whatever the page links:
the site's icon and its manifests. Fetching them proves nothing about where the site serves
the assets its pages link (`sitefacts.py`)."""

BROWSER_FETCHED_REGEX = compile_pattern(BROWSER_FETCHED)
