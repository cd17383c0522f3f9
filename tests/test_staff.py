"""The site's own staff at work are never acted on (issue #10, item 5).

Modelled on the admin sessions of the real WordPress log: a login, the dashboard's heartbeat
polling admin-ajax.php every few seconds, a batch of image uploads, posts saved and previewed,
the admin's script bundles, and a few 404s on images not uploaded yet; and an office PC on an
internal address opening the intranet pages, some of which are gone.
"""

from __future__ import annotations

from pathlib import Path

from logbuilder import CHROME, Log
from scrapeguard.analysis import analyze

ADMIN = "198.51.100.44"
OFFICE = "10.200.50.100"
SITE = "https://blog.example"


def _admin_session(log: Log) -> None:
    log.hit(0, ADMIN, "/wp-login.php", method="POST", status=302, referer=f"{SITE}/wp-login.php")
    at = 2.0
    for n in range(12):
        for bundle in ("load-scripts.php?c=1&load%5B%5D=jquery-core,utils",
                       f"load-styles.php?c=1&dir=ltr&load=dashicons&ver={n}"):
            log.hit(at, ADMIN, f"/wp-admin/{bundle}", referer=f"{SITE}/wp-admin/", ua=CHROME)
        for upload in range(6):  # a gallery dropped in: uploads seconds apart
            log.hit(at + 1 + upload, ADMIN, "/wp-admin/async-upload.php", method="POST",
                    referer=f"{SITE}/wp-admin/post.php?post={4400 + n}&action=edit", ua=CHROME)
        log.hit(at + 8, ADMIN, "/wp-admin/post.php", method="POST", status=302,
                referer=f"{SITE}/wp-admin/post.php?post={4400 + n}&action=edit", ua=CHROME)
        log.hit(at + 9, ADMIN, f"/?p={4400 + n}&preview=true", ua=CHROME,
                referer=f"{SITE}/wp-admin/post.php?post={4400 + n}&action=edit")
        log.hit(at + 10, ADMIN, f"/wp-content/uploads/2016/03/draft-{n}.jpg", status=404,
                ua=CHROME, referer=f"{SITE}/?p={4400 + n}&preview=true")
        for beat in range(20):  # the editor's heartbeat and autosave
            log.hit(at + 11 + 3 * beat, ADMIN, "/wp-admin/admin-ajax.php", method="POST",
                    referer=f"{SITE}/wp-admin/post.php?post={4400 + n}&action=edit", ua=CHROME)
        at += 90


def _office_pc(log: Log) -> None:
    ie6 = "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)"
    for n in range(40):
        page = ["/", "/Sub/VMInformation.html", "/xDSL", "/Sub/Rates.html"][n % 4]
        missing = page in ("/Sub/VMInformation.html", "/xDSL")
        log.hit(30 * n, OFFICE, page, status=404 if missing else 200, ua=ie6)
        if not missing:
            for asset in ("/Clipart/logo.gif", "/style.css"):
                log.hit(30 * n + 1, OFFICE, asset, ua=ie6, referer=f"http://intranet{page}")


def test_staff_at_work_are_untouched(tmp_path: Path) -> None:
    log = Log()
    log.person()
    _admin_session(log)
    _office_pc(log)
    result = analyze([str(log.write(tmp_path / "staff.log"))])
    acted = {d.actor: d.rules for d in result.decisions if d.action != "allow"}
    assert f"ip:{ADMIN}" not in acted, acted
    assert f"ip:{OFFICE}" not in acted, acted
