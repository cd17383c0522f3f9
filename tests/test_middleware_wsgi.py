"""The WSGI middleware around a plain WSGI app (what Flask and Django hand a server)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults

from scrapeguard.enforce import PASS_COOKIE, PASS_PATH, ScrapeGuardWSGI
from scrapeguard.enforce.base import Exposure
from test_middleware_support import (
    BROWSER,
    LANGUAGE,
    SECRET,
    Answer,
    FakeClock,
    SpyEngine,
    demo_policy,
    one_rule_policy,
    solve_page,
)


def shop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Profiles at /user/{n} (policy route), /api/users/{n} naming its subject in headers."""
    path = environ["PATH_INFO"]
    headers = [("Content-Type", "application/json")]
    if path.startswith("/api/users/"):
        n = path.rsplit("/", 1)[1]
        headers += [("X-Subjects", n), ("X-Subject-Fields", "name,phone")]
    elif path == "/whoami":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["scrapeguard"].keys["ip"].encode()]
    start_response("200 OK", headers)
    return [json.dumps({"path": path, "name": "Person", "phone": "+15550001"}).encode()]


def wsgi_call(app: Any, path: str, *, method: str = "GET", client: str = "203.0.113.7",
              headers: dict[str, str] | None = None, body: bytes = b"") -> Answer:
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "REMOTE_ADDR": client,
                               "HTTP_USER_AGENT": BROWSER, "HTTP_ACCEPT_LANGUAGE": LANGUAGE,
                               "wsgi.input": io.BytesIO(body),
                               "CONTENT_LENGTH": str(len(body))}
    path_info, _, query = path.partition("?")
    environ.update(PATH_INFO=path_info, QUERY_STRING=query)
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    started: list[Any] = []

    def start_response(status: str, response_headers: list[tuple[str, str]],
                       exc_info: Any = None) -> Any:
        started.extend([status, response_headers])
        return lambda data: None

    result = app(environ, start_response)
    try:
        body_out = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close:
            close()
    status, response_headers = started
    return Answer(int(status.split()[0]), {k.lower(): v for k, v in response_headers}, body_out)


def guarded(**options: Any) -> ScrapeGuardWSGI:
    options.setdefault("policy", demo_policy())
    options.setdefault("secret", SECRET)
    options.setdefault("challenge_difficulty", (4, 6))
    return ScrapeGuardWSGI(shop, **options)


def test_remote_addr_and_trusted_forwarded_for() -> None:
    app = guarded(trusted_proxies=["10.0.0.0/8"])
    forged = {"X-Forwarded-For": "192.0.2.1"}
    assert wsgi_call(app, "/whoami", client="198.51.100.2", headers=forged).text == \
        "198.51.100.2"
    assert wsgi_call(app, "/whoami", client="10.2.0.1", headers=forged).text == "192.0.2.1"


def test_subject_headers_recorded_stripped_and_counted_on_close() -> None:
    engine = SpyEngine(demo_policy(), "memory://", secret=SECRET)
    app = guarded(engine=engine)
    answer = wsgi_call(app, "/api/users/42?x=1", headers={"Cookie": "sessionid=abc"})
    assert answer.status == 200
    assert "x-subjects" not in answer.headers
    assert "x-subject-fields" not in answer.headers
    event = engine.events[-1]
    assert event["subjects"] == ["42"]
    assert event["fields"] == ["name", "phone"]
    assert event["path"] == "/api/users/42?x=1"
    assert event["session"] not in (None, "abc")  # the guard's own signed session instead
    assert answer.headers["set-cookie"].startswith("sg_client=")
    assert event["bytes"] == len(answer.body)
    assert event["status"] == 200


def test_subjects_hook_gets_environ_status_and_headers() -> None:
    engine = SpyEngine(demo_policy(), "memory://", secret=SECRET)

    def subjects(environ: Any, status: int, headers: list[tuple[str, str]]) -> Exposure:
        assert ("Content-Type", "application/json") in headers
        return Exposure([environ["PATH_INFO"].rsplit("/", 1)[1]], ["phone"])

    wsgi_call(guarded(engine=engine, subjects=subjects), "/user/9")
    assert engine.events[-1]["subjects"] == ["9"]
    assert engine.events[-1]["fields"] == ["phone"]


def test_block_and_throttle() -> None:
    app = guarded()
    assert wsgi_call(app, "/trap-x").status == 200
    blocked = wsgi_call(app, "/user/1")
    assert blocked.status == 403
    assert blocked.headers["content-type"].startswith("text/plain")
    slow = guarded(policy=one_rule_policy("throttle"), throttle_rate="1/minute")
    statuses = [wsgi_call(slow, "/about").status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert int(wsgi_call(slow, "/about").headers["retry-after"]) >= 1


def test_challenge_flow() -> None:
    clock = FakeClock()
    app = guarded(policy=one_rule_policy("challenge"), clock=clock, pass_ttl=60)
    wsgi_call(app, "/about")
    wsgi_call(app, "/about")
    page = wsgi_call(app, "/user/3")
    assert page.status == 403
    seed, nonce = solve_page(page.text)
    form = f"seed={seed}&nonce={nonce}&next=/user/3".encode()
    answer = wsgi_call(app, PASS_PATH, method="POST", body=form)
    assert answer.status == 303
    assert answer.headers["location"] == "/user/3"
    cookie = answer.headers["set-cookie"].split(";", 1)[0]
    assert cookie.startswith(PASS_COOKIE)
    assert wsgi_call(app, "/user/3", headers={"Cookie": cookie}).status == 200
    assert wsgi_call(app, PASS_PATH, method="POST", body=form).status == 403  # replayed
    clock.advance(61)
    assert wsgi_call(app, "/user/3", headers={"Cookie": cookie}).status == 403  # expired


def test_decoy_hook_is_a_wsgi_app() -> None:
    def decoy(environ: WSGIEnvironment) -> Any:
        def fake(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"name": "Canary"}']

        return fake

    app = guarded(policy=one_rule_policy("decoy"), decoy=decoy)
    wsgi_call(app, "/about")
    wsgi_call(app, "/about")
    assert wsgi_call(app, "/user/1").body == b'{"name": "Canary"}'


def test_a_decoy_can_be_a_wsgi_app_itself() -> None:
    def fake(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"name": "Canary App"}']

    app = guarded(policy=one_rule_policy("decoy"), decoy=fake)
    wsgi_call(app, "/about")
    wsgi_call(app, "/about")
    assert wsgi_call(app, "/user/1").body == b'{"name": "Canary App"}'
