"""Routes as their own step: what each template is, learned from the log before any rule runs.

The logs here are the shapes real sites write and the old inference misread: thumbnails from
extension-less URLs, telemetry writes with neighbouring ids, CORS preflights, phone numbers in
query strings, and a catalogue harvest that is nobody's personal data.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from conformance_support import agreed
from logbuilder import CHROME, FIREFOX, Log
from scrapeguard.analysis import analyze
from scrapeguard.cli import app
from scrapeguard.policy.load import load_policy
from scrapeguard.report.impact import build
from scrapeguard.routes.classify import TemplateStats, classify
from scrapeguard.routes.model import LearnedRoute, RouteTable
from scrapeguard.routes.read import learn_routes

SITE = "https://shop.example"
THUMB = "/media/catalog/product/cache/1/thumb/9df78e/{}"
THUMB_ROUTE = "/media/catalog/product/cache/{n}/thumb/9df78e/{n}"
APP = "ShopApp/8.4.1 (Linux; Android 14; Pixel 7)"


def _route(table: RouteTable, template: str, methods: str = "read") -> LearnedRoute:
    found = [r for r in table.routes if r.template == template and r.methods == methods]
    assert found, f"no route {template} ({methods}); have {[r.template for r in table.routes]}"
    return found[0]


def _shoppers(log: Log, count: int = 30, seed: int = 5) -> list[str]:
    """People browsing a shop: category pages, each followed within a second or two by its
    product thumbnails (extension-less) and resized images, then a product page or two."""
    rng = random.Random(seed)
    ips = []
    for c in range(count):
        ip = f"198.51.100.{10 + c}"
        ips.append(ip)
        at = c * 37.0
        for _ in range(4):
            page = f"/category/{rng.randrange(12)}"
            log.hit(at, ip, page, referer=SITE + "/", size=rng.randint(9000, 15000))
            log.hit(at + 0.2, ip, "/static/app.js", referer=SITE + page)
            for k in range(12):
                pid = rng.randrange(400)
                log.hit(at + 0.3 + 0.1 * k, ip, THUMB.format(pid), referer=SITE + page,
                        size=rng.randint(3000, 9000))
                log.hit(at + 0.35 + 0.1 * k, ip, f"/img/p/{pid}?w=200", referer=SITE + page,
                        size=rng.randint(3000, 9000))
            at += rng.uniform(20, 60)
            product = f"/product/{rng.randrange(400)}"
            log.hit(at, ip, product, referer=SITE + page)
            log.hit(at + 0.2, ip, "/static/app.js", referer=SITE + product)
            log.hit(at + 0.3, ip, f"/img/p/{rng.randrange(400)}?w=600", referer=SITE + product)
            at += rng.uniform(20, 60)
    return ips


def _app_users(log: Log, count: int = 20) -> list[str]:
    """A mobile app and a single-page app: telemetry writes carrying neighbouring ids, each
    call of the web app doubled by its CORS preflight."""
    ips = []
    for c in range(count):
        ip = f"192.0.2.{10 + c}"
        ips.append(ip)
        for n in range(40):
            at = c * 5.0 + n * 3.0
            log.hit(at, ip, "/api/v1/events", method="OPTIONS", size=0, referer=SITE + "/app")
            log.hit(at + 0.1, ip, f"/api/v1/events/{9000 + c * 40 + n}", method="POST",
                    size=20, ua=APP)
    return ips


def test_extensionless_images_telemetry_and_preflights_are_never_record_routes(
        tmp_path: Path) -> None:
    log = Log()
    people = _shoppers(log) + _app_users(log)
    result = analyze([str(log.write(tmp_path / "shop.log"))])
    table = result.enrich.routes
    assert _route(table, THUMB_ROUTE).klass == "subresource"
    assert _route(table, "/img/p/{n}").klass == "subresource"
    assert _route(table, "/api/v1/events/{n}", "write").klass == "write"
    assert _route(table, "/api/v1/events", "preflight").klass == "preflight"
    assert all(not r.carries_people for r in table.routes), table.person_templates
    acted = {d.actor for d in result.decisions if d.action != "allow"}
    assert acted.isdisjoint({f"ip:{ip}" for ip in people}), sorted(acted)


def test_a_harvester_imitating_a_subresource_cannot_reclassify_a_person_route(
        tmp_path: Path) -> None:
    """Evidence counts distinct clients: one harvester fetching profiles the instant after a
    page that refers to them, thousands of times, is one client among the people who read."""
    log = Log()
    rng = random.Random(9)
    for c in range(25):
        ip, at = f"198.51.100.{10 + c}", c * 50.0
        for _ in range(4):
            log.hit(at, ip, "/search", referer=SITE + "/")
            log.hit(at + 0.2, ip, "/static/site.css", referer=SITE + "/search")
            at += rng.uniform(15, 60)
            profile = f"/user/{rng.randrange(10_000, 99_999)}"
            log.hit(at, ip, profile, referer=SITE + "/search")
            log.hit(at + 0.2, ip, "/static/site.css", referer=SITE + profile)
            at += rng.uniform(15, 60)
    harvester = "203.0.113.66"
    for n in range(3000):
        at = 10 + 1.2 * n
        log.hit(at, harvester, "/search", referer=SITE + "/")
        log.hit(at + 0.3, harvester, f"/user/{20_000 + n * 7}", referer=SITE + "/search")
    result = analyze([str(log.write(tmp_path / "imitation.log"))])
    profile = _route(result.enrich.routes, "/user/{n}")
    assert profile.klass == "record", profile
    assert profile.kind == "person", profile
    acted = {d.actor for d in result.decisions if d.action != "allow"}
    assert f"ip:{harvester}" in acted


def hover_readers(log: Log, count: int = 30, seed: int = 11) -> list[str]:
    """People on a community site whose pages prefetch a profile when its link is hovered
    (Turbo 8's default, instant.page): each profile fetched a second or two after the page,
    with the page as referer, as an image is; the profiles people then open are rendered, so
    their avatars are asked for with the profile as referer. Each list page shows avatars
    from an extension-less thumbnail route, which nobody renders."""
    rng = random.Random(seed)
    ips = []
    for c in range(count):
        ip, at = f"198.51.100.{10 + c}", c * 41.0
        ips.append(ip)
        for _ in range(3):
            page = f"/topics/{rng.randrange(40)}"
            log.hit(at, ip, page, referer=SITE + "/", size=rng.randint(9000, 15000))
            log.hit(at + 0.2, ip, "/assets/app.css", referer=SITE + page)
            for k in range(8):
                log.hit(at + 0.3 + 0.05 * k, ip, f"/avatar/{rng.randrange(900)}/64x64",
                        referer=SITE + page, size=rng.randint(1500, 4000))
            hovered = [f"/users/{rng.randrange(10_000, 99_999)}" for _ in range(3)]
            for k, profile in enumerate(hovered):
                log.hit(at + 1.5 + 0.8 * k, ip, profile, referer=SITE + page, size=12_000)
            if rng.random() < 0.6:  # the person opens one of them: rendered
                opened = hovered[-1]
                log.hit(at + 9, ip, "/assets/profile.js", referer=SITE + opened)
                log.hit(at + 9.1, ip, f"/avatar/{rng.randrange(900)}/200x200",
                        referer=SITE + opened, size=9000)
            at += rng.uniform(20, 60)
    return ips


def test_a_profile_prefetched_on_hover_is_still_the_page_people_render(tmp_path: Path) -> None:
    """Fetched just after a page, with it as referer, by nearly every client: the behaviour
    that makes a thumbnail a sub-resource. But people render the profiles they open (their
    assets name the profile as referer), which no image ever is: still a person route, and
    the avatars still images. Two addresses asking for assets under a thumbnail's address as
    referer do not make thumbnails people's records."""
    log = Log()
    hover_readers(log)
    for n, ip in enumerate(("203.0.113.70", "203.0.113.71")):
        for k in range(5):
            log.hit(2000 + 10 * n + k, ip, f"/avatar/{k}/64x64", size=2000)
            log.hit(2000.5 + 10 * n + k, ip, "/assets/app.css", referer=f"{SITE}/avatar/{k}/64x64")
    table = learn_routes([str(log.write(tmp_path / "hover.log"))])[0]
    profile = _route(table, "/users/{n}")
    assert (profile.klass, profile.kind) == ("record", "person"), profile
    assert any("rendered it" in e for e in profile.evidence), profile.evidence
    assert _route(table, "/avatar/{n}/64x64").klass == "subresource"


def test_a_harvester_adding_an_image_size_to_each_profile_cannot_make_it_an_image(
        tmp_path: Path) -> None:
    """`/user/7?w=200` names an image size; written on 3,000 profiles by one harvester it is
    3,000 such paths, but one client of the 26 who read profiles."""
    log = Log()
    rng = random.Random(9)
    for c in range(25):
        ip, at = f"198.51.100.{10 + c}", c * 50.0
        for _ in range(4):
            log.hit(at, ip, "/search", referer=SITE + "/")
            at += rng.uniform(15, 60)
            log.hit(at, ip, f"/user/{rng.randrange(10_000, 99_999)}", referer=SITE + "/search")
            at += rng.uniform(15, 60)
    harvester = "203.0.113.66"
    for n in range(3000):
        log.hit(10 + 1.2 * n, harvester, f"/user/{20_000 + n * 7}?w=200")
    result = analyze([str(log.write(tmp_path / "sized.log"))])
    profile = _route(result.enrich.routes, "/user/{n}")
    assert (profile.klass, profile.kind) == ("record", "person"), profile
    assert f"ip:{harvester}" in {d.actor for d in result.decisions if d.action != "allow"}


def test_a_search_is_a_page_though_q_can_be_an_images_quality(tmp_path: Path) -> None:
    """`?q=80` sets an image's quality; `?q=lamp` is what someone searched for."""
    log = Log()
    _shoppers(log, count=8)
    for c in range(8):
        log.hit(900 + c * 30.0, f"198.51.100.{10 + c}", f"/search?q=lamp+{c}",
                referer=SITE + "/")
        log.hit(901 + c * 30.0, f"198.51.100.{10 + c}", f"/img/p/{c}?w=200&q=80",
                referer=SITE + "/search")
    table, _ = learn_routes([str(log.write(tmp_path / "q.log"))])
    assert _route(table, "/search").klass == "page"
    assert _route(table, "/img/p/{n}").klass == "subresource"


def test_phone_enumeration_in_a_query_string_is_seen_in_a_plain_combined_log(
        tmp_path: Path) -> None:
    log = Log()
    rng = random.Random(2)
    for c in range(20):  # people matching a few of their own contacts
        for k in range(3):
            log.hit(c * 40.0 + k, f"198.51.100.{10 + c}",
                    f"/api/contacts/match?phone=%2B1{rng.randrange(10**9, 10**10)}", ua=APP)
    enumerator = "203.0.113.77"
    for n in range(200):
        log.hit(5 + 2.5 * n, enumerator, f"/api/contacts/match?phone=%2B1555000{n:04d}", ua=APP,
                status=200 if n % 4 == 0 else 404, size=120 if n % 4 == 0 else 30)
    result = analyze([str(log.write(tmp_path / "contacts.log"))])
    route = _route(result.enrich.routes, "/api/contacts/match?phone={phone}")
    assert route.klass == "record"
    assert route.kind == "person"
    decided = {d.actor: d for d in result.decisions}
    assert f"ip:{enumerator}" in decided
    assert "sequential-enumeration" in decided[f"ip:{enumerator}"].rules
    assert not any(a.startswith("ip:198.51.100.") for a in decided)


def _catalogue_log(tmp_path: Path) -> tuple[Path, str, list[str]]:
    log = Log()
    people = _shoppers(log, count=10)
    harvester = "203.0.113.88"
    for n in range(160):  # products only, no assets, paced
        log.hit(30 + 14 * n, harvester, f"/product/{1000 + n * 3}", size=14_000)
    return log.write(tmp_path / "catalogue.log"), harvester, people


def test_a_catalogue_harvest_is_reported_as_one_never_as_a_breach_of_people(
        tmp_path: Path) -> None:
    path, harvester, people = _catalogue_log(tmp_path)
    policy = load_policy(None)
    result = analyze([str(path)], policy=policy, keep_connection=True)
    assert _route(result.enrich.routes, "/product/{n}").kind == "item"
    decided = {d.actor: d for d in result.decisions if d.action != "allow"}
    catalogue = decided[f"ip:{harvester}"]
    assert catalogue.rules == ["catalogue-harvest"]
    assert catalogue.action == "throttle"
    assert catalogue.subjects == 0  # no person's record counted
    assert not {f"ip:{ip}" for ip in people} & set(decided)
    report = build(result, policy)
    result.connection.close()
    (actor,) = [a for a in report["actors"] if a["actor"] == f"ip:{harvester}"]
    assert actor["catalogue_harvest"]
    assert actor["catalogue_items"] == 160
    assert report["summary"]["people_affected"] == 0
    assert report["summary"]["catalogue_harvests"] == 1
    nature = report["notification"]["sections"][0]["answer"]
    assert "by 0 actors" in nature
    assert "harvested the catalogue (160 items" in nature


def test_the_report_says_when_a_figure_rests_on_an_inferred_route(tmp_path: Path) -> None:
    log = Log()
    for n in range(300):
        log.hit(10 + 2 * n, "203.0.113.5", f"/members/{5000 + n}")
    policy = load_policy(None)
    result = analyze([str(log.write(tmp_path / "m.log"))], policy=policy, keep_connection=True)
    report = build(result, policy)
    result.connection.close()
    assert [r["template"] for r in report["summary"]["unconfirmed_routes"]] == ["/members/{n}"]
    scale = report["notification"]["sections"][1]["answer"]
    assert "inferred" in scale
    assert "/members/{n}" in scale


def test_routes_command_prints_inert_text_and_writes_a_loadable_fragment(tmp_path: Path) -> None:
    log = Log()
    for n in range(80):
        log.hit(10 + 2 * n, "203.0.113.5", f"/user/{5000 + n}")
    for n in range(3):
        log.hit(400 + n, "203.0.113.6", "/x/[red]pwn[/red]\x1b[2J", ua=CHROME)
    path = log.write(tmp_path / "u.log")
    out = tmp_path / "routes.yaml"
    result = CliRunner().invoke(app, ["routes", str(path), "--write", str(out)])
    assert result.exit_code == 0, result.output
    assert "[red]pwn" in result.stdout  # shown as text, not read as markup
    assert "\\x1b[2J" in result.stdout  # the escape shown, not sent
    assert "\x1b" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "/user/{n}" in result.stdout
    assert "record" in result.stdout
    policy = load_policy(out)
    (declared,) = [r for r in policy.routes if r.path == "/user/{id1}"]
    assert declared.kind == "person"
    assert declared.subject == "id1"
    table, _ = learn_routes([str(path)], policy=str(out))
    assert _route(table, "/user/{id1}").declared


def test_declared_routes_win_over_learning(tmp_path: Path) -> None:
    log = Log()
    _shoppers(log, count=8)
    fragment = tmp_path / "p.yaml"
    fragment.write_text('extends: default\nroute_classes:\n'
                        f'  - template: "{THUMB_ROUTE}"\n    class: record\n'
                        '    kind: person\n', encoding="utf-8")
    table, _ = learn_routes([str(log.write(tmp_path / "s.log"))], policy=str(fragment))
    thumb = _route(table, THUMB_ROUTE)
    assert thumb.declared
    assert thumb.carries_people


def test_media_words_and_file_queries_do_not_hide_a_scanner(tmp_path: Path) -> None:
    """A scanner guesses `/uploads/…`, `/css/…` and `phpThumb.php?src=x.jpg` too: what mostly
    fails is never an asset, so its errors still count as probing."""
    log = Log()
    log.person()
    scanner = "203.0.113.150"
    guesses = [f"/wp-content/plugins/{p}/css/LICENSE.php" for p in ("a", "b", "c", "d")] + \
        [f"/wp-content/uploads/2015/0{m}/debug.php" for m in range(1, 5)] + \
        [f"/{d}/phpThumb/phpThumb.php?src=file.jpg" for d in ("libs", "gallery", "img", "cms")]
    for n, path in enumerate(guesses):
        log.hit(50 + 2 * n, scanner, path, status=404, size=300)
    result = analyze([str(log.write(tmp_path / "scan.log"))])
    decided = {d.actor: d for d in result.decisions if d.action != "allow"}
    assert "probing" in decided[f"ip:{scanner}"].rules


def _stats(template: str, **given: Any) -> TemplateStats:
    base: dict[str, Any] = {
        "template": template, "mgroup": "read", "requests": 900, "clients": 250, "ids": 120,
        "paths": 120, "asset_paths": 0, "asset_clients": 0, "static_share": 0.0, "error_share": 0.0,
        "after_page_clients": 3, "list_share": 0.0, "names_people": False, "route_index": None}
    return TemplateStats(**{**base, **given})


def test_the_words_nearest_the_id_say_whose_record_it_is() -> None:
    policy = load_policy(None)
    table = classify([
        _stats("/page/{n}/"),  # WordPress pagination: many ids, nobody's record
        _stats("/product/{n}/reviews"),  # the reviews' authors are people
        _stats("/listing/{n}"),
        _stats("/api/contacts/match?phone={phone}"),
        _stats("/{n}/{n}"),  # nothing says: assumed people, at low confidence
        _stats("/api/v1/threads/{n}"),  # a forum thread is read like an article
        _stats("/questions/{n}"),
        _stats("/threads/{n}/comments"),  # but its comments carry their authors
    ], policy)
    got = {r.template: (r.klass, r.kind) for r in table.routes}
    assert got == {
        "/page/{n}/": ("page", None),
        "/product/{n}/reviews": ("record", "person"),
        "/listing/{n}": ("record", "item"),
        "/api/contacts/match?phone={phone}": ("record", "person"),
        "/{n}/{n}": ("record", "person"),
        "/api/v1/threads/{n}": ("record", "item"),
        "/questions/{n}": ("record", "item"),
        "/threads/{n}/comments": ("record", "person"),
    }
    assert _route(table, "/{n}/{n}").confidence < _route(table, "/listing/{n}").confidence


NAMES = [f"{first}{n}" for n in range(12) for first in ("alice", "bo.b", "carol_", "dan-x",
                                                          "eve", "frank", "gwen", "hiro")]


def test_profiles_by_name_are_one_person_route_in_both_engines(tmp_path: Path) -> None:
    """Social sites name profiles by user name (`/u/alice`, `/@alice`), not by number: each
    name is an id of one template where the path says whose, the same in both engines, so
    a harvest of profiles by name counts people's records."""
    import ibis

    from scrapeguard.engines.live_rows import infer_template, owner_name_py
    from scrapeguard.engines.lookups import infer_template as infer_template_expr
    from scrapeguard.engines.lookups import owner_name

    paths = {"/u/alice": "/u/{name}", "/users/Bo.b_9/followers": "/users/{name}/followers",
             "/@carol": "/@{name}", "/@dan@other.social/with_replies": "/@{name}/with_replies",
             "/api/v1/users/eve": "/api/v1/users/{name}", "/product/blue-shirt":
             "/product/blue-shirt", "/u/x": "/u/x", "/users/42": "/users/{n}"}
    assert {p: infer_template(p) for p in paths} == paths
    table = ibis.memtable({"path": list(paths)})
    batch = ibis.duckdb.connect().execute(
        table.mutate(template=infer_template_expr(table.path)))
    assert dict(zip(batch["path"], batch["template"], strict=True)) == paths
    # Everything under a name is that person's: her posts are not a person each.
    owners = {"/users/Alice/statuses/1116611594": "alice", "/@alice/1116611594": "alice",
              "/u/bob/followers": "bob", "/product/blue-shirt": "", "/users/42": ""}
    table = ibis.memtable({"path": list(owners)})
    batch = ibis.duckdb.connect().execute(table.mutate(owner=owner_name(table.path)))
    assert dict(zip(batch["path"], batch["owner"], strict=True)) == owners
    assert {p: owner_name_py(p) for p in owners} == owners
    log = Log()
    rng = random.Random(3)
    for c in range(40):  # people open a few profiles, with their assets
        ip, at = f"198.51.100.{10 + c}", c * 30.0
        for name in rng.sample(NAMES, 3):
            log.hit(at, ip, f"/u/{name}", referer=SITE + "/", size=9000)
            log.hit(at + 0.3, ip, "/assets/app.css", referer=f"{SITE}/u/{name}")
            at += rng.uniform(20, 90)
    for k in range(300):  # a harvester reads every name it finds, within the hour
        log.hit(100 + 10 * k, "203.0.113.90", f"/u/member{k}", size=9000)
    for k in range(300):  # a reader of five people's posts: five people, not 300
        post = f"/u/{NAMES[k % 5]}/{70_000 + k}"
        log.hit(100 + 10 * k, "203.0.113.91", post, size=9000)
        log.hit(100.3 + 10 * k, "203.0.113.91", "/assets/app.css", referer=SITE + post)
    result = analyze([str(log.write(tmp_path / "by-name.log"))])
    assert _route(result.enrich.routes, "/u/{name}").kind == "person"
    decided = {d.actor: d for d in result.decisions if d.action != "allow"}
    assert decided["ip:203.0.113.90"].subjects >= 250, decided
    assert "ip:203.0.113.91" not in decided, decided
    assert not {a for a in decided if a.startswith("ip:198.51.100.")}, decided


CUSTOM = '$remote_addr [$time_local] "$request" $status $body_bytes_sent rt=$request_time'
"""An nginx `log_format` no detector knows: `analyze` reads it with --log-format."""


def _custom_log(path: Path) -> Path:
    path.write_text("".join(
        f'198.51.100.{n % 7 + 1} [06/Dec/2026:21:{n // 60:02d}:{n % 60:02d} +0000] '
        f'"GET /user/{1000 + n} HTTP/1.1" 200 812 rt=0.0{n % 10}\n' for n in range(120)))
    return path


def test_routes_reads_a_custom_nginx_log_format_as_analyze_does(tmp_path: Path) -> None:
    """`routes` is the step a newcomer is told to check first; it had no --log-format and
    ignored the policy's `log_format`, so a log `analyze` read was unreadable to it."""
    log = _custom_log(tmp_path / "access.log")
    given = CliRunner().invoke(app, ["routes", str(log), "--log-format", CUSTOM])
    assert given.exit_code == 0, given.output
    assert "120 events, 0 malformed" in given.stderr
    assert "/user/{n}" in given.stdout
    pack = tmp_path / "pack.yaml"
    pack.write_text(f"extends: default\nlog_format: '{CUSTOM}'\n")
    table, load = learn_routes([str(log)], policy=str(pack))
    assert load.malformed == 0
    assert any(route.template == "/user/{n}" for route in table.routes)


FEED_READER = "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 3 subscribers)"


def test_a_feed_reader_polling_peoples_feeds_harvests_no_one(tmp_path: Path) -> None:
    """A fediverse server's profiles are `/@alice`, and each has its feed at `/@alice.rss`:
    under the person's name, so the same route. A feed reader polls 600 people's feeds every
    hour, 600 requests an hour, over `lookup-velocity`'s 250 had they been lookups; they are
    what the people syndicate, published for software to poll, so no record is counted and
    the reader is left alone by both engines. A client reading as many profiles is not."""
    rng = random.Random(4)
    names = [f"member{n}" for n in range(900)]
    log = Log()
    for r in range(120):  # people reading profiles with their assets: the route is learned
        ip, at = f"198.51.100.{r}", rng.uniform(0, 3 * 3600)
        for name in rng.sample(names, 3):
            log.hit(at, ip, f"/@{name}", ua=FIREFOX, referer="https://social.example/home",
                    size=40_000)
            log.hit(at + 0.3, ip, "/packs/app.js", ua=FIREFOX,
                    referer=f"https://social.example/@{name}")
            at += rng.uniform(20, 200)
    polled = names[:600]
    for hour in range(3):
        at = 600.0 + 3600 * hour
        for name in polled:
            log.hit(at, "192.0.2.44", f"/@{name}.rss", ua=FEED_READER, size=9_000,
                    status=200 if rng.random() < 0.3 else 304)
            at += rng.uniform(3, 8)
    for n, name in enumerate(polled):  # the same pace on the profiles themselves
        log.hit(600.0 + 5.5 * n, "203.0.113.45", f"/@{name}", ua=FEED_READER, size=40_000)
    decided = agreed(log.write(tmp_path / "feeds.log"))
    assert "ip:192.0.2.44" not in decided, decided
    assert "ip:203.0.113.45" in decided, decided
