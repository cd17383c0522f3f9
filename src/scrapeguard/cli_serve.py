"""CLI command `serve`: the decision service for nginx `auth_request` (see docs/service.md)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer

from scrapeguard.cli import _fail, app, err, needs_extra
from scrapeguard.errors import ScrapeGuardError
from scrapeguard.textsafe import labelled, text

if TYPE_CHECKING:
    from scrapeguard.service.config import ServiceConfig


@app.command()
def serve(
    config: Annotated[Path | None, typer.Option(
        "--config", help="YAML file of settings; SCRAPEGUARD_* variables override it.")] = None,
    store: Annotated[str | None, typer.Option(
        "--store", help="State store: memory:// or redis://host:6379/0.")] = None,
    policy: Annotated[str | None, typer.Option(
        "--policy", help="Rule pack; default: the shipped pack.")] = None,
    calibration: Annotated[str | None, typer.Option(
        "--calibration", help="From `scrapeguard calibrate` over past logs (as for watch).")]
    = None,
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
        settings = load_config(config, store=store, policy=policy, calibration=calibration,
                               host=host, port=port, events_udp=events_udp)
        _check_addresses(settings)
        service_app = build_app(settings)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    err.print(text(_started(settings)), highlight=False, soft_wrap=True)
    down = _store_down(service_app)
    if down:
        mode = "let through" if settings.fail_open else "refused as a block"
        err.print(labelled("warning:", "yellow", (
            f"the store does not answer ({down}): until it does, every request is {mode} "
            f"(fail_open) and /healthz answers 503")), highlight=False, soft_wrap=True)
    # proxy_headers off: the service resolves X-Forwarded-For itself, from trusted peers only.
    # uvicorn picks uvloop and httptools (the serve extra installs both) on its own.
    uvicorn.run(decide_first(service_app), host=settings.host, port=settings.port,
                proxy_headers=False, access_log=False, log_level="warning", lifespan="on",
                ws="none")


def _check_addresses(settings: ServiceConfig) -> None:
    """Both addresses the service listens on are free, asked before it starts: a syslog
    port already taken (a second `serve`, the default 7481 in use) ended in uvicorn's
    start-up traceback, and an HTTP port taken in a line that did not name the setting."""
    from scrapeguard.service.syslog import split_address

    wanted = [("--port", socket.SOCK_STREAM, settings.host, settings.port)]
    if settings.events_udp:
        try:
            udp_host, udp_port = split_address(settings.events_udp)
        except ValueError as exc:
            raise ScrapeGuardError(f"--events-udp: {exc}") from None
        wanted.append(("--events-udp", socket.SOCK_DGRAM, udp_host, udp_port))
    for option, kind, host, port in wanted:
        try:
            family = socket.getaddrinfo(host, port, type=kind)[0][0]
            with socket.socket(family, kind) as probe:
                if kind == socket.SOCK_STREAM:  # as uvicorn binds: a TIME_WAIT port is free
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        except OSError as exc:
            proto = "tcp" if kind == socket.SOCK_STREAM else "udp"
            raise ScrapeGuardError(
                f"cannot listen on {proto} {host}:{port} ({option}): "
                f"{exc.strerror or exc}; stop what holds it or choose another port") from None


def _started(settings: ServiceConfig) -> str:
    """The one line `serve` prints at start (uvicorn's own are off): where it listens, where
    its state is, whether nginx's log lines and the admin endpoints are on."""
    store, parts = settings.store, urlsplit(settings.store)
    if parts.password or parts.username:  # never print a Redis password
        store = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    admin = "on" if settings.admin_token else "off (set SCRAPEGUARD_ADMIN_TOKEN)"
    udp = f"udp {settings.events_udp}" if settings.events_udp else "off"
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return (f"scrapeguard serve: http://{host}:{settings.port} (nginx asks "
            f"/v1/decide); store {store}; nginx log lines: {udp}; "
            f"admin endpoints and dashboard: {admin}")


def _store_down(service_app: Any) -> str | None:
    """Why the store did not answer one read, or None: a Redis not started or a wrong port
    was silent until the first request, while every decision fell to the fail mode."""
    try:
        service_app.state.service.engine.store.get_decisions(["health"])
    except Exception as exc:  # whatever the driver raises: said, and serve starts anyway
        return str(exc) or type(exc).__name__
    return None
