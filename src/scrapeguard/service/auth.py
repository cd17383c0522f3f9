"""Bearer tokens for the admin and ingest endpoints, compared in constant time.

An endpoint whose token is not configured refuses everyone: an admin API left open by
omission is worse than one that has to be switched on.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse

from scrapeguard.service.state import Service


def refused(request: Request, token: str | None, setting: str) -> JSONResponse | None:
    """None when the request carries `token`; else the response that refuses it."""
    service: Service = request.app.state.service
    if not token:
        service.metrics.admin_refused.inc()
        return JSONResponse({"error": f"disabled: set {setting} to use this endpoint"},
                            status_code=403)
    # Starlette decodes header bytes as latin-1: encoding back gives the bytes as sent.
    given = request.headers.get("authorization", "").encode("latin-1")
    if not hmac.compare_digest(given, f"Bearer {token}".encode()):
        service.metrics.admin_refused.inc()
        return JSONResponse({"error": "a valid bearer token is required"}, status_code=401,
                            headers={"www-authenticate": "Bearer"})
    return None


def admin_refused(request: Request) -> JSONResponse | None:
    service: Service = request.app.state.service
    return refused(request, service.config.admin_token, "SCRAPEGUARD_ADMIN_TOKEN")


def ingest_refused(request: Request) -> JSONResponse | None:
    config = request.app.state.service.config
    return refused(request, config.ingest_token or config.admin_token,
                   "SCRAPEGUARD_INGEST_TOKEN (or SCRAPEGUARD_ADMIN_TOKEN)")
