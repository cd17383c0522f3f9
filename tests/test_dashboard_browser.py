"""The dashboard in a real browser after traffic went through the service: the harvester is
listed first with its reasons, the block button refuses it at `/v1/decide`, the CSP holds
with no violation, attacker markup runs nowhere, and nothing outside the service loads.

Headless Chromium from the distribution (`/usr/bin/chromium`, or CHROMIUM_BIN), driven by
Playwright, as test_report_browser.py. Screenshots are kept in test-artifacts/.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from dashboard_traffic import HARVESTER, HARVESTER_UA, MARKUP_ACCOUNT, Fed, decide, fed_service
from service_support import ADMIN_TOKEN

pytestmark = pytest.mark.browser
__all__ = ["fed_service"]

CHROMIUM = Path(os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LAPTOP = {"width": 1366, "height": 768}


def test_the_dashboard_in_a_browser(fed_service: Fed) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: .ci/run must install it (need_chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    url = fed_service.url
    console: list[str] = []
    dialogs: list[str] = []
    foreign: list[str] = []

    def intercept(route: Any) -> None:
        if route.request.url.startswith(url + "/"):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport=LAPTOP)
            context.route("**/*", intercept)
            page = context.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

            answer = page.goto(f"{url}/dashboard/", wait_until="load")
            assert answer is not None
            assert page.url == f"{url}/dashboard/login"
            page.fill("#token", ADMIN_TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/dashboard/")
            assert "default-src 'self'" in answer.headers["content-security-policy"]

            # The harvester first, with its reasons; the stylesheet applied (CSP allowed it).
            first = page.locator("#actors tbody tr").first
            assert first.locator("td.actor a").inner_text() == f"ip:{HARVESTER}"
            reasons = first.locator("td.reasons").inner_text()
            assert "stepped through" in reasons or "clockwork intervals" in reasons
            header = page.locator("header.bar")
            assert header.evaluate("e => getComputedStyle(e).position") == "sticky"
            # Laptop-readable: the actors table fits the window, no sideways scrolling.
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= LAPTOP["width"], width
            # Attacker markup is text: the account name reads as written, and ran nothing.
            assert page.get_by_text(f"account:{MARKUP_ACCOUNT}").count() >= 1
            assert page.locator("script, main img").count() == 0
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
            page.screenshot(path=str(ARTIFACTS / "dashboard-full.png"), full_page=True)

            # The harvester's page: its timeline, the first action marked, its user agent.
            first.locator("td.actor a").click()
            page.wait_for_selector("svg.timeline rect.records")
            assert page.locator("line.first-action").count() == 1
            assert page.locator("dd.ua").inner_text() == HARVESTER_UA
            box = page.locator("svg.timeline").bounding_box()
            assert box is not None
            assert box["width"] > 800
            page.screenshot(path=str(ARTIFACTS / "dashboard-actor.png"), full_page=True)

            # The buttons: an allow lifts the rules' refusal, then a block puts one back.
            with httpx.Client(base_url=url, timeout=10) as nginx:
                assert decide(nginx, HARVESTER, "/user/1", HARVESTER_UA) == 403
                page.fill("form.decide input[name=reason]", "checking a partner's claim")
                page.click("form.decide button.allow")
                page.wait_for_selector("#done")
                assert "allow" in page.locator("#done").inner_text()
                assert decide(nginx, HARVESTER, "/user/1", HARVESTER_UA) == 204
                page.fill("form.decide input[name=reason]", "harvesting profiles")
                page.select_option("form.decide select[name=ttl]", "86400")
                page.click("form.decide button.block")
                page.wait_for_function(
                    "() => document.querySelector('#done')?.textContent.includes('block')")
                refused = nginx.get("/v1/decide", headers={
                    "x-original-uri": "/user/1", "x-forwarded-for": HARVESTER,
                    "user-agent": HARVESTER_UA})
                assert refused.status_code == 403
                assert refused.headers["x-scrapeguard-action"] == "block"
                assert decide(nginx, "198.51.100.99", "/about", "Mozilla/5.0") == 204
            assert "harvesting profiles" in page.locator(".decision").last.inner_text()
            page.goto(f"{url}/dashboard/#manual", wait_until="load")
            assert f"ip:{HARVESTER}" in page.locator("#manual table").inner_text()
            page.screenshot(path=str(ARTIFACTS / "dashboard-blocked.png"), full_page=True)
        finally:
            browser.close()
    assert dialogs == [], "attacker markup ran as script"
    violations = [m for m in console if "Content Security Policy" in m or "Refused" in m]
    assert violations == []
    assert [m for m in console if m.startswith(("error", "pageerror"))] == []
    assert foreign == [], f"the dashboard asked for {foreign}"
