"""The leak chart of `eval --chart`: records harvested over time per scenario, with and without
scrapeguard — the gap between the lines is what containment saved.

Drawn to SVG on our side with altair and vl-convert (as the report's charts are), so the HTML
opens offline.
"""

from __future__ import annotations

import html
from pathlib import Path

import altair as alt
import vl_convert as vlc

from scrapeguard.scoring.score import Scorecard


def write_chart(cards: list[Scorecard], path: Path) -> None:
    """One small panel per harvester scenario; lines: without any defence, and per tool."""
    points = []
    for card in cards:
        for scenario, series in card.timeline.items():
            for hour, total, leaked in series:
                if card is cards[0]:
                    points.append({"scenario": scenario, "hour": hour, "records": total,
                                   "tool": "no defence"})
                points.append({"scenario": scenario, "hour": hour, "records": leaked,
                               "tool": card.tool})
    chart = alt.Chart({"values": points}).mark_line(interpolate="step-after").encode(
        x=alt.X("hour:T", title="time (UTC)"),
        y=alt.Y("records:Q", title="records harvested so far"),
        color=alt.Color("tool:N", title=None),
    ).properties(width=300, height=160).facet(
        facet=alt.Facet("scenario:N", title=None), columns=3,
    ).resolve_scale(y="independent")
    svg = vlc.vegalite_to_svg(chart.to_json())
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>scrapeguard eval</title>"
        "<style>body{font-family:sans-serif;margin:2em}</style></head><body>"
        "<h1>Records harvested over time</h1><p>Per harvester scenario: what it would have "
        f"taken with no defence, and what it took before each tool contained it.</p>{svg}"
        f"<p>{html.escape(', '.join(c.tool for c in cards))}</p></body></html>"
    )
    path.write_text(page, encoding="utf-8")
