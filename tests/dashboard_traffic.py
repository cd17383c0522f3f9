"""Shared by the dashboard tests (holds no tests): a running service with its dashboard, and
traffic fed through it as nginx feeds it: each request asked of `/v1/decide` first (client
address in X-Forwarded-For from loopback, the trusted proxy), and each request let through
reported to `/v1/events` as served, with the records the policy's `/user/{id}` route says it
carried. A refused request is not reported, as nginx skips its refusals.

Clients: a harvester reading scattered profiles, then neighbouring ids, with markup in its
user agent; an
account named with markup that reads a few scattered profiles, then probes a path carrying
markup; three addresses splitting one enumeration between them (a campaign); a person
browsing pages, assets and a profile or two.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from random import Random

import httpx
import pytest

from scrapeguard.service import build_app, load_config
from service_support import ADMIN_TOKEN, POLICY, serve_app
from test_middleware_support import BROWSER, LANGUAGE, SECRET

HARVESTER = "203.0.113.7"
HARVESTER_UA = ("Mozilla/5.0 (X11; Linux x86_64) <b>bold</b> <i onmouseover=alert('ua')>x</i> "
                "[red]markup[/red]")
"""Markup a page must show as text. Not `<script>`: that is an injection payload, and
`attack-payload` would refuse the harvester at its first request; nor an HTTP library's
name, which `library-page-walk` refuses at 20 pages before the sequence rule can."""
MARKUP_PATH = "/user/<script>alert('path')</script>"
CAMPAIGN = ("198.51.100.1", "198.51.100.2", "198.51.100.3")
PERSON = "198.51.100.20"
MARKUP_ACCOUNT = "<img src=x onerror=alert(1)><script>alert('account')</script>"
MARKUP_ACCOUNT_IP = "192.0.2.9"
AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class Fed:
    """What the traffic did: per client, the requests let through and those with a record."""

    url: str
    served: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)


def decide(nginx: httpx.Client, ip: str, path: str, ua: str, account: str | None = None
           ) -> int:
    headers = {"x-original-method": "GET", "x-original-uri": path, "x-forwarded-for": ip,
               "user-agent": ua, "accept-language": LANGUAGE}
    if account is not None:
        headers["x-original-user"] = account
    return nginx.get("/v1/decide", headers=headers).status_code


def request(fed: Fed, nginx: httpx.Client, ip: str, path: str, ua: str = BROWSER,
            account: str | None = None, status: int = 200, referer: str | None = None) -> bool:
    """One request through the service; whether it was let through (and then reported)."""
    if decide(nginx, ip, path, ua, account) != 204:
        fed.refused[ip] = fed.refused.get(ip, 0) + 1
        return False
    line = {"ts": datetime.now(UTC).isoformat(), "ip": ip, "method": "GET", "path": path,
            "status": status, "bytes": 900, "ua": ua, "account": account, "referer": referer}
    answer = nginx.post("/v1/events", content=json.dumps(line).encode(), headers=AUTH)
    assert answer.status_code == 200, answer.text
    fed.served[ip] = fed.served.get(ip, 0) + 1
    if status == 200 and re.fullmatch(r"/user/\d+", path):
        fed.records[ip] = fed.records.get(ip, 0) + 1
    return True


def wait_refused(nginx: httpx.Client, ip: str, path: str, ua: str) -> None:
    """The record lane counts after the answer: wait for the decision to land."""
    deadline = time.monotonic() + 10
    while decide(nginx, ip, path, ua) == 204:
        assert time.monotonic() < deadline, f"{ip} was never refused"
        time.sleep(0.05)


def feed(url: str) -> Fed:
    fed = Fed(url)
    rng = Random(13)
    with httpx.Client(base_url=url, timeout=10) as nginx:
        for visit in range(6):  # a person first, so no harvest is under way around them
            page = rng.choice(["/", "/about", f"/product/{rng.randint(1, 500)}"])
            assert request(fed, nginx, PERSON, page)
            for asset in ("app.js", "site.css"):
                assert request(fed, nginx, PERSON, f"/static/{asset}", referer=url + page)
            if visit % 2:
                assert request(fed, nginx, PERSON, f"/user/{rng.randint(1, 400_000)}",
                               referer=url + page)
        # Scattered profiles first, then a walk through neighbouring ids: it has received
        # more records than anyone when the sequence rule stops it.
        ids = [rng.randint(100_000, 400_000) for _ in range(40)] + list(range(1000, 1100))
        for n in ids:
            if not request(fed, nginx, HARVESTER, f"/user/{n}", ua=HARVESTER_UA):
                break
            time.sleep(0.01)  # a script's pace, so its timeline has a width to draw
        wait_refused(nginx, HARVESTER, "/user/1500", HARVESTER_UA)
        for _ in range(8):
            request(fed, nginx, MARKUP_ACCOUNT_IP, f"/user/{rng.randint(1, 400_000)}",
                    ua="curl/8", account=MARKUP_ACCOUNT)
        # A probe with markup in its path: an attack pattern, refused from then on.
        request(fed, nginx, MARKUP_ACCOUNT_IP, MARKUP_PATH, ua="curl/8",
                account=MARKUP_ACCOUNT, status=404)
        for n in range(90):  # a browser's name: curl's would be refused at 20 pages each
            request(fed, nginx, CAMPAIGN[n % 3], f"/user/{5000 + n}")
        time.sleep(0.5)  # let the record lane finish the last events
    return fed


@pytest.fixture(scope="module")
def fed_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    base = tmp_path_factory.mktemp("dashboard")
    policy = base / "policy.yaml"
    policy.write_text(POLICY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCRAPEGUARD_SECRET", SECRET.decode())
        config = load_config(env={}, policy=str(policy), admin_token=ADMIN_TOKEN,
                             events_udp="")
        with serve_app(build_app(config)) as url:
            yield feed(url)

