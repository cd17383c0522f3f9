"""Header shapes, TLS fingerprints and the consistency checks, on requests real clients sent.

The fixtures are real captures (`src/scrapeguard/simulate/captures/`): curl 7.88,
python-requests 2.34 (with its own agent and with Chrome's), curl_cffi 0.17 impersonating
Chrome, and headless Chromium 156 driven by Playwright, each over TLS to a loopback server
that recorded the header lines in order and the ClientHello's JA4.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from captured import all_requests, captured
from logbuilder import FIREFOX
from scrapeguard import clientshape
from scrapeguard.analysis import analyze
from scrapeguard.clientshape import Judgement, judge
from scrapeguard.sources.loader import load_events
from scrapeguard.sources.nginx import nginx_format


def test_a_real_chromium_passes_every_check() -> None:
    """Its page, its image and its favicon: different shapes, none contradicts Chromium."""
    requests = all_requests("chromium")
    assert len(requests) == 3
    for request in requests:
        assert clientshape.claim(request.ua).family == "chromium"
        assert judge(request.ua, request.shape(), request.ja4) == Judgement(), request
    assert len({clientshape.hdr_key(r.shape()) for r in requests}) == 2  # page; image=favicon


def test_python_requests_claiming_chrome_fails_on_headers_and_tls() -> None:
    fleet = captured("python-requests-chrome-ua")
    assert judge(fleet.ua, fleet.shape(), fleet.ja4) == Judgement(
        header=("no-language", "no-hints"), tls=("foreign-tls",))


def test_over_plain_http_chromium_owes_no_hints() -> None:
    """Chromium withholds client hints from insecure origins: only the language gives the
    library away there."""
    fleet = captured("python-requests-chrome-ua")
    assert judge(fleet.ua, fleet.shape(secure=False), None).header == ("no-language",)
    chromium = captured("chromium")
    bare = tuple(h for h in chromium.headers if not h[0].lower().startswith("sec-ch-ua"))
    assert judge(chromium.ua, clientshape.shape(chromium.ua, bare, False), None) == Judgement()
    assert judge(chromium.ua, clientshape.shape(chromium.ua, bare, True), None).header == (
        "no-hints",)


def test_libraries_that_claim_no_browser_are_not_judged() -> None:
    """curl and python-requests under their own names are people's scripts and apps: their
    keys differ from the same library behind Chrome's agent, and nothing is judged."""
    for name in ("curl", "python-requests"):
        honest = captured(name)
        assert clientshape.claim(honest.ua).family is None
        assert judge(honest.ua, honest.shape(), honest.ja4) == Judgement()
    honest, fleet = captured("python-requests"), captured("python-requests-chrome-ua")
    assert honest.ja4 == fleet.ja4  # one stack
    assert clientshape.tls_key(honest.ua, honest.ja4) != clientshape.tls_key(fleet.ua, fleet.ja4)
    assert clientshape.hdr_key(honest.shape()) != clientshape.hdr_key(fleet.shape())


def test_a_fleet_rotating_chrome_versions_keeps_one_stack_key() -> None:
    fleet = captured("python-requests-chrome-ua")
    keys = {clientshape.hdr_key(fleet.shape(ua=fleet.ua.replace("Chrome/131", f"Chrome/{v}")))
            for v in range(110, 132)}
    assert len(keys) == 1


def test_hints_naming_another_version_disagree() -> None:
    """A Chromium stack whose agent was rotated to another version: its hints still say 156."""
    chromium = captured("chromium")
    rotated = chromium.ua.replace("HeadlessChrome/156", "Chrome/131")
    assert judge(rotated, chromium.shape(ua=rotated), chromium.ja4).header == ("hints-disagree",)


def test_firefox_agent_on_a_chromium_stack_sends_foreign_hints() -> None:
    """Firefox implements no client hints; its TLS is not judged (no measured line for it)."""
    chromium = captured("chromium")
    assert judge(FIREFOX, chromium.shape(ua=FIREFOX), chromium.ja4) == Judgement(
        header=("foreign-hints",))


