"""The terminal view of an analysis: who harvested, how much, when we would have acted."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from scrapeguard.analysis import Analysis
from scrapeguard.decisions import format_ts
from scrapeguard.textsafe import text

REASONS_SHOWN = 5

_STYLE = {"block": "bold red", "decoy": "magenta", "challenge": "yellow", "throttle": "cyan"}


def render(analysis: Analysis, console: Console, *, top: int = 20) -> None:
    """Input health first (so a bad log is noticed), then the actors, then the totals."""
    console.print(Text(analysis.load.summary()))
    acting = sorted(
        (d for d in analysis.decisions if d.action != "allow"),
        key=lambda d: (-d.subjects, d.actor),
    )
    if not acting:
        console.print("[green]No actor harvested personal data by the rules in force.[/green]")
    else:
        table = Table(title=f"Actors acted on ({len(acting)}; top {min(top, len(acting))})")
        table.add_column("actor", overflow="fold")
        table.add_column("action")
        table.add_column("records", justify="right")
        table.add_column("before action", justify="right")
        table.add_column("requests", justify="right")
        table.add_column("first action (UTC)", no_wrap=True)
        table.add_column("rules", overflow="fold")
        for d in acting[:top]:
            actor = d.actor if not d.members else f"{d.actor} ({len(d.members)} members)"
            table.add_row(
                text(actor),
                text(d.action, _STYLE.get(d.action, "")),
                f"{d.subjects:,}",
                f"{d.subjects_before_action:,}",
                f"{d.requests:,}",
                format_ts(d.first_action_ts).replace("T", " ")[:19],
                text(", ".join(d.rules)),
            )
        console.print(table)
        console.print("[b]Why, for the largest:[/b]")
        for d in acting[:REASONS_SHOWN]:
            console.print(text(f"  {d.actor}: " + "; ".join(d.reasons)), highlight=False)
    totals = analysis.totals
    harvested = sum(d.subjects for d in acting)
    before = sum(d.subjects_before_action for d in acting)
    console.print(
        f"{totals.get('events', 0):,} requests, {totals.get('subject_requests', 0):,} to "
        f"personal-data routes, {totals.get('distinct_items', 0):,} distinct records served; "
        f"{totals.get('allowlisted', 0):,} allowlisted requests."
    )
    if acting:
        share = 100.0 * before / harvested if harvested else 0.0
        console.print(
            f"Acted-on actors received {harvested:,} records; live, scrapeguard would have "
            f"stopped them after {before:,} ({share:.1f}%)."
        )
