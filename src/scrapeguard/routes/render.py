"""The route table for a terminal or a pipe: log text is shown as plain text, never markup."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from scrapeguard.routes.model import LearnedRoute, RouteTable
from scrapeguard.textsafe import text as inert
from scrapeguard.words import plural


def kind_label(route: LearnedRoute) -> str:
    return route.kind or "-"


WIDE = 110
"""Below this many columns the evidence goes under its template instead of a column of its
own, so templates stay readable at 80 columns rather than folding every 16 characters."""


def render_routes(table: RouteTable, console: Console, *, top: int | None = None) -> None:
    """One row per route, most requested first; `top` limits the rows."""
    wide = console.width >= WIDE
    routes = table.routes[:top] if top else table.routes
    out = Table(title=f"Routes ({len(table.routes)}"
                + (f"; top {len(routes)})" if len(routes) < len(table.routes) else ")"),
                box=box.SIMPLE_HEAD, pad_edge=False, expand=False)
    out.add_column("template", overflow="fold", ratio=5)
    out.add_column("class", no_wrap=True)
    out.add_column("kind", no_wrap=True)
    out.add_column("reqs", justify="right", no_wrap=True)
    out.add_column("clients", justify="right", no_wrap=True)
    out.add_column("conf", justify="right", no_wrap=True)
    if wide:
        out.add_column("evidence", overflow="fold", ratio=4)
    for route in routes:
        label = route.template if route.methods == "read" else f"{route.template} ({route.methods})"
        evidence = "; ".join(route.evidence)
        cell = inert(label)
        if not wide:
            cell.append(f"\n  {evidence}", style="dim")
        out.add_row(
            cell,
            Text(route.klass + ("" if not route.declared else " *")),
            Text(kind_label(route)),
            Text(f"{route.requests:,}"),
            Text(f"{route.clients:,}"),
            Text(f"{route.confidence:.2f}"),
            *([Text(evidence)] if wide else []),
        )
    console.print(out)
    console.print(Text("* declared in the policy; everything else is inferred from the log: "
                       "confirm with --write routes.yaml and analyze --policy routes.yaml."))


def assumed_people(table: RouteTable, console: Console) -> None:
    """What `analyze` says first: the routes it assumed carry personal data."""
    inferred = table.inferred_people()
    if not inferred:
        return
    console.print(Text(f"Assumed to carry people's records (inferred, unconfirmed; "
                       f"`scrapeguard routes` to review): {plural(len(inferred), 'route')}"))
    for route in inferred[:10]:
        line = Text("  ")
        line.append_text(inert(route.template))
        line.append(f"  {route.ids:,} ids, confidence {route.confidence:.2f}")
        console.print(line)
    if len(inferred) > 10:
        console.print(Text(f"  … and {len(inferred) - 10} more"))
