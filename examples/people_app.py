"""The README's example, runnable: a people directory behind the middleware, nothing declared.

No `routes:` in a policy, no `X-Subjects` header, no hook: the middleware is added exactly as
the README shows, and must work out by itself that `/user/{n}` serves people's records while
`/avatar/{n}` (an image without a file extension), the telemetry `POST`s and their CORS
preflights serve nobody's (`docs/live.md`, "Routes it learns by itself").

    uvicorn --factory examples.people_app:build

Every 23rd person does not exist (404), as on the simulated site.
"""

from __future__ import annotations

import os
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from scrapeguard.enforce import ScrapeGuardMiddleware

PEOPLE = 2000
"""Profiles `/user/1` … `/user/2000`; those whose number divides by 23 do not exist."""

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489") * 20


def exists(n: int) -> bool:
    return 1 <= n <= PEOPLE and n % 23 != 0


def served_profiles() -> int:
    """How many profiles the directory has: what an enumerator can take."""
    return sum(exists(n) for n in range(1, PEOPLE + 1))


def _page(body: str) -> HTMLResponse:
    head = ("<html><head><link rel=stylesheet href='/static/site.css'>"
            "<script src='/static/app.js'></script></head><body>")
    return HTMLResponse(head + body + " directory" * 150 + "</body></html>")


async def home(request: Request) -> Response:
    return _page("<form action='/search'><input name=q></form>")


async def search(request: Request) -> Response:
    q = request.query_params.get("q", "")
    found = [n for n in range(1, 40) if exists(n)][:10]
    return _page(f"results for {len(q)} letters: " + "".join(
        f"<a href='/user/{n}'><img src='/avatar/{n}'>Person {n}</a>" for n in found))


async def profile(request: Request) -> Response:
    n = request.path_params["n"]
    if not exists(n):
        return HTMLResponse("<html><body>no such person</body></html>", status_code=404)
    return _page(f"<img src='/avatar/{n}'><h1>Person {n}</h1><p>+1555{n:07d}</p>")


async def avatar(request: Request) -> Response:
    return Response(PNG, media_type="image/png")


async def asset(request: Request) -> Response:
    kind = "text/css" if request.path_params["name"].endswith(".css") else "text/javascript"
    return PlainTextResponse("/* asset */" * 100, media_type=kind)


async def telemetry(request: Request) -> Response:
    """The app's own telemetry: a write, with a CORS preflight before it."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers={"access-control-allow-methods": "POST"})
    await request.body()
    return Response(status_code=204)


def site() -> Starlette:
    return Starlette(routes=[
        Route("/", home), Route("/search", search), Route("/user/{n:int}", profile),
        Route("/avatar/{n:int}", avatar), Route("/static/{name}", asset),
        Route("/api/v1/events", telemetry, methods=["POST", "OPTIONS"]),
        Route("/api/v1/events/{n:int}", telemetry, methods=["POST", "OPTIONS"]),
    ])


def build(**options: Any) -> Starlette:
    """The site with the middleware added as the README adds it; `options` go to it (tests
    pass a clock and a fixed secret), `SG_STORE` picks the store."""
    app = site()
    options.setdefault("store", os.environ.get("SG_STORE", "memory://"))
    app.add_middleware(ScrapeGuardMiddleware, **options)
    return app
