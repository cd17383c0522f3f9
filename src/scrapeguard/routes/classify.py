"""Weigh one template's evidence into a class, a record kind and a confidence.

The order says what wins: the operator's declaration; the request method (a preflight or a
write serves nobody's record); a file extension; a query naming an image size or a file;
media vocabulary unless people navigate to it; what most clients do with it (fetched within
seconds of a page, that page as referer); then many distinct ids make a record route, whose
kind the path's words decide (a person, or a catalogue item).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scrapeguard.policy.model import Policy
from scrapeguard.routes.model import BY_EXTENSION, LearnedRoute, RecordKind, RouteClass, RouteTable
from scrapeguard.routes.vocabulary import (
    API_PREFIX,
    ITEM_WORDS,
    LISTING_WORDS,
    MEDIA_WORDS,
    PERSON_WORDS,
    word_pattern,
)

BEHAVIOUR_MIN_CLIENTS = 5
"""Distinct clients needed before behaviour alone makes a sub-resource: fewer could be one
harvester and its friends."""
BEHAVIOUR_SHARE = 0.6
"""...and the share of the template's clients that must fetch it the way a browser does."""
MEDIA_SHARE = 0.5
"""With media words in the path, half of the template's clients fetching it the way a browser
does is enough; words alone are not (a scanner guesses `/uploads/…` and `/css/…` too)."""
RENDERED_MIN_CLIENTS = 3
"""Clients that rendered a template's pages (`rendered_clients`) before it is a document,
never a sub-resource by behaviour, words or query: a page prefetched when a link is hovered
or scrolled into view (Turbo, Next.js, instant.page) is fetched just after a page, as an
image is, but the people who open it render it. Three, as for the site's own hosts
(`referrals.OWN_HOST_ADDRESSES`)..."""
RENDERED_SHARE = 0.05
"""...and a twentieth of its clients, so that a few addresses asking for assets under a
thumbnail's address as referer cannot make thumbnails people's records again."""

_PERSON = re.compile(word_pattern(PERSON_WORDS).removeprefix("(?i)"), re.IGNORECASE)
_ITEM = re.compile(word_pattern(ITEM_WORDS).removeprefix("(?i)"), re.IGNORECASE)
_LISTING = re.compile(word_pattern(LISTING_WORDS).removeprefix("(?i)"), re.IGNORECASE)
_MEDIA = re.compile(word_pattern(MEDIA_WORDS).removeprefix("(?i)"), re.IGNORECASE)
_API = re.compile(API_PREFIX.removeprefix("(?i)"), re.IGNORECASE)


@dataclass(frozen=True)
class TemplateStats:
    """One row of `learn._SQL`: counts of requests, distinct clients, distinct ids."""

    template: str
    mgroup: str
    requests: int
    clients: int
    ids: int
    paths: int
    asset_paths: int
    asset_clients: int
    """Clients that fetched one of those paths: a harvester adding `?w=200` to every profile
    it takes writes many such paths, but is one client."""
    static_share: float
    error_share: float
    after_page_clients: int
    list_share: float
    names_people: bool | None
    route_index: int | None
    rendered_clients: int = 0
    """Clients whose browsers asked for assets with one of the template's pages as referer:
    they rendered it as a document."""


def classify(rows: list[TemplateStats], policy: Policy) -> RouteTable:
    """The route table of a log's per-template counts (`learn.py`)."""
    routes = [judge(s, policy) for s in rows]
    # Record routes first, people before items: what the operator must confirm.
    routes.sort(key=lambda r: (r.klass != "record", r.kind != "person", -r.requests,
                               r.template, r.methods))
    return RouteTable(routes)


def judge(s: TemplateStats, policy: Policy) -> LearnedRoute:
    """One template's class from its counts: the one definition the batch step (`learn.py`)
    and the live learner (`live.py`) both call, so they cannot disagree on what a route is."""
    klass, kind, evidence, confidence, declared = _decide(s, policy)
    return LearnedRoute(
        template=s.template, methods=s.mgroup,  # type: ignore[arg-type]
        klass=klass, kind=kind, requests=int(s.requests), clients=int(s.clients),
        ids=int(s.ids), evidence=tuple(evidence), confidence=round(confidence, 2),
        declared=declared,
    )


