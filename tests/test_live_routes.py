"""Routes learned live: the README's example, with nothing declared, protects its profiles.

The example app (`examples/people_app.py`) is added to the middleware exactly as the README
shows: no `routes:`, no `X-Subjects`, no hook. Before the live learner an enumerator walked
every profile (1,914 of 1,914 here). People browse beside it with a browser's habits —
pages, then their stylesheet, script and avatars with the page as referer, a telemetry write
with its CORS preflight after each page — and must not be refused.
"""

from __future__ import annotations

import importlib.util
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from logbuilder import Log
from scrapeguard.engines.replay import events
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy
from scrapeguard.routes import live
from scrapeguard.routes.read import learn_routes
from scrapeguard.stores.keys import StateHasher
from test_middleware_support import BROWSER, SECRET, FakeClock, call
from test_routes import SITE, _app_users, _shoppers, hover_readers

EXAMPLE = Path(__file__).parents[1] / "examples" / "people_app.py"
SEQ_RULE = 20
"""`sequential-enumeration`'s count: neighbouring steps once the route is a record route."""
IDS = load_policy(None).settings.min_template_ids
"""Distinct ids that make a template a record route (`settings.min_template_ids`, 50)."""
LAG = 2
"""Answers an enumerator may get past a rule's threshold: the one that crossed it and the one
decided while it was being counted."""
HOST = "http://people.example"


def _example() -> Any:
    spec = importlib.util.spec_from_file_location("people_app", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


people_app = _example()


@dataclass
class Visitor:
    """One address with its cookie jar, as a browser keeps it."""

    ip: str
    ua: str = BROWSER
    cookies: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)


@dataclass
class Site:
    """The README's example behind the middleware, driven on a compressed clock."""

    clock: FakeClock
    apps: list[Any]
    """One app per gateway node; requests take turns among them, as behind a balancer."""
    agenda: list[tuple[float, int, Callable[[], None]]] = field(default_factory=list)
    start: datetime = field(default_factory=lambda: datetime.now(UTC))
    turn: int = 0

    def get(self, who: Visitor, path: str, *, method: str = "GET",
            referer: str | None = None) -> int:
        headers = [("user-agent", who.ua)]
        if referer:
            headers.append(("referer", HOST + referer))
        if who.cookies:
            headers.append(("cookie", "; ".join(f"{k}={v}" for k, v in who.cookies.items())))
        app = self.apps[self.turn % len(self.apps)]
        self.turn += 1
        answer = call(app, path, method=method, client=who.ip, headers=headers)
        cookie = answer.headers.get("set-cookie", "")
        if cookie.startswith("sg_client="):
            who.cookies["sg_client"] = cookie.split(";")[0].split("=", 1)[1]
        if answer.status in (403, 429):  # block, challenge page, throttle
            who.refused.append(path)
            return 0
        return answer.status

    def at(self, seconds: float, action: Callable[[], None]) -> None:
        self.agenda.append((seconds, len(self.agenda), action))

    def run(self) -> None:
        for seconds, _, action in sorted(self.agenda, key=lambda a: (a[0], a[1])):
            self.clock.now = self.start + timedelta(seconds=seconds)
            action()
        self.agenda.clear()


def site(nodes: int = 1, **options: Any) -> Site:
    clock = FakeClock()
    options.setdefault("secret", SECRET)
    apps = [people_app.build(clock=clock, **options).build_middleware_stack()
            for _ in range(nodes)]
    return Site(clock, apps, start=clock.now)


