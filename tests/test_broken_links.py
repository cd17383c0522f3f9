"""A site's broken links are followed, not probed: errors on a path someone reached through a
link do not make the next visitor a scanner, in either engine.

Seen on a real telephone company's log: its home page linked nine pages that no longer
existed, and every visitor and crawler that followed them, many behind proxies that strip the
referer, got nine 404s in a few seconds and was blocked for probing (334 addresses).
"""

from __future__ import annotations

from pathlib import Path

from conformance_support import agreed
from logbuilder import FIREFOX, Log

SITE = "http://www.telco.example"
BROKEN = ["/Sub/About.html", "/Sub/Services.html", "/Sub/Search.html", "/Sub/Internet.html",
          "/Sub/Copyright.html", "/Weather.html", "/CommunityPortal/", "/..",
          "/LongDistance/Rates.html?logo=mtld", "/LongDistance/buckett.html?logo=mtld",
          "/LongDistance/ServicesAgreement.html?logo=mtld", "/Sub/Contact.html"]
PROBES = ["/wp-admin/setup.php", "/.env", "/phpmyadmin/", "/admin.php", "/config.php.bak",
          "/.git/config", "/server-status", "/cgi-bin/x", "/xmlrpc.php", "/backup.zip",
          "/test.php", "/shell.php"]
MSIE = "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 5.1)"
CRAWLER = "Mozilla/5.0 (compatible; Purebot/1.1; +http://www.puritysearch.net/)"


def _follow_links(log: Log, at: float, ip: str, ua: str, *, referer: bool) -> None:
    """The home page, then every link on it within seconds, as browsers and crawlers do."""
    log.hit(at, ip, "/", ua=ua, size=5200)
    for n, path in enumerate(BROKEN):
        log.hit(at + 0.5 + 0.3 * n, ip, path, status=400 if path == "/.." else 404, size=300,
                ua=ua, referer=SITE + "/" if referer else "-")


def test_followers_of_broken_links_are_not_probers(tmp_path: Path) -> None:
    log = Log()
    _follow_links(log, 0, "198.51.100.7", FIREFOX, referer=True)  # a browser that sends referers
    _follow_links(log, 400, "198.51.100.8", MSIE, referer=False)  # behind a referer-stripping proxy
    _follow_links(log, 900, "192.0.2.44", CRAWLER, referer=False)  # a crawler (no referers)
    for n, path in enumerate(PROBES):  # a scanner guessing paths nobody links to
        log.hit(1200 + 2 * n, "203.0.113.130", path, status=404, size=150)
    for n, path in enumerate(BROKEN + PROBES[:1]):  # guessing first, before anyone linked them
        log.hit(-600 + 2 * n, "203.0.113.131", path, status=404, size=150)
    batch = agreed(log.write(tmp_path / "broken.log"))
    assert "ip:203.0.113.130" in batch
    assert "probing" in batch["ip:203.0.113.130"].rules
    assert "ip:203.0.113.131" in batch, "what was unlinked when it was asked for stays a guess"
    for follower in ("ip:198.51.100.7", "ip:198.51.100.8", "ip:192.0.2.44"):
        assert follower not in batch, (follower, batch.get(follower))


def test_a_self_referer_is_no_link(tmp_path: Path) -> None:
    """Scanners send the URL they ask for as its own referer (`Referer: http://site/wp-login.php`
    on `/wp-login.php`): that links nothing, so the next scanner's guess still counts, while a
    referer from another page of the site does make the path a link followed."""
    log = Log()
    log.hit(0, "203.0.113.140", "/wp-login.php", status=404, size=150,
            referer=SITE + "/wp-login.php", ua=MSIE)
    log.hit(60, "203.0.113.141", "/wp-login.php", status=404, size=150, ua=MSIE)
    log.hit(120, "198.51.100.9", "/", ua=FIREFOX, size=5200)
    log.hit(121, "198.51.100.9", "/admin.php", status=404, size=150, ua=FIREFOX,
            referer=SITE + "/")
    log.hit(180, "198.51.100.10", "/admin.php", status=404, size=150, ua=MSIE)
    batch = agreed(log.write(tmp_path / "self-referer.log"))
    for scanner in ("ip:203.0.113.140", "ip:203.0.113.141"):
        assert scanner in batch, batch
        assert "known-target-probe" in batch[scanner].rules
    for follower in ("ip:198.51.100.9", "ip:198.51.100.10"):
        assert follower not in batch, (follower, batch.get(follower))


def test_a_missing_plugin_admin_script_is_a_probe_and_a_versioned_asset_is_the_sites(
        tmp_path: Path) -> None:
    """Scanners learn whether a site runs a vulnerable WordPress plugin by asking for a file
    only that plugin's admin screens load (`revslider/js/rev_admin.js`): on a site without
    it, a probe. A file the site's own pages name is reached from them with a version query
    (`?ver=…`), and a client that strips referers asks for the bare file: the same file,
    linked, no probe, though the site no longer has it (a plugin removed, its admin page
    still naming its style)."""
    style = "/wp-content/plugins/jetpack/css/jetpack-admin.css"
    log = Log()
    log.hit(0, "198.51.100.11", "/wp-admin/", ua=FIREFOX, size=5200)
    log.hit(1, "198.51.100.11", style + "?ver=3.9.2", status=404, size=300, ua=FIREFOX,
            referer=SITE + "/wp-admin/")
    log.hit(600, "192.0.2.45", "/wp-admin/", ua=MSIE, size=5200)
    log.hit(601, "192.0.2.45", style, status=404, size=300, ua=MSIE)
    log.hit(900, "203.0.113.142", "/wp-content/plugins/revslider/js/rev_admin.js", status=404,
            size=150, ua=MSIE)
    batch = agreed(log.write(tmp_path / "plugin-assets.log"))
    assert "ip:203.0.113.142" in batch, batch
    assert "known-target-probe" in batch["ip:203.0.113.142"].rules
    for reader in ("ip:198.51.100.11", "ip:192.0.2.45"):
        assert reader not in batch, (reader, batch.get(reader))
