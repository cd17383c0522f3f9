"""CLI command `serve`: the decision service for nginx `auth_request` (see docs/service.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scrapeguard.cli import _fail, app, needs_extra
from scrapeguard.errors import ScrapeGuardError


@app.command()
def serve(
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML file of settings; SCRAPEGUARD_* variables override it.")] = None,
    store: Annotated[str | None, typer.Option(
        "--store", help="State store: memory:// or redis://host:6379/0.")] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", help="Rule pack; default: the shipped pack.")] = None,
    host: Annotated[str | None, typer.Option(
        "--host", help="Address to listen on (default 127.0.0.1: keep it private).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="HTTP port (default 7480).")]
    = None,
    events_udp: Annotated[str | None, typer.Option(
        "--events-udp", help="host:port for nginx's syslog log lines ('' to disable).")]
    = None,
) -> None:
    """Run the decision service: /v1/decide for nginx auth_request, event ingest, decisions,
    actors, /metrics and /healthz."""
    with needs_extra("serve", "serve"):
        import uvicorn

        from scrapeguard.service import build_app, load_config
        from scrapeguard.service.app import decide_first

    try:
        settings = load_config(config, store=store, policy=policy, host=host, port=port,
                               events_udp=events_udp)
        service_app = build_app(settings)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    # proxy_headers off: the service resolves X-Forwarded-For itself, from trusted peers only.
    # uvicorn picks uvloop and httptools (the serve extra installs both) on its own.
    uvicorn.run(decide_first(service_app), host=settings.host, port=settings.port,
                proxy_headers=False, access_log=False, log_level="warning", lifespan="on",
                ws="none")
