"""Routes learned live: the batch step's understanding of a site, from the requests it serves.

The middleware with no declared routes and no `X-Subjects` must still know that `/user/{n}`
serves people's records and `/avatar/{n}` does not. This learner keeps, per (template, method
group), the same counts `learn.py` computes in SQL over a log — requests, distinct clients,
distinct ids and paths, shares of static, failed and subject-naming answers, clients that fetch
it just after a page with that page as referer, clients that rendered it (asked for assets
with it as referer) — and hands them to `classify.judge`, the one definition of what a route
is. Only the counting is written twice (SQL there, Python here); `tests/test_live_routes.py`
feeds both the same log and compares their tables.

**Warm-up.** Sub-resources are used as soon as they are learned (an image counted as a page
only hurts the people loading it). Inferred record routes are used once the node has served
`WARMUP_REQUESTS` requests, or earlier once it has seen `WARMUP_CLIENTS` distinct clients:
enough traffic for the behaviour that makes a sub-resource (fetched after a page by most of
its clients) to have shown itself, so that a shop's first shoppers are not counted as looking
people up. Per-address rules (fast crawl, probing, traps, payloads) need no routes and run
from the first request. Declared routes and `route_classes` always win, warm or not.

**Bounds.** Every set is a sample of keyed hashes, capped (the first clients, ids and paths of
each template); at most `MAX_TEMPLATES` templates are followed, and a new one takes the place of
the oldest seen by one client only. Evidence counts distinct clients (the account, else the
address, as in the batch step), so one client, however many requests it sends, is one vote.
"""

from __future__ import annotations

import logging
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from scrapeguard.engines.lookups import REFERER_PATH
from scrapeguard.policy.model import Policy
from scrapeguard.policy.patterns import compile_pattern
from scrapeguard.routes.classify import TemplateStats, judge
from scrapeguard.routes.learn import AFTER_PAGE_SECONDS
from scrapeguard.routes.model import BY_EXTENSION, LearnedRoute, MethodGroup, RouteTable
from scrapeguard.routes.vocabulary import ASSET_QUERY

log = logging.getLogger("scrapeguard.routes")

WARMUP_REQUESTS = 1000
"""Served requests after which inferred record routes are protected, at the latest."""
WARMUP_CLIENTS = 20
"""...or distinct clients, whichever comes first."""
MAX_TEMPLATES = 5000
"""(template, method group) pairs followed per node."""
CLIENT_SAMPLE = 32
"""Distinct clients kept per template: shares are measured over the first ones. Behaviour
needs 5 (`classify.BEHAVIOUR_MIN_CLIENTS`); 32 make a share one client moves by 3%."""
PATH_SAMPLE = 32
"""Distinct paths kept per template, for the share naming an image size or a file."""
RECENT_CLIENTS = 10_000
"""Clients whose last pages are remembered, for "fetched just after a page"."""
RECENT_PAGES = 16
"""Pages remembered per client."""
PAGE_TEMPLATES = 50_000
"""Page paths whose template is remembered, for "rendered": an asset names its page by path."""
_REJUDGE_EVERY = 64

_ASSET_QUERY = compile_pattern(ASSET_QUERY)
_REFERER = compile_pattern(REFERER_PATH)


@dataclass(frozen=True)
class Seen:
    """One served request, as the learner needs it (built by the stream engine)."""

    ts_ms: int
    client: str
    """The account, else the address: who counts as one vote (`learn._SQL`'s `client`)."""
    template: str
    methods: MethodGroup
    path: str
    by_extension: bool
    declared: int | None
    record: str
    status: int
    subjects: list[str] | None
    referer: str | None


def method_group(method: str | None) -> MethodGroup:
    """`learn._SQL`'s `mgroup`: reads, preflights, and everything else is a write."""
    upper = (method or "GET").upper()
    if upper in ("GET", "HEAD"):
        return "read"
    return "preflight" if upper == "OPTIONS" else "write"


def _sample() -> array[int]:
    return array("Q")


@dataclass(slots=True)
class _Counts:
    """One template's evidence, every sample a capped array of keyed hashes: an array of 50
    numbers takes a tenth of a set's memory, and is searched as fast at this size."""

    requests: int = 0
    static: int = 0
    errors: int = 0
    lists: int = 0
    names_people: bool = False
    route_index: int | None = None
    clients: array[int] = field(default_factory=_sample)
    after_page: array[int] = field(default_factory=_sample)
    ids: array[int] = field(default_factory=_sample)
    paths: array[int] = field(default_factory=_sample)
    asset_paths: int = 0
    asset_clients: array[int] = field(default_factory=_sample)
    rendered: array[int] = field(default_factory=_sample)
    route: LearnedRoute | None = None

    def stats(self, template: str, methods: str) -> TemplateStats:
        n = self.requests or 1
        return TemplateStats(
            template=template, mgroup=methods, requests=self.requests,
            clients=len(self.clients), ids=len(self.ids), paths=len(self.paths),
            asset_paths=self.asset_paths, asset_clients=len(self.asset_clients),
            static_share=self.static / n,
            error_share=self.errors / n,
            after_page_clients=len(self.after_page) if methods == "read" else 0,
            list_share=self.lists / n, names_people=self.names_people,
            route_index=self.route_index,
            rendered_clients=len(self.rendered) if methods == "read" else 0)


