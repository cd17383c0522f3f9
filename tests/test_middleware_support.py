"""Shared by the middleware tests (holds no tests itself): a demo site, clocks, a driver.

The demo site is a tiny shop with people's profiles: `/user/{n}` is a policy route (the engine
reads the subject off the path), `/api/users/{n}` names its subject in `X-Subjects`, and every
23rd person does not exist (404), as on the simulated site. `node_app` is the same site as an
import string for uvicorn subprocesses, configured through `SG_*` environment variables.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from scrapeguard.enforce import ScrapeGuardMiddleware
from scrapeguard.enforce.pow import solve
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.engines.verdict import Request as EngineRequest
from scrapeguard.engines.verdict import Verdict
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy

TESTS = Path(__file__).parent
SECRET = b"test secret for the middleware tests"
LANGUAGE = "en-GB,en;q=0.9"
"""Every browser sends Accept-Language; a browser's agent without it is a library's disguise
(`browser-claim-foreign-headers`)."""
BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/124.0 Safari/537.36")
BROWSER_HEADERS = {"user-agent": BROWSER, "accept-language": LANGUAGE}


def demo_policy() -> Policy:
    """The shipped pack plus the demo site's profile route and a trap."""
    base = load_policy(None).model_dump()
    base["routes"] = [{"name": "profile", "path": "/user/{id}", "subject": "id",
                       "fields": ["name", "phone"]}]
    base["traps"] = ["/trap-*"]
    return Policy.model_validate(base)


def one_rule_policy(action: str, when: str = "requests >= 2", **extra: Any) -> Policy:
    """A policy whose only rule takes `action` against an address once `when` holds."""
    rule = {"id": f"test-{action}", "kind": "ip", "window": "1h", "when": when,
            "action": action, "score": 0.5}
    return Policy.model_validate({"rules": [rule], **extra})


class FakeClock:
    """A clock tests move by hand, so an hour of browsing takes a second."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


class SpyEngine(StreamEngine):
    """The real engine, noting what it was asked and told."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[EngineRequest] = []
        self.events: list[dict[str, Any]] = []

    def check(self, request: EngineRequest) -> Verdict:
        self.requests.append(request)
        return super().check(request)

    def record(self, event: dict[str, Any]) -> list[Any]:
        self.events.append(event)
        return super().record(event)


# --- the demo site ---------------------------------------------------------------------------

def _exists(n: int) -> bool:
    return n % 23 != 0


async def _page(request: Request) -> Response:
    return HTMLResponse("<html><script src='/static/app.js'></script>" + "shop " * 200)


async def _asset(request: Request) -> Response:
    return PlainTextResponse("/* asset */" * 100, media_type="text/css")


async def _profile(request: Request) -> Response:
    n = request.path_params["n"]
    if not _exists(n):
        return JSONResponse({"error": "no such person"}, status_code=404)
    return JSONResponse({"id": n, "name": f"Person {n}", "phone": f"+1555{n:07d}"})


async def _api_user(request: Request) -> Response:
    n = request.path_params["n"]
    if not _exists(n):
        return JSONResponse({"error": "no such person"}, status_code=404,
                            headers={"X-Subjects": ""})
    return JSONResponse({"id": n, "name": f"Person {n}", "phone": f"+1555{n:07d}"},
                        headers={"X-Subjects": str(n), "X-Subject-Fields": "name,phone"})


async def _whoami(request: Request) -> Response:
    verdict = request.scope.get("scrapeguard")
    return PlainTextResponse(verdict.keys["ip"] if verdict else "?")


def demo_site(**options: Any) -> ScrapeGuardMiddleware:
    """The demo shop behind the middleware; `options` go to `ScrapeGuardMiddleware`.

    Wrapped directly rather than with `add_middleware`, so tests reach its guard.
    """
    app = Starlette(routes=[
        Route("/", _page), Route("/about", _page), Route("/product/{n:int}", _page),
        Route("/static/{name}", _asset), Route("/user/{n:int}", _profile),
        Route("/api/users/{n:int}", _api_user), Route("/trap-{rest}", _page),
        Route("/whoami", _whoami),
    ])
    options.setdefault("policy", demo_policy())
    options.setdefault("secret", SECRET)
    options.setdefault("challenge_difficulty", (4, 8))
    return ScrapeGuardMiddleware(app, **options)


def node_app() -> ScrapeGuardMiddleware:
    """The demo site for a uvicorn subprocess (`--factory`); `SG_STORE` picks the store.

    It trusts 127.0.0.1 as its proxy, so test clients choose their address with
    X-Forwarded-For.
    """
    return demo_site(store=os.environ.get("SG_STORE", "memory://"),
                     trusted_proxies=["127.0.0.1"])


# --- calling an ASGI app directly ------------------------------------------------------------

@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_headers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode()


def call(app: Any, path: str, *, method: str = "GET", client: str = "203.0.113.7",
         headers: Sequence[tuple[str, str]] = (), body: bytes = b"", scheme: str = "http",
         exact: bool = False) -> Answer:
    """One HTTP request through an ASGI app, without a server. A browser's agent and language
    are sent before `headers`, unless `exact`: then `headers` are all there is, in order."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": scheme, "path": raw_path, "raw_path": raw_path.encode(),
        "query_string": query.encode(), "root_path": "", "client": (client, 50000),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers] if exact else [
            (k.lower().encode(), v.encode()) for k, v in
                    [("host", "testserver"), ("user-agent", BROWSER),
                     *((("accept-language", LANGUAGE),)
                       if not any(k.lower() == "accept-language" for k, _ in headers) else ()),
                     *headers]],
    }
    sent: list[dict[str, Any]] = []
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    raw = list(start.get("headers", []))
    return Answer(start["status"], {k.decode().lower(): v.decode() for k, v in raw},
                  b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
                  raw)


SEED = re.compile(r'name="seed" value="([^"]+)"')


def solve_page(page: str) -> tuple[str, str]:
    """(seed, nonce) for a challenge page, found the way its script does it."""
    seed = SEED.search(page)
    bits = re.search(r"bits = (\d+)", page)
    assert seed, "not a challenge page"
    assert bits, "not a challenge page"
    return seed.group(1), solve(seed.group(1), int(bits.group(1)))
