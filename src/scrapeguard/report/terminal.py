"""The terminal view of an analysis: who harvested, how much, when we would have acted."""

from __future__ import annotations

from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from scrapeguard.analysis import Analysis
from scrapeguard.decisions import Decision, format_ts
from scrapeguard.report.prose import KIND_WORDS
from scrapeguard.report.rank import by_harm, order_words
from scrapeguard.textsafe import text
from scrapeguard.words import plural

REASONS_SHOWN = 5
WIDE = 110
"""Below this many columns (an 80-column terminal, a pipe) each actor gets a few short lines
instead of a row of a seven-column table, which Rich would otherwise fold letter by letter."""

_STYLE = {"block": "bold red", "decoy": "magenta", "challenge": "yellow", "throttle": "cyan"}


def _actor(d: Decision) -> str:
    """A group actor with its members by kind over the whole log (`31 addresses, 31
    accounts`), which may be more than had joined when it was first acted on."""
    if not d.members:
        return d.actor
    kinds: dict[str, int] = {}
    for member in d.members:
        kind = member.split(":", 1)[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return f"{d.actor} ({', '.join(plural(n, KIND_WORDS.get(k, k)) for k, n in kinds.items())})"


def _heading(shown: list[Decision], total: int) -> str:
    return f"Actors acted on ({total}; top {len(shown)}, {order_words(shown)})"


def _table(shown: list[Decision], total: int, console: Console) -> None:
    table = Table(title=_heading(shown, total))
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
    console.print(Text(_heading(shown, total) + ":", style="bold"))
    grid = Table.grid(padding=(0, 1))
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(overflow="fold")
    for rank, d in enumerate(shown, start=1):
        body = text(_actor(d))
        body.append("  ")
        body.append_text(text(d.action, _STYLE.get(d.action, "")))
        body.append(f"  {plural(d.subjects, 'record')}\n")
        before = plural(d.subjects_before_action, "record")
        body.append(f"first action {_when(d)} UTC after {before}, "
                    f"{plural(d.requests, 'request')}\n")
        body.append("rules: ", style="dim")
        body.append_text(text(", ".join(d.rules)))
        grid.add_row(f"{rank}.", body)
    console.print(grid)


def _when(d: Decision) -> str:
    return format_ts(d.first_action_ts).replace("T", " ")[:19]


def render(analysis: Analysis, console: Console, *, top: int = 20) -> None:
    """Input health first (so a bad log is noticed), then the actors, then the totals."""
    console.print(Text(analysis.load.summary()))
    acting = by_harm(analysis.decisions)
    if not acting:
        console.print("[green]No actor harvested personal data by the rules in force.[/green]")
    elif console.width < WIDE:
        _blocks(acting[:top], len(acting), console)
    else:
        _table(acting[:top], len(acting), console)
    if acting:
        console.print("[b]Why, for the first listed:[/b]")
        for d in acting[:min(top, REASONS_SHOWN)]:
            # Each actor on its line, its reasons indented below: folded at the terminal's
            # width they had run on from column 0, where no actor could be told from another.
            console.print(Padding(text(f"{d.actor}:"), (0, 0, 0, 2), expand=False),
                          highlight=False)
            console.print(Padding(text("; ".join(d.reasons)), (0, 0, 0, 4), expand=False),
                          highlight=False)
    totals = analysis.totals
    console.print(
        f"{plural(totals.get('events', 0), 'request')}, "
        f"{totals.get('subject_requests', 0):,} to personal-data routes, "
        f"{plural(totals.get('distinct_items', 0), 'distinct record')} served to all clients "
        f"together; {plural(totals.get('allowlisted', 0), 'allowlisted request')}."
    )
    if acting:
        console.print(_received(acting))


def _received(acting: list[Decision]) -> str:
    """Each actor's records are distinct for that actor, but not across actors: two
    harvesters walk the same people, and an account is acted on beside its address. So the
    sum can exceed the distinct records served, and says so rather than pass for a union."""
    harvested = sum(d.subjects for d in acting)
    before = sum(d.subjects_before_action for d in acting)
    if not harvested:
        return "No acted-on actor received people's records."
    share = 100.0 * before / harvested
    return (f"Acted-on actors received {plural(harvested, 'record')} summed over actors (a "
            f"record counts once for each actor that received it); live, scrapeguard would "
            f"have stopped them after {plural(before, 'record')} ({share:.1f}%).")