def _decide(
    s: TemplateStats, policy: Policy
) -> tuple[RouteClass, RecordKind | None, list[str], float, bool]:
    clients = f"{s.clients} client{'s' if s.clients != 1 else ''}"
    behaviour = f"{s.after_page_clients}/{s.clients} clients fetch it just after a page"
    if s.mgroup == "read" and s.route_index is not None:
        route = policy.routes[int(s.route_index) - 1]
        return "record", route.kind, ["declared route"], 1.0, True
    for declared in policy.route_classes:
        if declared.template == s.template and declared.methods == s.mgroup:
            return (declared.klass, declared.kind, ["declared"], 1.0, True)
    if s.mgroup == "preflight":
        return "preflight", None, ["OPTIONS (CORS preflight)"], 1.0, False
    if s.mgroup == "write":
        return "write", None, [f"writes from {clients}"], 0.9, False
    if s.list_share >= 0.5:
        if s.names_people:
            return "record", "person", ["log names people (subjects)"], 1.0, False
        return "page", None, ["log names nobody (subjects)"], 1.0, False
    if s.static_share >= 0.5:
        return "subresource", None, list(BY_EXTENSION), 0.99, False
    share = s.after_page_clients / s.clients if s.clients else 0.0
    # Mostly refused or missing: a scanner's guesses (`/uploads/x.php`), not an asset every
    # visitor loads; never a sub-resource, so that probing still counts it. A document
    # browsers rendered is no sub-resource either, however it is fetched.
    asset_like = s.error_share < 0.5 and not _rendered(s)
    if (asset_like and s.paths and s.asset_paths / s.paths >= 0.5
            and s.asset_clients / max(s.clients, 1) >= 0.5):
        return "subresource", None, ["query names an image size or file", behaviour], \
            0.9 + 0.09 * share, False
    api = bool(_API.search(s.template))
    media = bool(_MEDIA.search(s.template.split("?")[0]))
    if asset_like and media and not api and s.after_page_clients >= 2 and share >= MEDIA_SHARE:
        return "subresource", None, ["media words", behaviour], \
            0.7 + 0.29 * share, False
    if (asset_like and not api and s.after_page_clients >= BEHAVIOUR_MIN_CLIENTS
            and share >= BEHAVIOUR_SHARE):
        return "subresource", None, [behaviour], 0.6 + 0.39 * share, False
    if "{" in s.template and s.ids >= policy.settings.min_template_ids:
        kind, word = _kind(s.template)
        ids = f"{s.ids} ids from {clients}"
        if _rendered(s) and s.after_page_clients >= BEHAVIOUR_MIN_CLIENTS:
            ids += f"; prefetched, but {s.rendered_clients} rendered it"
        if kind == "listing":
            return "page", None, [ids, f"word {word!r}: pagination or a listing"], 0.7, False
        if kind is None:
            return "record", "person", [ids, "no telling words: assumed people"], 0.5, False
        reason = f"word {word!r}"
        return "record", "person" if kind == "person" else "item", [ids, reason], 0.8, False
    if api:
        return "api", None, ["API path", f"{s.ids} ids"], 0.7, False
    return "page", None, [f"{s.ids} ids" if "{" in s.template else "fixed path"], 0.6, False


def _rendered(s: TemplateStats) -> bool:
    return (s.rendered_clients >= RENDERED_MIN_CLIENTS
            and s.rendered_clients >= RENDERED_SHARE * s.clients)


def _kind(template: str) -> tuple[str | None, str]:
    """The record kind the words nearest the id name: `/product/{n}/reviews` → people (the
    reviews' authors), `/user/{n}/listings` → items, `/page/{n}/` → a listing, no record."""
    best: tuple[int, str, str] | None = None
    for kind, pattern in (("person", _PERSON), ("item", _ITEM), ("listing", _LISTING)):
        for match in pattern.finditer(template):
            found = (match.start(2), kind, match.group(2))
            if best is None or found[0] > best[0]:
                best = found
    return (best[1], best[2]) if best else (None, "")
