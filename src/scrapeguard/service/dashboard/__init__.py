"""The operator's dashboard, mounted at /dashboard by `build_app` (see docs/dashboard.md).

`dashboard` is the mount factory: it imports Jinja2 only when a service mounts it, so the
service runs without the dashboard's extra and says which extra it lacks when asked for it.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from scrapeguard.errors import ScrapeGuardError
from scrapeguard.service.state import Service


def dashboard(service: Service) -> ASGIApp:
    try:
        from scrapeguard.service.dashboard.app import dashboard_app
    except ImportError as exc:
        raise ScrapeGuardError(f"the dashboard needs {exc.name}: pip install "
                               "'scrapeguard[serve]' (or set dashboard: false)") from None
    return dashboard_app(service)