def browse(site: Site, who: Visitor, begin: float, rng: random.Random, views: int = 4) -> None:
    """A person: the home page, a search, profiles from its results, each page followed
    within a second by its stylesheet, script and avatars (referer: the page), and by the
    app's telemetry write with its CORS preflight; then a pause to read."""
    t = begin

    def page(path: str, avatars: list[int]) -> None:
        nonlocal t
        at = t
        site.at(at, lambda: site.get(who, path))
        for k, asset in enumerate(["/static/site.css", "/static/app.js",
                                   *(f"/avatar/{n}" for n in avatars)]):
            site.at(at + 0.05 + 0.03 * k, lambda a=asset: site.get(who, a, referer=path))
        event = f"/api/v1/events/{rng.randrange(10_000, 10_400)}"
        site.at(at + 0.8, lambda: site.get(who, "/api/v1/events", method="OPTIONS"))
        site.at(at + 0.9, lambda: site.get(who, event, method="POST"))
        t += rng.uniform(15, 60)

    page("/", [])
    for _ in range(views):
        query = f"/search?q={rng.choice(['ann', 'bo', 'cy', 'di'])}"
        found = [n for n in range(1, 40) if people_app.exists(n)][:10]
        page(query, found)
        person = rng.randrange(1, people_app.PEOPLE + 1)
        site.at(t, lambda p=person, q=query: site.get(who, f"/user/{p}", referer=q))
        for k, asset in enumerate(["/static/site.css", "/static/app.js", f"/avatar/{person}"]):
            site.at(t + 0.05 + 0.03 * k,
                    lambda a=asset, p=person: site.get(who, a, referer=f"/user/{p}"))
        t += rng.uniform(20, 90)


def crowd(site: Site, count: int, begin: float, every: float,
          seed: int = 3) -> list[Visitor]:
    rng = random.Random(seed)
    people = []
    for c in range(count):
        who = Visitor(f"198.51.100.{10 + c}")
        people.append(who)
        browse(site, who, begin + c * every, rng)
    return people


@dataclass
class Walk:
    served: int = 0
    refused_at: int = -1


BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36")


def enumerate_profiles(site: Site, begin: float, pace: float = 1.0, ua: str = BROWSER) -> Walk:
    """Every profile in order, one a `pace` seconds, no assets, no referer; under a browser's
    name, since an HTTP library's reading 20 pages a day is refused by `library-page-walk`
    whatever the routes are."""
    harvester, walk = Visitor("203.0.113.9", ua), Walk()

    def step(n: int) -> None:
        if walk.refused_at >= 0:
            return  # refused: the count is made
        status = site.get(harvester, f"/user/{n}")
        if status == 200:
            walk.served += 1
        elif status == 0:
            walk.refused_at = n

    for n in range(1, people_app.PEOPLE + 1):
        site.at(begin + n * pace, lambda n=n: step(n))
    return walk


def test_without_the_learner_an_enumerator_takes_every_profile() -> None:
    """What the issue reported: nothing declared, so nothing protected."""
    engine = StreamEngine(None, secret=SECRET, learn_routes=False)
    s = site(engine=engine)
    walk = enumerate_profiles(s, 0)
    s.run()
    assert walk.refused_at < 0
    assert walk.served == people_app.served_profiles() == 1914


def test_an_enumerator_on_a_warm_site_is_refused_after_the_ids_and_the_rules_count() -> None:
    """The site has had its visitors (warm-up over); the enumerator starts then. /user/{n}
    becomes a record route at 50 distinct ids (the people's and its own), after which
    sequential enumeration acts at its usual 20 steps."""
    s = site()
    people = crowd(s, 25, 0, 8)
    walk = enumerate_profiles(s, 400)
    s.run()
    print(f"warm site: {walk.served} profiles served before refusal "
          f"(without the learner: {people_app.served_profiles()})")
    assert walk.refused_at > 0, "never refused"
    assert walk.served <= IDS + SEQ_RULE + LAG
    assert not [p.ip for p in people if p.refused]


def test_an_enumerator_arriving_with_the_first_visitors_waits_out_only_the_warm_up() -> None:
    """Warm-up ends at 20 distinct clients; until then the per-address rules alone run.
    Visitors arrive every 8 s, the enumerator (one client itself) takes a profile a second
    from t=5 s: the 19th visitor, at 144 s, ends the warm-up, 139 profiles in."""
    every, begin = 8, 5
    s = site()
    people = crowd(s, 25, 0, every)
    walk = enumerate_profiles(s, begin)
    s.run()
    during_warm_up = every * (live.WARMUP_CLIENTS - 2) - begin
    print(f"fresh site: {walk.served} profiles served before refusal")
    assert walk.refused_at > 0, "never refused"
    assert walk.served <= during_warm_up + SEQ_RULE + LAG
    assert not [p.ip for p in people if p.refused]


def test_an_enumerator_alone_on_a_fresh_node_waits_out_at_most_the_warm_up_requests() -> None:
    s = site()
    walk = enumerate_profiles(s, 0)
    s.run()
    print(f"alone: {walk.served} profiles served before refusal")
    assert walk.refused_at > 0, "never refused"
    assert walk.served <= live.WARMUP_REQUESTS + SEQ_RULE + LAG


