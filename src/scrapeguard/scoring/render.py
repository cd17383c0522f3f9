"""Scorecards side by side, as a terminal table and as JSON."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from scrapeguard.scoring.score import ScenarioScore, Scorecard


def _cell(s: ScenarioScore) -> str:
    if s.label == "scraper":
        ttc = "-" if s.median_minutes_to_containment is None else \
            f"{s.median_minutes_to_containment:.0f} min"
        return (f"{s.share_contained:.0%} contained\n{s.leaked:,}/{s.records:,} leaked "
                f"({s.leaked_share:.1%})\nmedian {ttc}")
    return f"{s.share_contained:.2%} affected\n({s.contained_identities}/{s.identities})"


def render(cards: list[Scorecard], console: Console) -> None:
    table = Table(title="Detection on labelled traffic", show_lines=True)
    table.add_column("scenario")
    table.add_column("label")
    for card in cards:
        table.add_column(card.tool)
    by_tool = [{s.scenario: s for s in card.scenarios} for card in cards]
    for scenario in cards[0].scenarios:
        cells = [_cell(t[scenario.scenario]) if scenario.scenario in t else "-" for t in by_tool]
        table.add_row(scenario.scenario, scenario.label, *cells)
    table.add_row("[b]overall[/b]", "",
                  *(f"scraper records leaked {c.scraper_leaked_share:.2%}\n"
                    f"people affected {c.people_affected_share:.3%}\n"
                    f"good bots affected {c.goodbots_affected_share:.1%}" for c in cards))
    console.print(table)
    floor = cards[0].scraper_first_sight_share
    console.print(f"{floor:.2%} of the harvested records reached clients on their first request "
                  "(address, network, account and session all new): a floor under every "
                  "column's leak.")
    stacks = cards[0].scraper_first_sight_stacks_share
    console.print(f"{stacks:.2%} with live client stacks ({floor - stacks:.2%} points lower): of "
                  "those, the records whose header shape or TLS fingerprint contradicted the "
                  "browser claimed are refusable; the same floor when no event carries a "
                  "stack.")


def to_json(cards: list[Scorecard]) -> dict[str, Any]:
    return {"tools": [card.to_json() for card in cards]}
