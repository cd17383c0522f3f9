"""The dashboard's routes: log in with the admin token, read actors and decisions, allow or
block an actor for a time to live. Mounted into the service app (`build_app`), it reads and
changes the same engine as the admin API, through the same functions.

Everything a client or a log wrote (actor keys, accounts, paths, user agents, reasons that
quote them) is attacker text: Jinja2 escapes it all, and `inert` also shows control and
direction characters as escapes. Pages run no script; their one stylesheet is a packaged
file, so `Content-Security-Policy: default-src 'self'` holds with nothing relaxed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import anyio.to_thread
import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scrapeguard.service import admin
from scrapeguard.service.dashboard import views
from scrapeguard.service.dashboard.sessions import COOKIE, Login, Sessions, csrf_ok, token_matches
from scrapeguard.service.dashboard.timeline import Timelines
from scrapeguard.service.events import BadEvent
from scrapeguard.service.state import Service
from scrapeguard.textsafe import inert

HERE = Path(__file__).parent
CSP = ("default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
       "object-src 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    # same-origin, not no-referrer: under no-referrer Chromium sends `Origin: null` on the
    # forms' own POSTs, and the Origin check could not tell them from a forged one.
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]
MAX_FORM = 8192
TTL_CHOICES = [(600, "10 minutes"), (3600, "1 hour"), (86400, "1 day"), (604800, "1 week")]


class SecurityHeaders:
    """Adds the CSP and its companions to every answer, static files included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class Dashboard:
    """The pages; one per service, holding its logins and timelines."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.sessions = Sessions()
        self.timelines = Timelines(service.engine.deriver)
        service.counted_taps.append(self.timelines.count)
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
            undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        self.env.filters["inert"] = inert
        self.env.filters["q"] = lambda name: urlencode({"name": name})

    # -- helpers -----------------------------------------------------------------------
    def page(self, request: Request, template: str, status: int = 200,
             **context: Any) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        html = self.env.get_template(template).render(
            root=root, ttl_choices=TTL_CHOICES, login=self.login(request), **context)
        return HTMLResponse(html, status_code=status)

    def login(self, request: Request) -> Login | None:
        return self.sessions.get(request.cookies.get(COOKIE))

    @staticmethod
    def cross_site(request: Request) -> bool:
        """A POST whose Origin names another host (browsers send Origin on every POST)."""
        origin = request.headers.get("origin")
        return origin is not None and urlsplit(origin).netloc != request.headers.get("host")

    @staticmethod
    async def form(request: Request) -> dict[str, str]:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_FORM:
                raise BadEvent(f"form over {MAX_FORM} bytes")
        return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))

    def to_login(self, request: Request) -> Response:
        return RedirectResponse(f"{request.scope.get('root_path', '')}/login", status_code=303)

    # -- pages -------------------------------------------------------------------------
    async def overview(self, request: Request) -> Response:
        if self.login(request) is None:
            return self.to_login(request)
        data = await anyio.to_thread.run_sync(views.overview, self.service, self.timelines)
        return self.page(request, "overview.html", **data)

    async def actor(self, request: Request) -> Response:
        if self.login(request) is None:
            return self.to_login(request)
        name = request.query_params.get("name", "")
        data = await anyio.to_thread.run_sync(views.actor_page, self.service, self.timelines,
                                              name)
        known = data["decisions"] or data["manual"] or data["track"]
        return self.page(request, "actor.html", status=200 if known else 404,
                         done=request.query_params.get("done"), **data)

    async def login_form(self, request: Request) -> Response:
        return self.page(request, "login.html", error=None,
                         disabled=not self.service.config.admin_token)

    async def log_in(self, request: Request) -> Response:
        if self.cross_site(request):
            return Response("cross-site request refused", status_code=403)
        try:
            form = await self.form(request)
        except BadEvent as exc:
            return Response(str(exc), status_code=413)
        token = self.service.config.admin_token
        if not token_matches(form.get("token", ""), token):
            self.service.metrics.admin_refused.inc()
            return self.page(request, "login.html", status=401, disabled=not token,
                             error="That is not the admin token.")
        key, _ = self.sessions.start()
        root = request.scope.get("root_path", "")
        response = RedirectResponse(f"{root}/", status_code=303)
        response.set_cookie(COOKIE, key, max_age=int(self.sessions.lifetime), path=root or "/",
                            httponly=True, samesite="strict",
                            secure=request.url.scheme == "https")
        return response

    async def log_out(self, request: Request) -> Response:
        login = self.login(request)
        if login is not None and not self.cross_site(request):
            form = await self.form(request)
            if csrf_ok(login, form.get("csrf")):
                self.sessions.end(request.cookies.get(COOKIE))
        return self.to_login(request)

    async def decide(self, request: Request) -> Response:
        """Allow or block an actor for a time to live, through `admin.set_manual`."""
        login = self.login(request)
        if login is None:
            return Response("log in first", status_code=401)
        if self.cross_site(request):
            return Response("cross-site request refused", status_code=403)
        try:
            form = await self.form(request)
            if not csrf_ok(login, form.get("csrf")):
                return Response("the form's CSRF token is missing or stale: reload the page",
                                status_code=403)
            ttl = form.get("ttl", "")
            actor, action, seconds, reason = admin.manual_request({
                "actor": form.get("actor", "").strip(), "action": form.get("action"),
                "ttl": int(ttl) if ttl.isdigit() else ttl, "reason": form.get("reason", "")})
            if not reason.strip():
                raise BadEvent("reason: say why, for whoever reads this decision later")
            record = await anyio.to_thread.run_sync(
                admin.set_manual, self.service, actor, action, seconds, reason)
        except (BadEvent, ValueError) as exc:
            return self.page(request, "error.html", status=400, error=str(exc))
        query = urlencode({"name": record["actor"], "done": action})
        return RedirectResponse(f"{request.scope.get('root_path', '')}/actor?{query}",
                                status_code=303)


def dashboard_app(service: Service) -> ASGIApp:
    pages = Dashboard(service)
    app = Starlette(routes=[
        Route("/", pages.overview, methods=["GET"]),
        Route("/actor", pages.actor, methods=["GET"]),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.log_in, methods=["POST"]),
        Route("/logout", pages.log_out, methods=["POST"]),
        Route("/decide", pages.decide, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ])
    app.state.service = service
    return SecurityHeaders(app)