@pytest.mark.parametrize("client", ["fast crawler", "prober"])
def test_per_address_rules_act_during_the_warm_up(client: str) -> None:
    """A fresh node has learned no record route yet; a crawler taking pages by the second and
    a scanner guessing paths are refused all the same, by rules that need no routes."""
    engine = StreamEngine(None, secret=SECRET)
    s = site(engine=engine)
    who = Visitor("203.0.113.20", "Mozilla/5.0 (compatible; SomeCrawler/1.0)")
    if client == "fast crawler":
        paths = [f"/search?q=p{n}" if n % 2 else f"/user/{n}" for n in range(1, 80)]
    else:
        paths = [f"/{name}.php" for name in ("admin", "wp-login", "setup", "config", "shell",
                                             "phpinfo", "db", "test", "info", "install",
                                             "backup", "old", "upload", "cmd", "x")]
    for n, path in enumerate(paths):
        s.at(n * 0.5, lambda p=path: s.get(who, p))
    s.run()
    assert engine.learner is not None
    assert not engine.learner.warm
    assert engine.learner.person_templates == frozenset()
    assert who.refused, f"the {client} was never refused"
    (decided,) = [d for d in engine.decisions() if d.actor == f"ip:{who.ip}"]
    if client == "fast crawler":
        assert len(who.refused) < len(paths) - 5
        assert decided.rules == ["fast-crawl"]
    else:  # its first guess is an admin script this site does not have
        assert len(who.refused) == len(paths) - 1
        assert decided.rules == ["known-target-probe"]


def test_images_telemetry_and_preflights_of_the_example_are_never_record_routes() -> None:
    engine = StreamEngine(None, secret=SECRET)
    s = site(engine=engine)
    crowd(s, 24, 0, 5)
    s.run()
    got = {(r.template, r.methods): (r.klass, r.kind) for r in engine.routes().routes}
    assert got[("/avatar/{n}", "read")] == ("subresource", None)
    assert got[("/api/v1/events/{n}", "write")] == ("write", None)
    assert got[("/api/v1/events", "preflight")] == ("preflight", None)
    assert engine.learner is not None
    assert "/avatar/{n}" in engine.learner.asset_templates
    assert engine.learner.person_templates <= {"/user/{n}"}


@pytest.mark.redis
def test_two_nodes_on_one_redis_learn_alike_and_count_the_enumerator_once(
        redis_url: str) -> None:
    """Each node learns from the requests it serves (the learned table is per node, never in
    the store); behind a balancer both see the same site, so both learn the same routes, and
    the enumerator's steps, counted in the shared store, are refused as on one node."""
    s = site(nodes=2, store=redis_url)
    people = crowd(s, 25, 0, 8)
    walk = enumerate_profiles(s, 400)
    s.run()
    print(f"two nodes: {walk.served} profiles served before refusal")
    assert walk.refused_at > 0, "never refused"
    assert walk.served <= IDS + SEQ_RULE + LAG
    assert not [p.ip for p in people if p.refused]
    learned = [_learner(app) for app in s.apps]
    assert learned[0].person_templates == learned[1].person_templates == {"/user/{n}"}
    assert learned[0].asset_templates == learned[1].asset_templates


def _learner(app: Any) -> live.RouteLearner:
    """The learner inside a built middleware stack."""
    while not hasattr(app, "guard"):
        app = app.app
    learner = app.guard.engine.learner
    assert learner is not None
    return learner  # type: ignore[no-any-return]


# --- the same understanding as the batch step ---------------------------------------------

def _live_table(path: Path, policy: Policy | None = None) -> dict[tuple[str, str], Any]:
    engine = StreamEngine(policy, secret=SECRET)
    for event in events([str(path)]):
        engine.record(event)
    return {(r.template, r.methods): (r.klass, r.kind) for r in engine.routes().routes}


def _shop(log: Log) -> None:
    _shoppers(log)
    _app_users(log)


@pytest.mark.parametrize(("build", "people"), [(_shop, frozenset()),
                                               (hover_readers, frozenset({"/users/{n}"}))],
                         ids=["shop", "hover-prefetch"])