class RouteLearner:
    """What each template of the site is, from the requests this node served; thread-safe."""

    def __init__(self, policy: Policy, hasher: Callable[[str], str], *,
                 warmup_requests: int = WARMUP_REQUESTS,
                 warmup_clients: int = WARMUP_CLIENTS,
                 max_templates: int = MAX_TEMPLATES) -> None:
        self.policy = policy
        self._hasher = hasher
        self.warmup_requests = warmup_requests
        self.warmup_clients = warmup_clients
        self.max_templates = max_templates
        self._id_sample = policy.settings.min_template_ids
        self._templates: OrderedDict[tuple[str, str], _Counts] = OrderedDict()
        self._pages: OrderedDict[int, tuple[array[int], array[int]]] = OrderedDict()
        """Per client (hash): its last pages (hashes) and when it fetched them (ms)."""
        self._page_templates: OrderedDict[int, tuple[str, str]] = OrderedDict()
        """Per page path (hash, no query): its (template, method group)."""
        self._lock = threading.Lock()
        self.requests = 0
        self._clients: set[int] = set()
        self.warm = False
        self.untracked = 0
        """Requests to templates past `max_templates` that could not be followed."""
        self._stale = False
        """An evicted template had a role: the engine's sets must be rebuilt without it."""
        self._declared = _declared_classes(policy)
        self.person_templates, self.item_templates, self.asset_templates = self._declared

    def observe(self, seen: Seen) -> bool:
        """Count one served request; True when what the engine must treat as a record route
        or a sub-resource changed because of it."""
        with self._lock:
            self._stale = False
            republish = self._warm_up(seen)
            counts = self._counts(seen)
            republish |= self._stale  # an evicted template had a role
            if counts is None:
                return republish and self._publish()
            if counts.route is not None and counts.route.declared:
                counts.requests += 1  # a declared route is what it says: nothing to learn
                return republish and self._publish()
            client = self._hash(seen.client)
            changed = self._count(counts, seen, client)
            republish |= self._note_rendered(seen, client)
            if changed or counts.requests & (counts.requests - 1) == 0 \
                    or counts.requests % _REJUDGE_EVERY == 0:
                before = self._role(seen.methods, counts)
                counts.route = judge(counts.stats(seen.template, seen.methods), self.policy)
                # Only a change of role changes the sets: a new template's first judgement
                # (most are pages) must not rebuild them, which walks every template.
                republish |= self._role(seen.methods, counts) != before
            return republish and self._publish()

    def table(self) -> RouteTable:
        """The route table as this node sees it now, most requested first (as `classify`)."""
        with self._lock:
            routes = [c.route for c in self._templates.values() if c.route is not None]
        routes.sort(key=lambda r: (r.klass != "record", r.kind != "person", -r.requests,
                                   r.template, r.methods))
        return RouteTable(routes)

    # -- counting --------------------------------------------------------------------------
    def _hash(self, value: str) -> int:
        """The keyed hash as a number: half the memory of its hex digits in a set."""
        return int(self._hasher(value), 16)

    def _warm_up(self, seen: Seen) -> bool:
        self.requests += 1
        if self.warm:
            return False
        self._clients.add(self._hash(seen.client))
        if self.requests >= self.warmup_requests or len(self._clients) >= self.warmup_clients:
            self.warm = True
            self._clients.clear()
            log.info("scrapeguard: route warm-up over after %d requests; inferred record "
                     "routes are protected from now on", self.requests)
            return True
        return False

    def _counts(self, seen: Seen) -> _Counts | None:
        key = (seen.template, seen.methods)
        counts = self._templates.get(key)
        if counts is not None:
            self._templates.move_to_end(key)
            return counts
        if len(self._templates) >= self.max_templates and not self._evict():
            self.untracked += 1
            if self.untracked == 1:
                log.warning("scrapeguard: %d route templates followed, every one seen by "
                            "several clients; new templates are not learned", self.max_templates)
            return None
        counts = self._templates[key] = _Counts(route_index=seen.declared)
        return counts

    def _evict(self) -> bool:
        """Make room: the oldest template only one client has used (a scanner's guesses, a
        one-off), among the 64 least recently seen. A template many clients use stays."""
        for key, counts in list(self._templates.items())[:64]:
            if len(counts.clients) <= 1 and counts.route_index is None:
                self._stale |= self._role(key[1], counts) is not None
                del self._templates[key]
                return True
        return False

    def _count(self, c: _Counts, seen: Seen, client: int) -> bool:
        """Add the request (by `client`, hashed) to its template's counts; True when a
        sample grew."""
        c.requests += 1
        c.static += seen.by_extension
        c.errors += seen.status >= 400
        if seen.subjects is not None:
            c.lists += 1
            c.names_people = c.names_people or bool(seen.subjects)
        grew = _add(c.clients, client, CLIENT_SAMPLE)
        if seen.methods == "read" and not c.route_index and len(c.ids) < self._id_sample:
            grew |= _add(c.ids, self._hash(seen.record), self._id_sample)
        asset = "?" in seen.path and bool(_ASSET_QUERY.search(seen.path))
        if asset and client in c.clients:
            grew |= _add(c.asset_clients, client, CLIENT_SAMPLE)
        if len(c.paths) < PATH_SAMPLE:
            path = self._hash(seen.path)
            if path not in c.paths:
                c.paths.append(path)
                c.asset_paths += asset
                grew = True
        if seen.methods == "read" and not seen.by_extension:
            grew |= self._after_page(c, client, seen)
        return grew

    def _note_rendered(self, seen: Seen, client: int) -> bool:
        """An asset asked for with a page as referer: the client rendered that page
        (`learn._SQL`'s `rendered`). True when its template's role changed."""
        if seen.methods != "read" or not seen.by_extension or seen.path == "/favicon.ico":
            return False
        found = _REFERER.match(seen.referer or "")
        page = found.group(1) if found else None
        key = self._page_templates.get(self._hash(page)) if page else None
        counts = self._templates.get(key) if key is not None else None
        if (key is None or counts is None or client not in counts.clients
                or (counts.route is not None and counts.route.declared)
                or not _add(counts.rendered, client, CLIENT_SAMPLE)):
            return False
        before = self._role(key[1], counts)
        counts.route = judge(counts.stats(*key), self.policy)
        return self._role(key[1], counts) != before

    def _after_page(self, c: _Counts, client: int, seen: Seen) -> bool:
        """Note the page (the client's recent pages; its template, for `_note_rendered`), and
        whether this fetch followed, within seconds, the client's own fetch of the page its
        referer names (`learn._SQL`'s `after_page`)."""
        page = seen.path.split("?")[0]
        found = _REFERER.match(seen.referer or "")
        grew = False
        recent = self._pages.get(client)
        if found and found.group(1) and found.group(1) != page and recent is not None:
            referer = self._hash(found.group(1))
            if referer in recent[0]:
                at = recent[1][recent[0].index(referer)]
                if 0 <= seen.ts_ms - at <= AFTER_PAGE_SECONDS * 1000 and client in c.clients:
                    grew = _add(c.after_page, client, CLIENT_SAMPLE)
        if recent is None:
            if len(self._pages) >= RECENT_CLIENTS:
                self._pages.popitem(last=False)
            recent = self._pages[client] = (array("Q"), array("Q"))
        else:
            self._pages.move_to_end(client)
        pages, times = recent
        hashed = self._hash(page)
        self._page_templates[hashed] = (seen.template, seen.methods)
        if len(self._page_templates) > PAGE_TEMPLATES:
            self._page_templates.popitem(last=False)
        if hashed in pages:
            index = pages.index(hashed)
            del pages[index], times[index]
        elif len(pages) >= RECENT_PAGES:
            del pages[0], times[0]
        pages.append(hashed)
        times.append(max(seen.ts_ms, 0))
        return grew

    def _role(self, methods: str, counts: _Counts) -> str | None:
        """Which of the engine's sets a learned template belongs to: `person`, `item`
        (record routes), `asset` (a sub-resource by behaviour), or None."""
        route = counts.route
        if route is None or methods != "read" or counts.route_index:
            return None  # a declared route's paths are matched by its own pattern
        if route.klass == "subresource" and route.evidence[:1] != BY_EXTENSION:
            return "asset"
        if route.klass == "record" and (self.warm or route.declared) \
                and (self.policy.settings.infer_templates or route.declared):
            return "person" if route.kind == "person" else "item"
        return None

    def _publish(self) -> bool:
        """Recompute the templates the engine uses; True when they changed."""
        person, items, assets = (set(t) for t in self._declared)
        sets = {"person": person, "item": items, "asset": assets}
        for (template, methods), counts in self._templates.items():
            role = self._role(methods, counts)
            if role is not None:
                sets[role].add(template)
        new = (frozenset(person), frozenset(items), frozenset(assets))
        if new == (self.person_templates, self.item_templates, self.asset_templates):
            return False
        self.person_templates, self.item_templates, self.asset_templates = new
        return True


def _declared_classes(policy: Policy) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """The policy's `route_classes` for reads, used from the first request: declared wins."""
    reads = [c for c in policy.route_classes if c.methods == "read"]
    return (frozenset(c.template for c in reads if c.klass == "record" and c.kind != "item"),
            frozenset(c.template for c in reads if c.klass == "record" and c.kind == "item"),
            frozenset(c.template for c in reads if c.klass == "subresource"))


def _add(sample: array[int], value: int, cap: int) -> bool:
    if len(sample) >= cap or value in sample:
        return False
    sample.append(value)
    return True


