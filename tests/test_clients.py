"""Who is a client (`clients.py`): a cookie the client picks does not make it a new one.

Live through the ASGI middleware (httpx against the app, which waits for the event to be
recorded, so refusals come at the same request every run; the real stream engine on
memory://, and on Redis in `test_clients_redis.py`), and in batch on a JSON-lines log: an
enumerator sending a fresh random session cookie with every request is refused as early as
without one, while browsers that keep the guard's signed cookie behind one shared address each
count as a client.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scrapeguard import clients
from scrapeguard.analysis import analyze
from scrapeguard.enforce.client_cookie import CLIENT_COOKIE, ClientCookies
from test_middleware_support import BROWSER, BROWSER_HEADERS, SECRET, FakeClock, demo_site

NAT = "203.0.113.80"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _transport(app: Any, ip: str) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app, client=(ip, 40000))


AGENTS = [BROWSER.replace("Chrome/124.0", f"Chrome/{v}.0") for v in range(100, 125)]


async def enumerate_people(cookie: str | None, store: str = "memory://", limit: int = 1500,
                           address: str = "198.51.100.9", rotate_agents: bool = False) -> int:
    """Profiles served to one address walking ids upward until refused (at most `limit`);
    `cookie` names a cookie sent with a fresh random value on every request, and
    `rotate_agents` sends another browser's user agent each time."""
    clock = FakeClock(START)
    app = demo_site(clock=clock, store=store)
    served = 0
    async with httpx.AsyncClient(transport=_transport(app, address),
                                 base_url="http://testserver",
                                 headers=BROWSER_HEADERS) as client:
        for n in range(1000, 1000 + limit):
            client.cookies.clear()  # keeps nothing the guard sets
            headers = {"cookie": f"{cookie}={secrets.token_hex(8)}"} if cookie else {}
            if rotate_agents:
                headers["user-agent"] = AGENTS[n % len(AGENTS)]
            answer = await client.get(f"/user/{n}", headers=headers)
            clock.advance(0.7)
            if answer.status_code == 200:
                served += 1
            elif answer.status_code != 404:
                break
    app.close()
    return served


def test_rotating_session_cookies_buy_no_more_records() -> None:
    bare = asyncio.run(enumerate_people(None))
    assert 0 < bare < 100, bare
    for name in ("session", "sessionid", CLIENT_COOKIE):
        rotating = asyncio.run(enumerate_people(name))
        assert rotating <= 1.2 * bare, (name, rotating, bare)
    both = asyncio.run(enumerate_people("session", rotate_agents=True))
    assert both <= 1.2 * bare, (both, bare)


async def _office(keep_cookies: bool, browsers: int = 12, views: int = 30) -> tuple[int, int]:
    """`browsers` people behind one address each read `views` profiles within ten minutes,
    loading pages and assets as a browser does; (profiles served, refusals)."""
    clock = FakeClock(START)
    app = demo_site(clock=clock)
    rng = random.Random(5)
    people = [httpx.AsyncClient(transport=_transport(app, NAT), base_url="http://testserver",
                                headers=BROWSER_HEADERS) for _ in range(browsers)]
    served = refused = 0

    async def get(client: httpx.AsyncClient, path: str, referer: str | None = None) -> int:
        if not keep_cookies:
            client.cookies.clear()
        answer = await client.get(path, headers={"referer": referer} if referer else {})
        clock.advance(rng.uniform(0.2, 2.5))
        return answer.status_code

    try:
        for client in people:  # arrive: the home page and its script
            await get(client, "/")
            await get(client, "/static/app.js", "http://testserver/")
        clock.advance(clients.SESSION_PROOF_SECONDS + 1)
        ids = rng.sample([n for n in range(2000, 200_000) if n % 23], browsers * views)
        for view in range(views):
            for index, client in enumerate(people):
                n = ids[view * browsers + index]
                status = await get(client, f"/user/{n}", "http://testserver/")
                await get(client, "/static/app.js", f"http://testserver/user/{n}")
                served += status == 200
                refused += status not in (200, 404)
    finally:
        for client in people:
            await client.aclose()
        app.close()
    return served, refused


def test_browsers_behind_one_nat_each_count_as_a_client() -> None:
    served, refused = asyncio.run(_office(keep_cookies=True))
    assert refused == 0
    assert served == 12 * 30
    # The same traffic from clients that drop the cookie is one client, and is refused: the
    # browsers above were let through because each proved its own session.
    _, refused = asyncio.run(_office(keep_cookies=False))
    assert refused > 0