def test_the_live_learner_agrees_with_the_batch_step(
        tmp_path: Path, build: Callable[[Log], object], people: frozenset[str]) -> None:
    """`test_routes`' shop (thumbnails without an extension, resized images, telemetry
    writes with neighbouring ids, CORS preflights) and its community site (profiles
    prefetched on hover, fetched the way images are, rendered by the people who open them):
    both engines class every route alike, and only the profiles carry people."""
    log = Log()
    build(log)
    path = log.write(tmp_path / "site.log")
    batch, _ = learn_routes([str(path)])
    expected = {(r.template, r.methods): (r.klass, r.kind) for r in batch.routes}
    got = _live_table(path)
    assert got == expected
    assert {template for (template, _), (_, kind) in got.items() if kind == "person"} == people


@pytest.mark.parametrize("trick", ["after a page", "image size"])
def test_one_client_imitating_a_subresource_cannot_flip_a_person_route_live(trick: str) -> None:
    """People read profiles from a search page; one harvester fetches a profile the instant
    after that page as a browser fetches an image, or asks each profile with an image size
    (`?w=200`), thousands of times. It is one client among the 26."""
    engine = StreamEngine(None, secret=SECRET)
    start, rng = datetime(2026, 3, 2, 8, tzinfo=UTC), random.Random(9)
    stream: list[tuple[float, dict[str, Any]]] = []

    def hit(at: float, ip: str, path: str, referer: str | None = None) -> None:
        stream.append((at, {"ts": start + timedelta(seconds=at), "ip": ip, "method": "GET",
                            "path": path, "status": 200, "bytes": 4000, "ua": BROWSER,
                            "referer": referer and SITE + referer, "account": None,
                            "session": None, "subjects": None}))

    for c in range(25):
        ip, at = f"198.51.100.{10 + c}", c * 50.0
        for _ in range(4):
            hit(at, ip, "/search", "/")
            hit(at + 0.2, ip, "/static/site.css", "/search")
            at += rng.uniform(15, 60)
            profile = f"/user/{rng.randrange(10_000, 99_999)}"
            hit(at, ip, profile, "/search")
            hit(at + 0.2, ip, "/static/site.css", profile)
            at += rng.uniform(15, 60)
    harvester = "203.0.113.66"
    for n in range(3000):
        if trick == "image size":
            hit(10.3 + 1.2 * n, harvester, f"/user/{20_000 + n * 7}?w=200")
            continue
        hit(10 + 1.2 * n, harvester, "/search", "/")
        hit(10.3 + 1.2 * n, harvester, f"/user/{20_000 + n * 7}", "/search")
    for _, event in sorted(stream, key=lambda e: e[0]):
        engine.record(event)
    (profile,) = [r for r in engine.routes().routes if r.template == "/user/{n}"]
    assert (profile.klass, profile.kind) == ("record", "person"), profile
    assert engine.learner is not None
    assert "/user/{n}" in engine.learner.person_templates
    acted = {d.actor for d in engine.decisions() if d.action != "allow"}
    assert f"ip:{harvester}" in acted
    assert not any(a.startswith("ip:198.51.100.") for a in acted), acted


# --- declared routes win; bounds --------------------------------------------------------------

def _declaring(**extra: Any) -> Policy:
    return Policy.model_validate({**load_policy(None).model_dump(), **extra})


def test_declared_route_classes_apply_from_the_first_request() -> None:
    policy = _declaring(route_classes=[{"template": "/avatar/{n}", "class": "record",
                                        "kind": "person"}])
    engine = StreamEngine(policy, secret=SECRET)
    assert engine.learner is not None
    assert "/avatar/{n}" in engine.learner.person_templates
    assert engine.deriver.path_info("/avatar/7").route_index == 0


def test_a_declared_route_is_not_learned_over() -> None:
    policy = _declaring(routes=[{"name": "profile", "path": "/user/{id}", "subject": "id"}])
    engine = StreamEngine(policy, secret=SECRET)
    t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    for n in range(200):
        engine.record({"ts": t0 + timedelta(seconds=n), "ip": f"198.51.100.{n % 30}",
                       "method": "GET", "path": f"/user/{n}", "status": 200, "bytes": 900,
                       "ua": BROWSER, "referer": None, "account": None, "session": None,
                       "subjects": None})
    assert engine.learner is not None
    assert engine.learner.person_templates == frozenset()
    assert engine.deriver.path_info("/user/9").route_index == 1


