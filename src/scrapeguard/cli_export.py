"""CLI commands `export nginx|nftables|crowdsec`: decisions where sites enforce today."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from scrapeguard.cli import _fail, app, err, writable
from scrapeguard.errors import ScrapeGuardError
from scrapeguard.textsafe import labelled, text

export_app = typer.Typer(help="Decisions as an nginx include, an nftables set, or CrowdSec "
                              "decisions, each with its expiry.", no_args_is_help=True)
app.add_typer(export_app, name="export")

Inputs = Annotated[list[Path], typer.Argument(
    help="Decisions files: `analyze --decisions` or `watch --decisions`.")]
PolicyOption = Annotated[Path | None, typer.Option(
    "--policy", help="Rule pack whose decision_ttl dates decisions without expires_ts.")]
MinAction = Annotated[str, typer.Option(
    "--min-action", help="Export decisions of at least this action.")]
Out = Annotated[Path | None, typer.Option("--out", help="File to write; default: stdout.",
                                          callback=writable)]


def _bans(inputs: list[Path], policy: Path | None, min_action: str,
          include_expired: bool = False) -> tuple[list[Any], datetime]:
    from scrapeguard.exports.source import read_bans
    from scrapeguard.policy.load import load_policy
    from scrapeguard.types import ACTIONS

    if min_action not in ACTIONS or min_action == "allow":
        raise _fail(ScrapeGuardError(
            f"--min-action must be one of {', '.join(ACTIONS[1:])}, not {min_action!r}"))
    now = datetime.now(UTC)
    try:
        ttl = load_policy(policy).settings.decision_ttl_seconds()
        bans = read_bans(inputs, ttl, now=now, min_action=min_action,
                         include_expired=include_expired)
        if not bans and not include_expired:
            _say_all_expired(read_bans(inputs, ttl, now=now, min_action=min_action,
                                       include_expired=True))
        return bans, now
    except ScrapeGuardError as exc:
        raise _fail(exc) from None


def _say_all_expired(expired: list[Any]) -> None:
    """Why an export is empty when the files did hold bans: `analyze` dates a decision in
    the log's time, so the decisions of last month's log expired long ago, and an empty
    include with no word looks like a broken export."""
    if not expired:
        return
    last = max(ban.expires for ban in expired)
    err.print(labelled("note:", "yellow", (
        f"nothing to export: all {len(expired):,} bans in the decisions expired, the last at "
        f"{last:%Y-%m-%d %H:%M} UTC (a decision stands for the policy's decision_ttl after "
        f"its first action, in the log's time; see docs/exports.md)")),
        highlight=False, soft_wrap=True)


def _write(content: str, out: Path | None) -> None:
    if out is None:
        typer.echo(content, nl=False)
        return
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(content, encoding="utf-8")
    tmp.replace(out)  # nginx or nft never read half a file


@export_app.command("nginx")
def export_nginx(inputs: Inputs, out: Out = None, policy: PolicyOption = None,
                 min_action: MinAction = "throttle") -> None:
    """A `geo` include mapping each address or network to its action; only standing
    decisions, each with its expiry in a comment (regenerate to drop expired ones)."""
    from scrapeguard.exports import nginx

    bans, now = _bans(inputs, policy, min_action)
    _write(nginx.render(bans, now), out)


@export_app.command("nftables")
def export_nftables(inputs: Inputs, out: Out = None, policy: PolicyOption = None,
                    min_action: MinAction = "block",
                    table: Annotated[str, typer.Option(
                        "--table", help="nftables table name.")] = "scrapeguard") -> None:
    """An `inet` table with address sets whose elements carry their own `timeout`."""
    from scrapeguard.exports import nftables

    if not table.replace("_", "").isalnum():
        raise _fail(ScrapeGuardError(f"--table must be letters, digits and _: {table!r}"))
    bans, now = _bans(inputs, policy, min_action)
    _write(nftables.render(bans, now, table), out)


@export_app.command("crowdsec")
def export_crowdsec(
    inputs: Inputs,
    credentials: Annotated[Path, typer.Option(
        "--credentials", help="A machine's credentials file (url, login, password), as "
        "`cscli machines add NAME --auto -f FILE` writes it.")],
    url: Annotated[str | None, typer.Option(
        "--url", help="Local API address, over the file's url.")] = None,
    policy: PolicyOption = None,
    min_action: MinAction = "throttle",
) -> None:
    """Post decisions to CrowdSec's Local API, so its bouncers enforce them until they
    expire; re-running posts only what CrowdSec does not already hold."""
    from scrapeguard.exports import crowdsec

    bans, now = _bans(inputs, policy, min_action)
    try:
        done = crowdsec.push(bans, crowdsec.Credentials.from_file(credentials, url), now)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    err.print(text(f"crowdsec: {done.pushed} decisions posted, {done.unchanged} already "
                   f"held"), highlight=False, soft_wrap=True)
