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

XMLRPC_PATH = r"(?i)/xmlrpc\.php$"
"""WordPress' XML-RPC endpoint, on the path without its query: apps (Jetpack, the WordPress
mobile apps, blog editors) and other blogs' pingbacks call it; no browser does."""

SCRIPT_PATH = r"(?i)\.(?:php[0-9]?|phtml|aspx?|jsp|cgi|pl)$"
"""A server-side script, on the path without its query: what a web shell or an exploitable
script is named."""

REFUSED_STATUSES = (403, 406)
"""How a site's firewall or security plugin refuses a request outright: 403 Forbidden, and
406 Not Acceptable, mod_security's default deny. A wrong password is answered 200 (the form
again), so a refusal on a login endpoint is the site's own verdict, not a typo."""

MISSING_STATUSES = (404, 410)
"""The site does not have the path."""

AUTHOR_ID = r"[?&]author=(\d{1,18})(?:&|#|$)"
"""A WordPress author archive asked for by number (`/?author=2`): with pretty permalinks the
site redirects it to `/author/<login>/`, which is how user names are enumerated. Group 1 is
the id."""


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
SCRIPT_REGEX = compile_pattern(SCRIPT_PATH)
AUTHOR_REGEX = compile_pattern(AUTHOR_ID)