def test_the_guards_cookie_cannot_be_forged_or_back_dated() -> None:
    cookies = ClientCookies(SECRET)
    now = START.timestamp()
    issued = cookies.issue(now)
    assert issued.set_cookie is not None
    value = issued.set_cookie.split(";", 1)[0].split("=", 1)[1]
    assert cookies.read(value, now + 10) == (issued.session, issued.since, None)
    ident, stamp, signature = value.split(".")
    assert cookies.read(f"{ident}.{int(stamp) - 3600}.{signature}", now) is None
    assert cookies.read(f"other.{stamp}.{signature}", now) is None
    assert ClientCookies(b"another key entirely").read(value, now) is None


# --- batch -----------------------------------------------------------------------------------

def _event(at: float, ip: str, path: str, session: str | None, *, referer: str | None = None,
           subject: str | None = None) -> dict[str, Any]:
    ts = (START + timedelta(seconds=at)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return {"ts": ts,
            "ip": ip, "method": "GET", "path": path, "status": 200, "bytes": 900, "ua": BROWSER,
            "referer": referer, "account": None, "session": session,
            "subjects": [subject] if subject else None, "fields": ["name"] if subject else None}


def _write(path: Path, events: list[dict[str, Any]]) -> str:
    events.sort(key=lambda e: str(e["ts"]))
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return str(path)


def _harvester(rotate: bool) -> list[dict[str, Any]]:
    """Profile after profile from one address, one lookup every 3 s for forty minutes, in
    random order (no sequential steps); with `rotate`, a new session id on every request."""
    rng = random.Random(3)
    ids = rng.sample(range(10_000, 900_000), 800)
    return [_event(3.0 * k, "198.51.100.44", f"/user/{n}",
                   secrets.token_hex(8) if rotate else None, subject=str(n))
            for k, n in enumerate(ids)]


def _decision(log: str, actor: str) -> Any:
    return next((d for d in analyze([log]).decisions if d.actor == actor), None)


@pytest.mark.slow  # two analyses: about 15 s alone, a minute on a busy machine
def test_batch_rotating_sessions_do_not_multiply_clients(tmp_path: Path) -> None:
    bare = _decision(_write(tmp_path / "bare.jsonl", _harvester(False)), "ip:198.51.100.44")
    rotating = _decision(_write(tmp_path / "rot.jsonl", _harvester(True)), "ip:198.51.100.44")
    assert bare is not None
    assert bare.action == "block"
    assert rotating is not None
    assert rotating.action == "block", "rotation hid the harvester"
    assert rotating.subjects_before_action <= 1.2 * bare.subjects_before_action


@pytest.mark.slow
def test_batch_sessions_with_a_history_are_clients_behind_a_nat(tmp_path: Path) -> None:
    """Forty people behind one address, each keeping a session for most of an hour, reading
    15 profiles: 600 lookups within the hour from the address, 15 each."""
    rng = random.Random(9)
    events: list[dict[str, Any]] = []
    ids = iter(rng.sample(range(10_000, 900_000), 40 * 15))
    for person in range(40):
        session = f"s{person:03d}{secrets.token_hex(4)}"
        at = rng.uniform(0, 300)
        events.append(_event(at, NAT, "/", session))
        for _ in range(15):
            at += rng.uniform(80, 200)
            n = next(ids)
            events.append(_event(at, NAT, f"/user/{n}", session, referer="https://shop/",
                                 subject=str(n)))
            events.append(_event(at + 0.3, NAT, "/static/app.js", session,
                                 referer=f"https://shop/user/{n}"))
    decision = _decision(_write(tmp_path / "nat.jsonl", events), f"ip:{NAT}")
    assert decision is None or decision.action == "allow", decision


@pytest.mark.slow
def test_both_engines_agree_on_who_is_a_client(tmp_path: Path) -> None:
    """The stream engine remembers an unsigned session's first sighting in its store; replayed,
    a log with lasting and rotating sessions reaches the batch engine's decisions."""
    from scrapeguard.engines.replay import replay
    from scrapeguard.engines.stream import StreamEngine

    rng = random.Random(11)
    events = _harvester(True)[:400]
    for person in range(6):  # people keeping a session, one of them behind the harvester's NAT
        ip = "198.51.100.44" if person == 0 else f"192.0.2.{10 + person}"
        session, at = f"p{person}", rng.uniform(0, 600)
        for _ in range(12):
            at += rng.uniform(20, 90)
            n = rng.randrange(10_000, 900_000)
            events.append(_event(at, ip, f"/user/{n}", session, subject=str(n)))
    log = _write(tmp_path / "mixed.jsonl", events)
    batch = analyze([log])
    engine = StreamEngine(None, "memory://", calibration=batch.calibration, secret=b"test")

    def view(decisions: Any) -> dict[str, tuple[str, datetime, tuple[str, ...]]]:
        return {d.actor: (d.action, d.first_action_ts, tuple(sorted(d.rules)))
                for d in decisions if d.action != "allow"}

    expected = view(batch.decisions)
    assert "ip:198.51.100.44" in expected
    assert view(replay([log], engine)) == expected
