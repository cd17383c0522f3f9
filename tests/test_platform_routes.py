"""Routes every install of a platform serves to anyone (the shipped pack's `routes:`): a plain
log of a WordPress blog shows a harvest of its comments through the REST API, which the route
step alone learns as an API and counts no one; a site's own declaration of such a route wins.
"""

from __future__ import annotations

import random
from importlib.resources import files
from pathlib import Path

from conformance_support import agreed, blocked_by
from logbuilder import CHROME, FIREFOX, SAFARI, Log
from scrapeguard.analysis import analyze
from scrapeguard.policy.load import load_policy

DEFAULT_PACK = files("scrapeguard.policy") / "default.yaml"
ASSETS = ("/wp-includes/js/jquery.js", "/wp-content/themes/t/style.css")
SITE = "https://blog.example"
HARVESTER = "203.0.113.90"
TOOL = "python-requests/2.31.0"


def _blog_day(path: Path) -> Path:
    """A day of a blog whose theme loads each post's comments from the REST API, an editor
    whose block editor asks for the authors list, and a harvester paging through every
    comment and user, 100 a page, every 40 to 90 s for three hours."""
    rng = random.Random(12)
    log = Log()
    for r in range(400):
        ip, ua = f"198.51.{r // 200}.{10 + r % 200}", (CHROME, FIREFOX, SAFARI)[r % 3]
        at = rng.uniform(0, 20 * 3600)
        for _ in range(rng.randint(1, 4)):
            post = rng.randint(1, 800)
            page = f"/2026/02/post-{post}/"
            log.hit(at, ip, page, ua=ua, referer="https://www.google.com/", size=30_000)
            for k, asset in enumerate(ASSETS):
                log.hit(at + 0.3 + 0.1 * k, ip, asset, ua=ua, referer=SITE + page)
            log.hit(at + 1, ip, f"/wp-json/wp/v2/comments?post={post}", ua=ua,
                    referer=SITE + page, size=4_000)
            at += rng.uniform(60, 600)
    editor = "198.51.9.7"
    for n in range(6):
        at = 9 * 3600 + 1800 * n
        log.hit(at, editor, "/wp-admin/post-new.php", ua=FIREFOX, size=50_000)
        log.hit(at + 1, editor, "/wp-includes/js/jquery.js", ua=FIREFOX,
                referer=SITE + "/wp-admin/post-new.php")
        log.hit(at + 2, editor, "/wp-json/wp/v2/users/me?context=edit", ua=FIREFOX,
                referer=SITE + "/wp-admin/post-new.php", size=900)
        log.hit(at + 2, editor, "/wp-json/wp/v2/users?context=view&who=authors&per_page=100",
                ua=FIREFOX, referer=SITE + "/wp-admin/post-new.php", size=3_000)
    at = 8 * 3600.0
    for page in range(1, 4):
        log.hit(at, HARVESTER, f"/wp-json/wp/v2/users?per_page=100&page={page}", ua=TOOL,
                size=60_000)
        at += rng.uniform(40, 90)
    for page in range(1, 151):
        log.hit(at, HARVESTER, f"/wp-json/wp/v2/comments?per_page=100&page={page}", ua=TOOL,
                size=120_000)
        at += rng.uniform(40, 90)
    return log.write(path)


def test_a_comment_harvest_through_the_rest_api_is_refused(tmp_path: Path) -> None:
    decided = agreed(_blog_day(tmp_path / "blog.log"))
    harvester = blocked_by(decided, f"ip:{HARVESTER}", "exposure-daily")
    # Ten records a page (WordPress' default page size): refused at the day's floor.
    assert harvester.subjects_before_action < 1_010, harvester
    assert [actor for actor in decided if actor != f"ip:{HARVESTER}"] == [], decided


def test_without_the_platform_routes_the_harvest_is_nobodys(tmp_path: Path) -> None:
    """The near miss the pack's routes close: the shipped pack with its `routes:` cut out.
    The route step learns the comments endpoint as an API, and the harvester of 15,000
    comments is acted on by no rule."""
    text = DEFAULT_PACK.read_text()
    start, end = text.index("\nroutes:\n"), text.index("\nrules:\n")
    pack = tmp_path / "no-routes.yaml"
    pack.write_text(text[:start] + text[end:])
    result = analyze([str(_blog_day(tmp_path / "blog.log"))], policy=str(pack))
    assert f"ip:{HARVESTER}" not in {d.actor for d in result.decisions if d.action != "allow"}


def test_a_sites_route_replaces_the_packs_of_its_name_and_comes_first(tmp_path: Path) -> None:
    """Routes match in order, so a path both declare must be the site's: a blog that raised
    its page size declares `wordpress-comments` again, and a site with its own users API
    under the pack's path names it differently; both win."""
    site = tmp_path / "site.yaml"
    site.write_text(
        "extends: default\n"
        "routes:\n"
        "  - {name: wordpress-comments, path: /wp-json/wp/v2/comments, records_per_hit: 50}\n"
        "  - {name: our-users, path: '/wp-json/wp/v2/users/{uid}', subject: uid}\n")
    routes = load_policy(site).routes
    names = [route.name for route in routes]
    assert names[:2] == ["wordpress-comments", "our-users"]
    assert names.count("wordpress-comments") == 1
    assert routes[0].records_per_hit == 50
    assert "wordpress-user" in names[2:]
