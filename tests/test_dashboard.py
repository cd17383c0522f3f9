"""The dashboard over HTTP, in process, after traffic went through the service: login,
CSRF, headers, escaping of attacker text, ranking, campaigns, timelines, and the block
button's effect on `/v1/decide`. The browser's view is test_dashboard_browser.py."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from dashboard_traffic import (
    CAMPAIGN,
    HARVESTER,
    MARKUP_ACCOUNT,
    PERSON,
    Fed,
    decide,
    fed_service,
)
from scrapeguard.engines.live_rows import Deriver
from scrapeguard.policy.load import load_policy
from scrapeguard.service import build_app, load_config
from scrapeguard.service.dashboard.timeline import Timelines, bars, position
from service_support import ADMIN_TOKEN, serve_app
from test_middleware_support import BROWSER

__all__ = ["fed_service"]


@pytest.fixture
def admin(fed_service: Fed) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{fed_service.url}/dashboard", timeout=10) as client:
        answer = client.post("/login", data={"token": ADMIN_TOKEN})
        assert answer.status_code == 303
        yield client


class Tags(HTMLParser):
    """Every element the page really contains (what markup in log text would add)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)


def tags(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    return parser


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_the_dashboard_asks_for_the_admin_token(fed_service: Fed) -> None:
    with httpx.Client(base_url=f"{fed_service.url}/dashboard", timeout=10) as client:
        first = client.get("/")
        assert first.status_code == 303
        assert first.headers["location"] == "/dashboard/login"
        wrong = client.post("/login", data={"token": "x" * len(ADMIN_TOKEN)})
        assert wrong.status_code == 401
        assert "sg_dashboard" not in client.cookies
        assert client.post("/decide", data={"actor": f"ip:{PERSON}", "action": "block",
                                            "reason": "x"}).status_code == 401
        right = client.post("/login", data={"token": ADMIN_TOKEN})
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie
        assert "Path=/dashboard" in cookie
        assert client.get("/").status_code == 200


def test_logging_out_needs_the_csrf_token(fed_service: Fed) -> None:
    with httpx.Client(base_url=f"{fed_service.url}/dashboard", timeout=10) as client:
        client.post("/login", data={"token": ADMIN_TOKEN})
        token = csrf(client.get("/").text)
        client.post("/logout", data={})  # forged: no token, the session stands
        assert client.get("/").status_code == 200
        client.post("/logout", data={"csrf": token})
        assert client.get("/").status_code == 303


def test_without_an_admin_token_nobody_logs_in(tmp_path: object) -> None:
    app = build_app(load_config(env={}, events_udp=""))
    with serve_app(app) as url:
        page = httpx.get(f"{url}/dashboard/login")
        assert "SCRAPEGUARD_ADMIN_TOKEN" in page.text
        assert httpx.post(f"{url}/dashboard/login", data={"token": ""}).status_code == 401
        assert httpx.post(f"{url}/dashboard/login", data={"token": "None"}).status_code == 401


def test_the_dashboard_can_be_left_out() -> None:
    app = build_app(load_config(env={"SCRAPEGUARD_DASHBOARD": "false"}, events_udp=""))
    with serve_app(app) as url:
        assert httpx.get(f"{url}/dashboard/login").status_code == 404
        assert httpx.get(f"{url}/healthz").status_code == 200


def test_an_unknown_actor_is_a_404_page(admin: httpx.Client) -> None:
    answer = admin.get("/actor", params={"name": "ip:192.0.2.254"})
    assert answer.status_code == 404
    assert "Nothing is known of this actor" in answer.text


def test_every_answer_carries_the_csp(admin: httpx.Client) -> None:
    for path in ("/", "/login", f"/actor?name=ip:{HARVESTER}", "/static/dashboard.css"):
        answer = admin.get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"
    page = admin.get("/").text
    found = tags(page)
    assert "script" not in found.tags
    assert "style" not in found.attrs
    assert not any(attr.startswith("on") for attr in found.attrs)
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "an external asset"


def test_the_harvester_comes_first_with_its_reasons(admin: httpx.Client, fed_service: Fed
                                                    ) -> None:
    page = admin.get("/").text
    actors = page.split('id="actors"')[1].split("</section>")[0]
    rows = re.findall(r'<td class="actor"><a href="[^"]+">([^<]+)</a>', actors)
    assert rows[0] == f"ip:{HARVESTER}", rows
    first_row = actors.split("<tr", 2)[2].split("</tr>")[0]
    # The rules' own explanations, not their ids: what it did, in words.
    assert "stepped through" in first_row or "clockwork intervals" in first_row, first_row
    assert "sequential-enumeration" not in first_row
    assert PERSON not in actors


def test_campaign_members_are_named(admin: httpx.Client) -> None:
    page = admin.get("/").text
    campaigns = page.split('id="campaigns"')[1].split("</section>")[0]
    # Which link (enum, thin) fires first depends on how the slices interleave; either way
    # the three addresses are named as its members, and the person is not.
    members = re.findall(r'<td class="members">(.*?)</td>', campaigns)
    assert members, campaigns
    named = set(re.findall(r">(ip:[0-9.]+)</a>", members[0]))
    assert named >= {f"ip:{ip}" for ip in CAMPAIGN}
    assert f"ip:{PERSON}" not in named
    assert "/user/{id}" in campaigns


def test_attacker_text_is_shown_as_text(admin: httpx.Client) -> None:
    overview = admin.get("/").text
    account = f"account:{MARKUP_ACCOUNT}"
    escaped = account.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert escaped.replace("'", "&#39;") in overview
    harvester = admin.get("/actor", params={"name": f"ip:{HARVESTER}"}).text
    assert ("&lt;b&gt;bold&lt;/b&gt; &lt;i onmouseover=alert(&#39;ua&#39;)&gt;x&lt;/i&gt; "
            "[red]markup[/red]") in harvester
    for html in (overview, harvester,
                 admin.get("/actor", params={"name": account}).text):
        found = tags(html)
        assert not {"script", "img", "b", "i"} & set(found.tags)
        assert not {"onerror", "onmouseover"} & set(found.attrs)


def test_the_timeline_counts_what_was_served(admin: httpx.Client, fed_service: Fed) -> None:
    page = admin.get("/actor", params={"name": f"ip:{HARVESTER}"}).text
    served, records = fed_service.served[HARVESTER], fed_service.records[HARVESTER]
    assert f"{served} requests, {records}\n    people's records received" in page
    assert page.count('<rect class="records"') >= 1
    assert '<line class="first-action"' in page
    assert "stepped through" in page or "clockwork intervals" in page
    assert re.search(r"<td>subjects</td><td class=\"num\">\d+", page)


def test_the_block_button_refuses_the_actor_at_the_decision_endpoint(
        admin: httpx.Client, fed_service: Fed) -> None:
    with httpx.Client(base_url=fed_service.url, timeout=10) as nginx:
        assert decide(nginx, PERSON, "/about", BROWSER) == 204
        page = admin.get("/actor", params={"name": f"ip:{PERSON}"}).text
        form = {"actor": f"ip:{PERSON}", "action": "block", "ttl": "600",
                "reason": "test <b>block</b>"}
        assert admin.post("/decide", data=form).status_code == 403  # no CSRF token
        assert admin.post("/decide", data={**form, "csrf": "stale"}).status_code == 403
        foreign = admin.post("/decide", data={**form, "csrf": csrf(page)},
                             headers={"origin": "https://evil.example"})
        assert foreign.status_code == 403
        assert decide(nginx, PERSON, "/about", BROWSER) == 204
        bad = admin.post("/decide", data={**form, "csrf": csrf(page), "ttl": "forever"})
        assert bad.status_code == 400
        assert "ttl" in bad.text
        done = admin.post("/decide", data={**form, "csrf": csrf(page)})
        assert done.status_code == 303
        assert decide(nginx, PERSON, "/about", BROWSER) == 403
        shown = admin.get(fed_service.url + done.headers["location"]).text
        assert "manual block: test &lt;b&gt;block&lt;/b&gt;" in shown
        undo = admin.post("/decide", data={**form, "action": "allow", "csrf": csrf(page)})
        assert undo.status_code == 303
        assert decide(nginx, PERSON, "/about", BROWSER) == 204


def test_timelines_stay_within_their_bounds() -> None:
    deriver = Deriver(load_policy(None))
    timelines = Timelines(deriver, max_actors=10, max_buckets=8)
    start = datetime(2026, 12, 7, tzinfo=UTC).timestamp()
    for n in range(30):
        timelines.tap({"ts": datetime.fromtimestamp(start + 60 * n, UTC),
                       "ip": f"192.0.2.{n}", "path": "/", "status": 200})
    for n in range(100):  # one request a second for 100 s: 1 s buckets cannot hold it
        timelines.tap({"ts": datetime.fromtimestamp(start + n, UTC), "ip": "192.0.2.200",
                       "path": f"/api/people/{n}", "status": 200, "subjects": [f"h{n}", "x"]})
    assert len(timelines.top(100, kinds=("ip", "net", "fp"))) <= 10
    assert timelines.get("ip:192.0.2.0") is None  # the least recently seen went first
    track = timelines.get("ip:192.0.2.200")
    assert track is not None
    assert len(track.buckets) <= 8
    assert track.width == 12_800  # 0.1 s doubled until 100 s fit in 8 buckets (7 of them)
    assert sum(r for r, _ in track.buckets.values()) == track.requests == 100
    assert sum(n for _, n in track.buckets.values()) == track.records == 200
    assert min(track.buckets) <= start * 1000  # the whole span kept, at a coarser grain


def test_bars_keep_a_pause_and_place_the_first_action() -> None:
    timelines = Timelines(Deriver(load_policy(None)))
    start = datetime(2026, 12, 7, tzinfo=UTC).timestamp()
    for second in [*range(0, 100), *range(500, 600)]:
        timelines.tap({"ts": datetime.fromtimestamp(start + second, UTC), "ip": "192.0.2.1",
                       "path": "/", "status": 200})
    track = timelines.get("ip:192.0.2.1")
    assert track is not None
    drawn = bars(track)
    span = max(track.buckets) + track.width - min(track.buckets)
    assert span >= 599_000  # first to last request, 0 s to 599 s
    busy = [b for b in drawn if b.count_requests]
    assert sum(b.count_requests for b in busy) == 200
    assert max(b.x for b in drawn) > 80
    assert not [b for b in drawn if 20 < b.x < 80], "the pause shows as no bars"
    assert max(b.requests for b in drawn) == 40
    assert all(b.records == 0 for b in drawn)  # "/" carries nobody's record
    middle = position(track, datetime.fromtimestamp(start + 300, UTC))
    assert middle is not None
    assert 45 < middle < 55
    assert position(track, datetime.fromtimestamp(start - 600, UTC)) is None


def test_a_failing_tap_does_not_stop_the_counting(tmp_path: object) -> None:
    """The dashboard's tap runs on the record lane after the engine: its bug must cost the
    dashboard, not the decisions or their count (the fired counter follows the taps)."""
    import json

    from service_support import POLICY

    policy = Path(str(tmp_path)) / "policy.yaml"
    policy.write_text(POLICY)
    app = build_app(load_config(env={}, policy=str(policy), admin_token=ADMIN_TOKEN,
                                events_udp="", dashboard=False))

    def broken(event: dict[str, object]) -> None:
        raise RuntimeError("a tap's bug")

    app.state.service.taps.append(broken)
    with serve_app(app) as url, httpx.Client(base_url=url, timeout=10) as nginx:
        lines = [json.dumps({"ts": datetime.now(UTC).isoformat(), "ip": "192.0.2.44",
                             "path": f"/user/{2000 + n}", "status": 200, "ua": "curl/8"})
                 for n in range(40)]
        assert nginx.post("/v1/events", content="\n".join(lines),
                          headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
                          ).status_code == 200
        deadline = time.monotonic() + 10
        while decide(nginx, "192.0.2.44", "/user/1", "curl/8") == 204:
            assert time.monotonic() < deadline, "the broken tap stopped the counting"
            time.sleep(0.05)
        fired = re.search(r'scrapeguard_decisions_fired_total\{action="block",kind="ip"\} '
                          r'(\d+)', nginx.get("/metrics").text)
        assert fired is not None
        assert int(fired.group(1)) >= 1
