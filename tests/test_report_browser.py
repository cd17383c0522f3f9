"""The HTML report in a real browser: it renders its charts, logs no error, fetches nothing.

Headless Chromium from the distribution (`/usr/bin/chromium`, or CHROMIUM_BIN), driven by
Playwright; every request the page makes is intercepted, and only the file itself may load.
A screenshot is kept in test-artifacts/report.png for people to look at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from report_logs import write_log
from scrapeguard.cli import app

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("CHROMIUM_BIN", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="module")
def page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("altair")
    out = tmp_path_factory.mktemp("browser")
    log, policy, _ = write_log(out)
    result = CliRunner().invoke(app, ["analyze", str(log), "--policy", str(policy), "-q",
                                      "--report", str(out / "report.html")])
    assert result.exit_code == 0, result.output
    return out / "report.html"


def test_report_renders_offline(page_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    url = page_path.as_uri()
    requested: list[str] = []
    problems: list[str] = []

    def intercept(route: Any) -> None:
        requested.append(route.request.url)
        if route.request.url == url:
            route.continue_()
        else:
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.route("**/*", intercept)
            page = context.new_page()
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(url, wait_until="load")
            marks = page.locator("figure.chart svg .role-mark > *")
            assert marks.count() > 10, "the charts drew no marks"
            assert page.locator("#timeline svg").count() == 1
            box = page.locator("#timeline svg").bounding_box()
            assert box is not None
            assert box["width"] > 400
            assert box["height"] > 200
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"))
            page.screenshot(path=str(ARTIFACTS / "report-full.png"), full_page=True)
            with page.expect_download() as download:
                page.click("#export-json")  # the export script runs and makes no request
            assert download.value.suggested_filename == "breach-notification.json"
        finally:
            browser.close()
    assert problems == []
    assert requested == [url], f"the page requested {requested}"