def test_curl_cffi_impersonating_chrome_passes_and_says_what_it_defeats() -> None:
    """Compared honestly: curl_cffi sends Chrome's TLS hello (same JA4 version, counts, ALPN
    and cipher hash as Chromium 156) and Chrome's headers in Chrome's order, with a matching
    user agent and hints. No check fails: it defeats every one of them. What still differs
    from the real Chromium here is version drift (an older Chrome's Accept, and the extension
    hash of its profile), which a real Chrome of that version shares: not a tell."""
    cffi, chromium = captured("curl_cffi-chrome"), captured("chromium")
    assert judge(cffi.ua, cffi.shape(), cffi.ja4) == Judgement()
    assert cffi.ja4.split("_")[:2] == chromium.ja4.split("_")[:2]
    assert cffi.ja4 != chromium.ja4
    names = [field for field in cffi.shape().split("|") if "," in field and "=" not in field]
    assert names == [field for field in chromium.shape().split("|")
                     if "," in field and "=" not in field]


def test_the_shape_ignores_what_proxies_pages_and_reloads_change() -> None:
    chromium = captured("chromium")
    base = clientshape.hdr_key(chromium.shape())
    moved = (("X-Forwarded-For", "192.0.2.7"), ("Via", "1.1 cdn"),
             *((name, "other.example" if name == "Host" else value)
               for name, value in chromium.headers),
             ("Cookie", "sg_client=abc"), ("Referer", "https://localhost/x"),
             ("Cache-Control", "max-age=0"), ("X-JA4", chromium.ja4))
    assert clientshape.hdr_key(clientshape.shape(chromium.ua, moved, True)) == base
    lowered = tuple((name.lower(), value) for name, value in chromium.headers)
    assert clientshape.hdr_key(clientshape.shape(chromium.ua, lowered, True)) == base


def test_bad_input_is_data() -> None:
    """Huge or odd header values cannot break the shape or a judgement."""
    ua = captured("chromium").ua
    junk = (("sec-ch-ua", '"Chromium";v="' + "9" * 5000), ("accept-language", "|" * 9000))
    text = clientshape.shape(ua, junk, True)
    assert len(text) < 1000
    assert judge(ua, text, "not a ja4").tls == ()
    assert clientshape.tls_key(ua, "x" * 300) is not None
    assert judge(None, None, None) == Judgement()


def test_a_log_format_carrying_the_fingerprint_gets_the_same_tls_key(tmp_path: Path) -> None:
    """nginx logging the terminator's header (`$http_x_ja4`): the batch engine reads it as
    `tls` and keys the python-requests fleet exactly as the middleware does."""
    fleet = captured("python-requests-chrome-ua")
    fmt = nginx_format('$remote_addr - $remote_user [$time_local] "$request" $status '
                       '$body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_ja4"')
    lines = [f'100.{64 + n}.0.9 - - [02/Mar/2026:08:00:{10 + n:02d} +0000] "GET /product/{n} '
             f'HTTP/1.1" 200 900 "-" "{fleet.ua}" "{fleet.ja4}"' for n in range(8)]
    log = tmp_path / "tls.log"
    log.write_text("\n".join([*lines, lines[0].replace(f'"{fleet.ja4}"', '"-"')]) + "\n")
    con = duckdb.connect()
    load_events(con, [str(log)], fmt=fmt, max_malformed=0.0)
    tls = con.execute("SELECT tls, count(*) FROM events GROUP BY tls ORDER BY tls").fetchall()
    assert tls == [(fleet.ja4, 8), (None, 1)]
    assert judge(fleet.ua, None, fleet.ja4).tls == ("foreign-tls",)
    decided = {d.actor: d.rules for d in analyze([str(log)], fmt=fmt).decisions}
    assert decided == {f"ip:100.{64 + n}.0.9": ["browser-claim-foreign-tls"] for n in range(8)}


def test_an_apps_webview_agent_on_its_own_http_client_is_not_judged() -> None:
    """Apps put the WebView's agent on their OkHttp calls too: no language, no hints, and a
    library's TLS hello, from all of an app's users. It names an app, not a browser stack."""
    webview = ("Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UQ1A.240105.004; wv) "
               "AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.135 "
               "Mobile Safari/537.36")
    library = captured("python-requests")
    assert clientshape.claim(webview).family is None
    assert judge(webview, library.shape(ua=webview), library.ja4) == Judgement()
