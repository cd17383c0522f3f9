"""`trace` output: a terminal table for people, JSON for tools; the same facts in both."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from scrapeguard.canary.trace import Suspect, TraceReport
from scrapeguard.decisions import format_ts
from scrapeguard.textsafe import text

FIELD_NAMES = {"phone": "phone", "id": "id", "comment": "review text", "noise": "other"}


def chance(p: float) -> str:
    """A probability for people: tiny ones in powers of ten, zero as 'below 1e-300'."""
    if p <= 0:
        return "< 1e-300"
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def _ts(value: datetime | None) -> str | None:
    return format_ts(value) if value else None


def _short(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else "?"


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _window(s: Suspect) -> str:
    if s.window_from is None:
        return ""
    return (f" among the {s.tested:,} it was first served between {_short(s.window_from)} and "
            f"{_short(s.window_to)} (of {s.served:,} in all)")


def verdict(report: TraceReport) -> str:
    """One sentence per named actor, then why the search stopped."""
    result = report.attribution
    reasons = [_sentence(r) for r in result.reasons]
    if not result.named:
        return " ".join(["No one is named.", *reasons])
    lines = [f"{s.actor} was served {s.matched} of the {s.dump} canaries "
             f"{'in the dump' if s.round == 1 else 'left after the actors above'}"
             f"{_window(s)}; the chance an innocent actor matches that well is "
             f"{chance(s.p_corrected)}."
             for s in result.named]
    return " ".join(lines + reasons)


def render(report: TraceReport, console: Console) -> None:
    """The terminal report: what was read, what was found, who is named and when."""
    for stats in report.dumps:
        line = (f"Read {stats.path}: {stats.format}"
                f"{f' ({stats.encoding})' if stats.encoding else ''}, {stats.rows:,} rows, "
                f"{stats.fields:,} fields")
        if stats.malformed:
            line += f", {stats.malformed:,} unparsable read as text ({'; '.join(stats.examples)})"
        console.print(text(line), highlight=False)
    found = report.found.by_field()
    strong = ", ".join(f"{FIELD_NAMES.get(k, k)} {v}" for k, v in sorted(found.items())
                       if k not in ("name", "name_only") and v)
    console.print(f"Canaries found: {len(report.found.strong):,} of {report.universe:,}"
                  f"{f' ({strong})' if strong else ''}; names seen {found.get('name', 0)}, "
                  f"alone {found.get('name_only', 0)} (a name alone never counts)",
                  highlight=False)
    result = report.attribution
    if result.unserved:
        console.print(f"[yellow]{result.unserved} found canaries were never recorded as "
                      "served[/]")
    console.print(f"Actors that could be named: {result.family:,}; naming threshold: chance "
                  f"if innocent < {result.threshold:g}", highlight=False)
    rows = [(s, True) for s in result.named] + [(s, False) for s in result.unnamed[:3]]
    if rows:
        table = Table(show_edge=False)
        for column in ("", "actor", "matched", "served"):
            table.add_column(column, no_wrap=True)
        # The long header may wrap over its short values, and the times fold rather than
        # end in "…": at 80 columns (a pipe) they were cut to "2026-12-…".
        table.add_column("chance if innocent", min_width=8)
        table.add_column("served between (UTC)", overflow="fold", min_width=10)
        for suspect, named in rows:
            table.add_row(text("named", "bold red") if named else "not named", text(suspect.actor),
                          f"{suspect.matched}/{suspect.dump}",
                          f"{suspect.tested:,} of {suspect.served:,}" if suspect.window_from
                          else f"{suspect.served:,}",
                          chance(suspect.p_corrected),
                          f"{_short(suspect.first_served)} to {_short(suspect.last_served)}")
        console.print(table)
    console.print(text(verdict(report)), highlight=False)


def _suspect(s: Suspect) -> dict[str, Any]:
    return {"actor": s.actor, "round": s.round, "matched": s.matched, "dump_canaries": s.dump,
            "served": s.served, "p_value": s.p_value, "p_corrected": s.p_corrected,
            "first_served": _ts(s.first_served), "last_served": _ts(s.last_served),
            "tested": s.tested, "window_from": _ts(s.window_from), "window_to": _ts(s.window_to)}


def to_json(report: TraceReport) -> dict[str, Any]:
    """The report as JSON: counts and actor keys, never a canary's values."""
    result = report.attribution
    return {
        "dumps": [{"path": d.path, "format": d.format, "encoding": d.encoding, "rows": d.rows,
                   "fields": d.fields, "malformed": d.malformed, "malformed_examples": d.examples}
                  for d in report.dumps],
        "universe": report.universe,
        "canaries_found": len(report.found.strong),
        "found_by_field": report.found.by_field(),
        "never_served": result.unserved,
        "actors_considered": result.family,
        "threshold": result.threshold,
        "named": [_suspect(s) for s in result.named],
        "not_named": [_suspect(s) for s in result.unnamed],
        "reasons": result.reasons,
        "verdict": verdict(report),
    }
