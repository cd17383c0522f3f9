"""The terminal view of an analysis: who harvested, how much, when we would have acted."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from scrapeguard.analysis import Analysis
from scrapeguard.decisions import Decision, format_ts
from scrapeguard.textsafe import text

REASONS_SHOWN = 5
WIDE = 110
"""Below this many columns (an 80-column terminal, a pipe) each actor gets a few short lines
instead of a row of a seven-column table, which Rich would otherwise fold letter by letter."""

_STYLE = {"block": "bold red", "decoy": "magenta", "challenge": "yellow", "throttle": "cyan"}


def _actor(d: Decision) -> str:
    return d.actor if not d.members else f"{d.actor} ({len(d.members)} members)"


def _table(shown: list[Decision], total: int, console: Console) -> None:
    table = Table(title=f"Actors acted on ({total}; top {len(shown)})")
    table.add_column("actor", overflow="fold")
    table.add_column("action")
    table.add_column("records", justify="right")
    table.add_column("before action", justify="right")
    table.add_column("requests", justify="right")
    table.add_column("first action (UTC)", no_wrap=True)
    table.add_column("rules", overflow="fold")
    for d in shown:
        table.add_row(
            text(_actor(d)),
            text(d.action, _STYLE.get(d.action, "")),
            f"{d.subjects:,}",
            f"{d.subjects_before_action:,}",
            f"{d.requests:,}",
            _when(d),
            text(", ".join(d.rules)),
        )
    console.print(table)


def _blocks(shown: list[Decision], total: int, console: Console) -> None:
    """One actor per paragraph: what it is and did on the first line, when and why below;
    a grid keeps folded lines indented under their actor."""
    console.print(Text(f"Actors acted on ({total}; top {len(shown)}):", style="bold"))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    for rank, d in enumerate(shown, start=1):
        body = text(_actor(d))
        body.append("  ")
        body.append_text(text(d.action, _STYLE.get(d.action, "")))
        body.append(f"  {d.subjects:,} records\n")
        body.append(f"first action {_when(d)} UTC after {d.subjects_before_action:,} records, "
                    f"{d.requests:,} requests\n")
        body.append("rules: ", style="dim")
        body.append_text(text(", ".join(d.rules)))
        grid.add_row(f"{rank}.", body)
    console.print(grid)


def _when(d: Decision) -> str:
    return format_ts(d.first_action_ts).replace("T", " ")[:19]


def render(analysis: Analysis, console: Console, *, top: int = 20) -> None:
    """Input health first (so a bad log is noticed), then the actors, then the totals."""
    console.print(Text(analysis.load.summary()))
    acting = sorted(
        (d for d in analysis.decisions if d.action != "allow"),
        key=lambda d: (-d.subjects, d.actor),
    )
    if not acting:
        console.print("[green]No actor harvested personal data by the rules in force.[/green]")
    elif console.width < WIDE:
        _blocks(acting[:top], len(acting), console)
    else:
        _table(acting[:top], len(acting), console)
    if acting:
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
