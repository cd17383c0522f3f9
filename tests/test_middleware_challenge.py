"""The challenge through the ASGI middleware: page, solution in Python, pass, and its limits."""

from __future__ import annotations

from typing import Any

from scrapeguard.enforce import PASS_COOKIE, PASS_PATH
from scrapeguard.policy.model import Policy
from test_middleware_support import FakeClock, call, demo_site, one_rule_policy, solve_page


def challenge_app(clock: FakeClock, **options: Any) -> Any:
    options.setdefault("policy", one_rule_policy("challenge"))
    return demo_site(clock=clock, pass_ttl=600, **options)


def get_pass(app: Any, client: str = "203.0.113.7") -> tuple[str, tuple[str, str]]:
    """Be challenged, solve it in Python, post the solution: the pass cookie and solution."""
    page = call(app, "/user/3", client=client)
    assert page.status == 403
    assert page.headers["content-type"].startswith("text/html")
    seed, nonce = solve_page(page.text)
    form = f"seed={seed}&nonce={nonce}&next=/user/3".encode()
    answer = call(app, PASS_PATH, method="POST", client=client, body=form,
                  headers=[("content-type", "application/x-www-form-urlencoded")])
    assert answer.status == 303
    assert answer.headers["location"] == "/user/3"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{PASS_COOKIE}=")
    assert "HttpOnly" in cookie
    return cookie.split(";", 1)[0], (seed, nonce)


def test_challenge_flow_solve_and_pass() -> None:
    clock = FakeClock()
    app = challenge_app(clock)
    call(app, "/about")
    call(app, "/about")
    cookie, _ = get_pass(app)
    assert call(app, "/user/3", headers=[("cookie", cookie)]).status == 200
    assert call(app, "/user/4").status == 403  # without the cookie: challenged again


def test_forged_expired_and_replayed_passes_are_refused() -> None:
    clock = FakeClock()
    app = challenge_app(clock)
    call(app, "/about")
    call(app, "/about")
    cookie, (seed, nonce) = get_pass(app)
    name, value = cookie.split("=", 1)
    expiry, signature = value.split(".", 1)
    forged = f"{name}={int(expiry) + 3600}.{signature}"
    assert call(app, "/user/3", headers=[("cookie", forged)]).status == 403
    thief = "192.0.2.50"
    call(app, "/about", client=thief)
    call(app, "/about", client=thief)
    assert call(app, "/user/3", client=thief, headers=[("cookie", cookie)]).status == 403
    assert call(app, "/user/3", headers=[("cookie", cookie)]).status == 200
    form = f"seed={seed}&nonce={nonce}".encode()
    replay = call(app, PASS_PATH, method="POST", body=form)
    assert replay.status == 403
    assert b"already used" in replay.body
    clock.advance(601)
    assert call(app, "/user/3", headers=[("cookie", cookie)]).status == 403


def test_a_pass_does_not_open_a_block() -> None:
    clock = FakeClock()
    policy = one_rule_policy("challenge").model_dump()
    policy["rules"].append({"id": "then-block", "kind": "ip", "window": "1h",
                            "when": "requests >= 4", "action": "block", "score": 0.9})
    app = challenge_app(clock, policy=Policy.model_validate(policy))
    call(app, "/about")
    call(app, "/about")
    cookie, _ = get_pass(app)
    statuses = [call(app, "/about", headers=[("cookie", cookie)]).status for _ in range(4)]
    assert statuses == [200, 200, 403, 403]
    assert call(app, "/about", headers=[("cookie", cookie)]).headers["content-type"].startswith(
        "text/plain")


def test_decoy_without_a_hook_is_a_challenge() -> None:
    app = demo_site(policy=one_rule_policy("decoy"))
    call(app, "/about")
    call(app, "/about")
    answer = call(app, "/user/2")
    assert answer.status == 403
    assert b"crypto.subtle" in answer.body
