"""CLI command `routes`: what each path template of a site is, before any rule judges anyone."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from scrapeguard.cli import (
    FormatOption,
    LogFormatOption,
    MaxMalformedOption,
    NginxConfOption,
    _chosen_format,
    _fail,
    app,
    err,
    writable,
)
from scrapeguard.console import output_console
from scrapeguard.errors import ScrapeGuardError


@app.command()
def routes(
    inputs: Annotated[list[str], typer.Argument(
        help="Log files, globs, .gz, or - for standard input.")],
    write: Annotated[Path | None, typer.Option(
        "--write", help="Write the table as a policy fragment to confirm and edit, loadable "
                        "by `analyze --policy`.", callback=writable)] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="Rule pack whose declared routes win; default: the shipped pack.")]
    = None,
    fmt: FormatOption = None,
    log_format: LogFormatOption = None,
    nginx_conf: NginxConfOption = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Treat any malformed line as an error.")] = False,
    max_malformed: MaxMalformedOption = "5%",
    top: Annotated[int, typer.Option(help="Rows in the table (0: all).")] = 40,
) -> None:
    """Print each route template's class (page, subresource, api, write, preflight, record),
    record kind (person, item), requests, clients, evidence and confidence."""
    from scrapeguard.routes.fragment import fragment
    from scrapeguard.routes.read import learn_routes
    from scrapeguard.routes.render import render_routes
    from scrapeguard.sources.malformed import parse_share

    try:
        table, load = learn_routes(inputs, policy=str(policy) if policy else None,
                                   fmt=_chosen_format(fmt, log_format, nginx_conf),
                                   strict=strict, max_malformed=parse_share(max_malformed))
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    console = output_console(width=None if sys.stdout.isatty() else 80, highlight=False)
    err.print(load.summary(), highlight=False, markup=False, emoji=False)
    render_routes(table, console, top=top or None)
    if write:
        write.write_text(fragment(table, list(inputs)), encoding="utf-8")
        err.print(f"wrote {write}: confirm or edit it, then `scrapeguard analyze LOG "
                  f"--policy {write}`", highlight=False, markup=False)
