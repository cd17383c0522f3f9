"""The Starlette app of `scrapeguard serve`, and the place a dashboard mounts.

`build_app(config, mounts=...)` takes `(path, factory)` pairs: each factory gets the running
`Service` and returns an ASGI app mounted at its path, so a dashboard reads decisions and sets
them through the same engine as the API, with no second store connection and no HTTP hop.
The OpenAPI document is built from the endpoints' docstrings and served at /openapi.json;
docs/openapi.json is its checked-in copy.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.schemas import SchemaGenerator
from starlette.types import ASGIApp, Receive, Scope, Send

from scrapeguard import __version__
from scrapeguard.enforce.base import Engine
from scrapeguard.service import admin, decide
from scrapeguard.service.config import ServiceConfig
from scrapeguard.service.dashboard import dashboard
from scrapeguard.service.state import Service
from scrapeguard.service.syslog import listen
from scrapeguard.textsafe import inert

log = logging.getLogger("scrapeguard.service")

MountFactory = Callable[[Service], ASGIApp]

SCHEMA = SchemaGenerator({
    "openapi": "3.0.3",
    "info": {"title": "scrapeguard decision service", "version": __version__},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
})


async def health(request: Request) -> Response:
    """---
    summary: Liveness and whether the store answers
    responses:
      200: {description: "{status: ok, store: ok}"}
      503: {description: "{status: degraded, store: down}: decisions follow fail_open"}
    """
    service: Service = request.app.state.service
    try:
        with anyio.fail_after(1):
            await anyio.to_thread.run_sync(service.engine.store.get_decisions, ["health"],
                                           abandon_on_cancel=True)
    except Exception:
        return JSONResponse({"status": "degraded", "store": "down",
                             "fail_open": service.config.fail_open}, status_code=503)
    return JSONResponse({"status": "ok", "store": "ok", "version": __version__})


async def metrics(request: Request) -> Response:
    """---
    summary: Prometheus metrics (no addresses, accounts or subjects as labels)
    responses:
      200: {description: the text exposition format}
    """
    service: Service = request.app.state.service
    return Response(service.metrics.render(),
                    media_type="text/plain; version=0.0.4; charset=utf-8")


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(request.app.routes))


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    return SCHEMA.get_schema(list(routes))


ROUTES: list[BaseRoute] = [
    Route("/v1/decide", decide.decide, methods=["GET"]),
    Route("/v1/challenge", decide.challenge, methods=["GET"]),
    Route("/v1/pass", decide.redeem, methods=["POST"]),
    Route("/v1/events", admin.ingest, methods=["POST"]),
    Route("/v1/decisions", admin.list_decisions, methods=["GET"]),
    Route("/v1/decisions", admin.set_decision, methods=["POST"]),
    Route("/v1/actors", admin.list_actors, methods=["GET"]),
    Route("/v1/actors/{actor:path}", admin.actor, methods=["GET"]),
    Route("/healthz", health, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"], include_in_schema=False),
]


def decide_first(app: Starlette) -> ASGIApp:
    """`app` with `GET /v1/decide` answered before Starlette's middleware and router.

    nginx asks this once per request; py-spy under bench/service.py put a quarter of the
    service's samples in Starlette's layers around the handler (error middleware, exception
    middleware, router, request_response), which do nothing for this route: the handler
    catches its engine's failures itself. Nor does it build a Request or a Response: the
    answer is a status and a few raw headers (`decide.decision`). Every other path goes
    through the full stack. An unexpected error still answers 500, which nginx turns into
    its fail mode."""

    service: Service = app.state.service

    async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != "/v1/decide"
                or scope["method"] not in ("GET", "HEAD")):
            await app(scope, receive, send)
            return
        try:
            status, headers = await decide.decision(service, scope)
        except Exception as exc:
            log.error("scrapeguard: deciding failed: %s", inert(exc))
            status, headers = 500, [(b"content-length", b"0")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})

    return asgi


def build_app(config: ServiceConfig, *, engine: Engine | None = None,
              mounts: Sequence[tuple[str, MountFactory]] = ()) -> Starlette:
    """The service app; the engine and store are opened now, so bad settings fail at start."""
    service = Service(config, engine=engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        transport = await listen(service, config.events_udp) if config.events_udp else None
        try:
            yield
        finally:
            if transport is not None:
                transport.close()
            with contextlib.suppress(Exception):  # a store already gone has nothing to close
                await service.engine.store.close_async()
            service.close()

    mounts = [*mounts, *([("/dashboard", dashboard)] if config.dashboard else [])]
    routes = [*ROUTES, *(Mount(path, app=factory(service)) for path, factory in mounts)]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    return app
