"""The `thin:` campaign: a botnet reading a few records from each of many clients.

Clients without an account join from their third direct lookup of the day — cookie or not,
referer or not — as long as they have done nothing else: no page, no asset. People who open
two shared links from a warm cache, or browse with assets, never join. A member is covered by
the campaign's decision only from when it joined, and the live engine refuses its next request.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from logbuilder import CHROME
from scrapeguard.analysis import analyze
from scrapeguard.decisions import Decision
from scrapeguard.engines.replay import replay
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.engines.verdict import Request

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CAMPAIGN = "campaign:thin:/user/{n}"
BOTS = 60


def _event(second: float, ip: str, path: str, *, session: str | None = None,
           referer: str | None = None) -> dict[str, Any]:
    ts = (T0 + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    person = path.startswith("/user/")
    return {"ts": ts, "ip": ip, "method": "GET", "path": path, "status": 200,
            "bytes": 900, "ua": CHROME, "referer": referer, "account": None,
            "session": session, "subjects": [path.rsplit("/", 1)[1]] if person else None,
            "fields": ["name"] if person else None}


def bot_address(n: int) -> str:
    """The address of bot `n`: strangers to each other, 200 to a /24."""
    return f"198.51.{100 + n // 200}.{1 + n % 200}"


def traffic() -> list[dict[str, Any]]:
    """Sixty bots, four direct lookups each, beside two people; in time order."""
    events = []
    for n in range(BOTS):  # four lookups each, 12 minutes apart, interleaved
        cookie = f"c{n:04d}" if n % 2 else None  # half keep a cookie all day
        referer = "https://www.google.com/" if n % 3 == 0 else None  # some fake a search
        for k in range(4):
            events.append(_event(60 * (12 * k) + 7 * n, bot_address(n),
                                 f"/user/{10_000 + 4 * n + k}", session=cookie, referer=referer))
    for k in range(2):  # a person opening two shared links from a warm cache: nothing else
        events.append(_event(100 + 1500 * k, "203.0.113.50", f"/user/{500 + k}"))
    for k in range(4):  # a person browsing: pages and assets under one cookie
        events.append(_event(200 + 30 * k, "203.0.113.60", f"/user/{700 + k}", session="p1"))
        events.append(_event(200.5 + 30 * k, "203.0.113.60", "/static/app.js", session="p1"))
    return sorted(events, key=lambda e: str(e["ts"]))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("thin") / "thin.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in traffic()))
    return path


@pytest.fixture(scope="module")
def campaign(log: Path) -> Decision:
    decided = {d.actor: d for d in analyze([str(log)]).decisions}
    assert CAMPAIGN in decided, sorted(decided)
    return decided[CAMPAIGN]


def test_clients_with_cookies_or_referers_join_too(campaign: Decision) -> None:
    members = set(campaign.members or [])
    cookieless = {f"ip:{bot_address(n)}" for n in range(0, BOTS, 2)}
    cookies = {f"session:c{n:04d}" for n in range(1, BOTS, 2)}
    assert cookieless <= members
    assert cookies <= members


def test_people_never_join(campaign: Decision) -> None:
    members = set(campaign.members or [])
    assert not members & {"ip:203.0.113.50", "ip:203.0.113.60", "session:p1"}


def test_members_are_covered_from_their_third_lookup(campaign: Decision) -> None:
    since = dict(zip(campaign.members or [], campaign.members_first_action_ts or [],
                     strict=True))
    for n in (0, 1, 59):
        key = f"session:c{n:04d}" if n % 2 else f"ip:{bot_address(n)}"
        third = T0 + timedelta(seconds=60 * 24 + 7 * n)
        assert since[key] == max(third, campaign.first_action_ts)


@pytest.fixture(scope="module")
def live(log: Path) -> StreamEngine:
    engine = StreamEngine(None, "memory://", secret=b"test")
    assert CAMPAIGN in {d.actor for d in replay([str(log)], engine)}
    return engine


def test_the_live_engine_refuses_a_member_and_serves_a_newcomer(live: StreamEngine) -> None:
    """Bot 58 looked up for the fourth time after the campaign was acted on: it joined then,
    and its next request is refused; an address never seen before is served."""
    member = live.check(Request(ip=bot_address(58), path="/user/99999", ua=CHROME))
    assert (member.action, member.actor) == ("block", CAMPAIGN)
    newcomer = live.check(Request(ip="192.0.2.200", path="/user/99998", ua=CHROME))
    assert newcomer.action == "allow"


def test_the_live_engine_refuses_a_member_that_joined_before_the_action(
        live: StreamEngine) -> None:
    """Bot 0 made its last lookup minutes before the campaign was acted on: its membership
    was kept, so its next request is refused all the same."""
    member = live.check(Request(ip=bot_address(0), path="/user/99999", ua=CHROME))
    assert (member.action, member.actor) == ("block", CAMPAIGN)


def test_a_member_of_a_campaign_not_yet_acted_on_is_served() -> None:
    """Three lookups make a member, but one client is no campaign: nothing acts yet."""
    engine = StreamEngine(None, "memory://", secret=b"test")
    for event in traffic()[:3 * BOTS + 1]:
        engine.record(event)
    verdict = engine.check(Request(ip=bot_address(0), path="/user/99999", ua=CHROME))
    assert verdict.action == "allow"
    assert CAMPAIGN not in {d.actor for d in engine.decisions()}


def test_membership_marks_stay_out_of_the_decisions(live: StreamEngine) -> None:
    assert all(not d.actor.startswith("member:") for d in live.decisions())
