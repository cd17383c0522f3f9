"""Facts a request's path states by itself, shared by the batch and the stream engine.

Each fact is one RE2-compatible pattern (linear time, no backreferences), matched by DuckDB's
RE2 on the batch side (`engines/lookups.py`, once per distinct path) and by RE2's Python binding
on the stream side (`engines/live_rows.py`), so both engines flag the same requests and a
hostile path costs linear time in both.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from scrapeguard.policy.patterns import Matcher, compile_pattern


@cache
def attack_pattern() -> str:
    """Injection and traversal payloads (`policy/data/attack_patterns.txt`), as one pattern
    over the raw path and query, case-insensitive."""
    text = files("scrapeguard.policy").joinpath("data/attack_patterns.txt").read_text("utf-8")
    lines = [line.strip() for line in text.splitlines()]
    alternatives = [line for line in lines if line and not line.startswith("#")]
    return "(?i)" + "|".join(f"(?:{p})" for p in alternatives)


LOGIN_PATH = (r"(?i)/(?:wp-login\.php|xmlrpc\.php"
              r"|(?:user/|users/|admin/|account/|auth/)?(?:login|signin|sign-in|log-in|sign_in))/?$")
"""Login endpoints, on the path without its query: WordPress' form and XML-RPC (which takes a
password with every call), and the usual names of a site's own login form."""


AUTHOR_ID = r"[?&]author=(\d{1,18})(?:&|#|$)"
"""A WordPress author archive asked for by number (`/?author=2`): with pretty permalinks the
site redirects it to `/author/<login>/`, which is how user names are enumerated. Group 1 is
the id."""


@cache
def attack_regex() -> Matcher:
    return compile_pattern(attack_pattern())


LOGIN_REGEX = compile_pattern(LOGIN_PATH)
AUTHOR_REGEX = compile_pattern(AUTHOR_ID)