def test_the_learner_is_bounded_and_keeps_templates_many_clients_use() -> None:
    """A scanner's thousands of one-off paths neither grow the learner nor push out a route
    the site's visitors use."""
    learner = live.RouteLearner(load_policy(None), StateHasher(SECRET), max_templates=100)

    def seen(path: str, client: str, n: int) -> live.Seen:
        return live.Seen(ts_ms=n * 1000, client=client, template=path, methods="read",
                         path=path, by_extension=False, declared=None, record=path,
                         status=200, subjects=None, referer=None)

    for c in range(30):
        learner.observe(seen("/user/{n}", f"198.51.100.{c}", c))
    for n in range(5000):
        learner.observe(seen(f"/guess-{n}.php", "203.0.113.5", 100 + n))
    templates = {r.template for r in learner.table().routes}
    assert len(templates) <= 100
    assert "/user/{n}" in templates
    for counts in learner._templates.values():
        assert len(counts.clients) <= live.CLIENT_SAMPLE
        assert len(counts.ids) <= IDS
        assert len(counts.paths) <= live.PATH_SAMPLE
    assert len(learner._pages) <= live.RECENT_CLIENTS


def test_what_the_learner_keeps_names_nobody() -> None:
    """Subjects, clients and paths are held as keyed hashes, as in the store."""
    engine = StreamEngine(None, secret=SECRET)
    t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    for n in range(80):
        engine.record({"ts": t0 + timedelta(seconds=n), "ip": "203.0.113.44", "method": "GET",
                       "path": f"/lookup?phone=%2B1555{n:07d}", "status": 200, "bytes": 900,
                       "ua": BROWSER, "referer": None, "account": None, "session": None,
                       "subjects": None})
    assert engine.learner is not None
    assert list(engine.learner._templates) == [("/lookup?phone={phone}", "read")]
    for counts in engine.learner._templates.values():
        for sample in (counts.clients, counts.ids, counts.paths, counts.after_page,
                       counts.asset_clients):
            assert sample.typecode == "Q"  # 64-bit numbers: keyed hashes, no text
        assert len(counts.ids) == IDS
    for client, (pages, times) in engine.learner._pages.items():
        assert isinstance(client, int)
        assert pages.typecode == times.typecode == "Q"


@pytest.mark.parametrize("method", ["OPTIONS", "POST"])
def test_writes_and_preflights_with_many_ids_are_never_learned_as_record_routes(
        method: str) -> None:
    engine = StreamEngine(None, secret=SECRET)
    t0 = datetime(2026, 3, 2, 8, tzinfo=UTC)
    for n in range(1200):
        engine.record({"ts": t0 + timedelta(seconds=n), "ip": f"192.0.2.{n % 40}",
                       "method": method, "path": f"/api/v1/events/{9000 + n}", "status": 204,
                       "bytes": 0, "ua": BROWSER, "referer": None, "account": None,
                       "session": None, "subjects": None})
    assert engine.learner is not None
    assert engine.learner.warm
    assert engine.learner.person_templates == frozenset()
    assert engine.decisions() == []


@pytest.mark.parametrize("max_templates", [live.MAX_TEMPLATES, 6])
def test_the_sets_the_engine_reads_are_current_after_every_request(
        tmp_path: Path, max_templates: int) -> None:
    """The learner rebuilds its record and sub-resource sets only when a template's role
    changes (a rebuild walks every template; doing it at each new template's first judgement
    took a third of the live engine's time). After every request a rebuild must find nothing
    to change — through the warm-up, thumbnails learnt by behaviour, and evictions of a
    learner too small for the site."""
    log = Log()
    _shoppers(log)
    _app_users(log)
    engine = StreamEngine(None, secret=SECRET)
    learner = engine.learner
    assert learner is not None
    learner.max_templates = max_templates
    observe, stale = learner.observe, []

    def checked(seen: live.Seen) -> bool:
        changed = observe(seen)
        if learner._publish():
            stale.append(seen.template)
        return changed

    learner.observe = checked  # type: ignore[method-assign]
    for event in events([str(log.write(tmp_path / "shop.log"))]):
        engine.record(event)
    assert learner.warm, "the log warms the learner up"
    assert learner.asset_templates, "the log has sub-resources learnt by behaviour"
    assert not stale, f"sets out of date after requests to {sorted(set(stale))[:5]}"
