"""Arrivals from outside join the `thin:` campaign at their second lookup.

On a site whose browsers load its assets, a client without an account whose second lookup
of the day is again an arrival from outside — no link of this site led to it, and nothing
was loaded in between — joins the thin campaign then, not at its third lookup: a botnet's
second record of the day from each address is no longer free. People are not reached: one
who clicks from a profile to a related one sends the first as referer; one who opens a
second shared link renders it and loads the picture on it. Both engines agree.
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
SITE = "https://shop.example.com"
CAMPAIGN = "campaign:thin:/user/{n}"
BOTS = 60
LATE = 10
CLICKER = "203.0.113.70"
"""Opens a shared profile, then a related one through the link on it."""
SHARED = "203.0.113.80"
"""Opens two shared profile links half an hour apart; the browser loads each picture."""


def _event(second: float, ip: str, path: str, *, referer: str | None = None,
           session: str | None = None) -> dict[str, Any]:
    ts = (T0 + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    person = path.startswith("/user/")
    return {"ts": ts, "ip": ip, "method": "GET", "path": path, "status": 200,
            "bytes": 900, "ua": CHROME, "referer": referer, "account": None,
            "session": session, "subjects": [path.rsplit("/", 1)[1]] if person else None,
            "fields": ["name"] if person else None}


def bot_address(n: int) -> str:
    return f"198.51.{100 + n // 200}.{1 + n % 200}"


def lookups_of(n: int) -> list[float]:
    """When bot `n` looks up a record: three times twenty minutes apart for the first
    `BOTS`, twice (after the campaign was acted on) for the ten that come late."""
    if n < BOTS:
        return [600 + 1200 * k + 7 * n for k in range(3)]
    return [3300 + 2 * n, 3400 + 2 * n]


def traffic() -> list[dict[str, Any]]:
    """Thirty readers who load the site's assets (so it is a site that serves them), then
    bots that look records up directly, beside two people."""
    events = []
    for n in range(30):
        ip = f"192.0.2.{10 + n}"
        events.append(_event(n, ip, "/", session=f"r{n}"))
        events.append(_event(n + 0.3, ip, "/static/app.js", referer=f"{SITE}/", session=f"r{n}"))
    for n in range(BOTS + LATE):
        referer = "https://www.google.com/" if n % 3 == 0 else None  # some fake a search
        for k, at in enumerate(lookups_of(n)):
            events.append(_event(at, bot_address(n), f"/user/{10_000 + 97 * n + 13 * k}",
                                 referer=referer))
    events.append(_event(650, CLICKER, "/user/501"))
    events.append(_event(670, CLICKER, "/user/502", referer=f"{SITE}/user/501", session="p1"))
    for k in range(2):
        at = 700 + 1800 * k
        events.append(_event(at, SHARED, f"/user/{600 + k}", session="p2" if k else None))
        events.append(_event(at + 0.4, SHARED, f"/img/u/{600 + k}.jpg",
                             referer=f"{SITE}/user/{600 + k}", session="p2"))
    return sorted(events, key=lambda e: str(e["ts"]))


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("direct") / "direct.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in traffic()))
    return path


@pytest.fixture(scope="module")
def campaign(log: Path) -> Decision:
    decided = {d.actor: d for d in analyze([str(log)]).decisions}
    assert CAMPAIGN in decided, sorted(decided)
    return decided[CAMPAIGN]


def test_bots_join_at_their_second_arrival(campaign: Decision) -> None:
    """Each bot is covered from its second lookup, or from the action if that came later;
    at three lookups to join, those whose third came after the action would be covered
    only from it, and the late ones, with two, never."""
    since = dict(zip(campaign.members or [], campaign.members_first_action_ts or [],
                     strict=True))
    for n in range(BOTS + LATE):
        second = T0 + timedelta(seconds=lookups_of(n)[1])
        assert since[f"ip:{bot_address(n)}"] == max(second, campaign.first_action_ts)
    assert campaign.first_action_ts < T0 + timedelta(seconds=lookups_of(BOTS - 1)[2])


def test_people_do_not_join(campaign: Decision) -> None:
    members = set(campaign.members or [])
    assert not members & {f"ip:{CLICKER}", f"ip:{SHARED}", "session:p1", "session:p2"}


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_the_live_engine_agrees(log: Path, store: str, request: pytest.FixtureRequest) -> None:
    """Either store: the store only compares the count with the minimum the engine sends."""
    url = request.getfixturevalue("redis_url") if store == "redis" else "memory://"
    engine = StreamEngine(None, url, secret=b"test")
    assert CAMPAIGN in {d.actor for d in replay([str(log)], engine)}
    for n in (0, BOTS + LATE - 1):  # one from before the action, one that came late
        member = engine.check(Request(ip=bot_address(n), path="/user/99999", ua=CHROME))
        assert (member.action, member.actor) == ("block", CAMPAIGN)
    for person in (CLICKER, SHARED):
        assert engine.check(Request(ip=person, path="/user/99998", ua=CHROME)).action == "allow"


def test_behind_a_cdn_two_arrivals_are_not_enough(tmp_path: Path) -> None:
    """Where no browser loads assets from this origin, nothing says a browser would have:
    a client joins at its third lookup, as before."""
    events = [e for e in traffic() if not str(e["path"]).startswith(("/static/", "/img/"))]
    path = tmp_path / "cdn.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert CAMPAIGN not in {d.actor for d in analyze([str(path)]).decisions}
