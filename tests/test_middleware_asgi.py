"""The ASGI middleware on the real stream engine (memory store), one behaviour per test."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from scrapeguard.enforce import Exposure, ScrapeGuardMiddleware
from scrapeguard.engines.verdict import Request, Verdict
from scrapeguard.errors import ScrapeGuardError, StoreError
from test_middleware_support import (
    SECRET,
    SpyEngine,
    call,
    demo_policy,
    demo_site,
    one_rule_policy,
)

UNTRUSTED = "198.51.100.20"


def spy(policy: Any = None) -> SpyEngine:
    return SpyEngine(policy or demo_policy(), "memory://", secret=SECRET)


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    app = demo_site(trusted_proxies=["10.0.0.0/8"])
    forged = [("x-forwarded-for", "192.0.2.1")]
    assert call(app, "/whoami", client=UNTRUSTED, headers=forged).text == UNTRUSTED
    chain = [("x-forwarded-for", "192.0.2.1, 203.0.113.50, 10.1.1.1")]
    assert call(app, "/whoami", client="10.0.0.5", headers=chain).text == "203.0.113.50"
    assert call(app, "/whoami", client="10.0.0.5").text == "10.0.0.5"


def test_it_is_added_like_any_starlette_middleware() -> None:
    async def profile(request: Any) -> JSONResponse:
        return JSONResponse({"name": "Person"}, headers={"X-Subjects": "1"})

    app = Starlette(routes=[Route("/user/{n}", profile)])
    app.add_middleware(ScrapeGuardMiddleware, policy=demo_policy(), secret=SECRET)
    answer = call(app, "/user/1")
    assert answer.status == 200
    assert "x-subjects" not in answer.headers


def test_the_policys_trusted_proxies_count_too() -> None:
    policy = demo_policy().model_copy(update={"trusted_proxies": ["172.16.0.0/12"]})
    app = demo_site(policy=policy)
    headers = [("x-forwarded-for", "192.0.2.44")]
    assert call(app, "/whoami", client="172.16.3.3", headers=headers).text == "192.0.2.44"


def test_subject_headers_are_recorded_and_stripped() -> None:
    engine = spy()
    app = demo_site(engine=engine)
    answer = call(app, "/api/users/7?ref=x", headers=[("cookie", "sessionid=s-1; other=2"),
                                                       ("referer", "http://testserver/")])
    assert answer.status == 200
    assert not {"x-subjects", "x-subject-fields"} & set(answer.headers)
    event = engine.events[-1]
    assert event["subjects"] == ["7"]
    assert event["fields"] == ["name", "phone"]
    assert event["path"] == "/api/users/7?ref=x"
    assert event["status"] == 200
    assert event["bytes"] == len(answer.body)
    # A client-named cookie is not a session: the guard issues its own, signed.
    assert event["session"] not in (None, "s-1")
    assert answer.headers["set-cookie"].startswith("sg_client=")
    assert event["session_since"] is not None
    assert event["referer"] == "http://testserver/"
    assert event["ip"] == "203.0.113.7"
    assert event["ts"].tzinfo is not None
    assert ("cookie", "") in engine.requests[-1].headers  # a credential: passed by name only
    miss = call(app, "/api/users/23")
    assert miss.status == 404
    assert "x-subjects" not in miss.headers
    assert engine.events[-1]["subjects"] == []


def test_routes_without_headers_leave_subjects_to_the_engine() -> None:
    engine = spy()
    call(demo_site(engine=engine), "/user/5")
    assert engine.events[-1]["subjects"] is None
    assert engine.events[-1]["fields"] is None


def test_a_subjects_hook_names_the_people_when_headers_do_not() -> None:
    engine = spy()
    seen: list[tuple[int, str | None]] = []

    def subjects(scope: Any, status: int, headers: Any) -> Exposure | None:
        seen.append((status, headers.get("content-type")))
        if scope["path"].startswith("/user/"):
            return Exposure([scope["path"].rsplit("/", 1)[1]], ["name"])
        return None

    app = demo_site(engine=engine, subjects=subjects)
    call(app, "/user/5")
    assert engine.events[-1]["subjects"] == ["5"]
    assert engine.events[-1]["fields"] == ["name"]
    assert seen == [(200, "application/json")]
    call(app, "/about")
    assert engine.events[-1]["subjects"] is None


def test_account_and_session_hooks() -> None:
    engine = spy()
    app = demo_site(engine=engine, account=lambda scope: "u_1",
                    session=lambda scope: "device-9")
    call(app, "/about", headers=[("cookie", "session=ignored")])
    assert engine.requests[-1].account == "u_1"
    assert engine.requests[-1].session == "device-9"
    assert engine.events[-1]["account"] == "u_1"
    assert engine.events[-1]["session"] == "device-9"


def test_block_is_a_short_403_and_sticks() -> None:
    app = demo_site()
    assert call(app, "/trap-hidden-link").status == 200
    for path in ("/about", "/user/5"):
        answer = call(app, path)
        assert answer.status == 403
        assert answer.headers["content-type"].startswith("text/plain")
        assert len(answer.body) < 200
    assert call(app, "/about", client="192.0.2.99").status == 200


def test_throttle_answers_429_with_retry_after() -> None:
    app = demo_site(policy=one_rule_policy("throttle"), throttle_rate="1/minute")
    statuses = [call(app, "/about").status for _ in range(5)]
    # Two served before the rule holds, then one a minute gets through, the rest wait.
    assert statuses == [200, 200, 200, 429, 429]
    answer = call(app, "/about")
    assert answer.status == 429
    assert 1 <= int(answer.headers["retry-after"]) <= 60


def test_decoy_hook_serves_the_fakes() -> None:
    calls: list[Verdict] = []

    def decoy(scope: Any) -> Any:
        calls.append(scope["scrapeguard"])
        return JSONResponse({"id": 0, "name": "Canary Person", "phone": "+15550000000"})

    app = demo_site(policy=one_rule_policy("decoy"), decoy=decoy)
    assert [call(app, "/user/1").status for _ in range(2)] == [200, 200]
    answer = call(app, "/user/2")
    assert answer.status == 200
    assert b"Canary" in answer.body
    assert len(calls) == 1
    assert calls[0].action == "decoy"


def test_an_async_decoy_hook_is_awaited() -> None:
    async def decoy(scope: Any) -> Any:
        return JSONResponse({"name": "Async Canary"})

    app = demo_site(policy=one_rule_policy("decoy"), decoy=decoy)
    call(app, "/about")
    call(app, "/about")
    assert b"Async Canary" in call(app, "/user/2").body


def test_a_decoy_can_be_an_asgi_app_itself() -> None:
    app = demo_site(policy=one_rule_policy("decoy"),
                    decoy=JSONResponse({"name": "Canary App"}))
    call(app, "/about")
    call(app, "/about")
    assert b"Canary App" in call(app, "/user/2").body


def test_allowlists_always_win() -> None:
    policy = one_rule_policy("block", "requests >= 1",
                             allowlist={"cidrs": ["192.0.2.0/24"], "accounts": ["partner"]})
    app = demo_site(policy=policy, account=lambda scope: dict(scope["headers"]).get(
        b"x-account", b"").decode() or None)
    assert all(call(app, "/user/1", client="192.0.2.8").status == 200 for _ in range(5))
    partner = [("x-account", "partner")]
    assert all(call(app, "/user/1", headers=partner).status == 200 for _ in range(5))
    call(app, "/user/1", client="198.51.100.3")
    assert call(app, "/user/1", client="198.51.100.3").status == 403


@pytest.mark.parametrize("kind", ["websocket", "lifespan"])
def test_other_scopes_pass_through_untouched(kind: str) -> None:
    engine = spy()
    seen: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)
        await send({"type": "marker"})

    middleware = ScrapeGuardMiddleware(inner, engine=engine)
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {"type": kind, "path": "/ws", "headers": [], "client": ("192.0.2.1", 1)}
    asyncio.run(middleware(scope, receive, send))
    assert seen == [scope]
    assert sent == [{"type": "marker"}]
    assert engine.requests == []
    assert engine.events == []


class BrokenEngine(SpyEngine):
    def check(self, request: Request) -> Verdict:
        raise RuntimeError("engine bug")

    def record(self, event: dict[str, Any]) -> list[Any]:
        raise RuntimeError("engine bug")


def test_a_broken_engine_never_reaches_the_client(caplog: pytest.LogCaptureFixture) -> None:
    app = demo_site(engine=BrokenEngine(demo_policy(), "memory://", secret=SECRET))
    with caplog.at_level(logging.WARNING, logger="scrapeguard.enforce"):
        assert [call(app, "/user/1").status for _ in range(3)] == [200, 200, 200]
    assert sum("engine bug" in r.getMessage() for r in caplog.records) == 1
    closed = demo_site(engine=BrokenEngine(demo_policy(), "memory://", secret=SECRET),
                       fail_open=False)
    answer = call(closed, "/user/1")
    assert answer.status == 503
    assert "retry-after" in answer.headers


@pytest.mark.parametrize(("options", "error"), [
    ({"store": "mongodb://x"}, StoreError),
    ({"challenge_difficulty": (9, 3)}, ScrapeGuardError),
    ({"challenge_difficulty": (4, 40)}, ScrapeGuardError),
    ({"throttle_rate": "often"}, ScrapeGuardError),
    ({"pass_ttl": 0}, ScrapeGuardError),
    ({"account": "u_1"}, ScrapeGuardError),
    ({"trusted_proxies": ["not-a-network"]}, ScrapeGuardError),
])
def test_bad_options_fail_at_start(options: dict[str, Any], error: type[Exception]) -> None:
    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never called")

    with pytest.raises(error):
        ScrapeGuardMiddleware(inner, engine=spy(), **options)


def test_a_decoy_never_passes_on_private_subject_headers() -> None:
    """A decoy built with the app's own response helpers may carry the app's X-Subjects."""
    decoy = JSONResponse({"name": "Canary"}, headers={"X-Subjects": "u1,u2", "X-Kept": "1"})
    app = demo_site(policy=one_rule_policy("decoy"), decoy=decoy)
    call(app, "/about")
    call(app, "/about")
    answer = call(app, "/user/2")
    assert b"Canary" in answer.body
    assert "x-subjects" not in answer.headers
    assert answer.headers["x-kept"] == "1"
