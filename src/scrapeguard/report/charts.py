"""The report's charts: Vega-Lite specs built with altair, drawn to SVG by vl-convert.

Drawn on our side rather than in the reader's browser, so the report is one file that opens
offline, in a mail client that blocks scripts, or printed for a regulator's file; there is no
JavaScript library to inline and nothing to fetch. Each mark keeps its values as a `<title>`,
so hovering still tells the figure.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

import altair as alt
import vl_convert as vlc

from scrapeguard.textsafe import inert

WIDTH = 800
FONT = "DejaVu Sans, Segoe UI, Helvetica, Arial, sans-serif"
BEFORE_COLOUR = "#b42318"
AFTER_COLOUR = "#98a2b3"
PALETTE = ["#1f6feb", "#d97706", "#7c3aed", "#059669", "#db2777", "#0891b2", "#65a30d",
           "#9f1239", "#4b5563", "#b45309"]

_SYMBOL = re.compile(r'<(path|rect|circle|line|text)( aria-label="([^"]*)"[^>]*?)/>')


def _config(chart: Any) -> Any:
    return chart.configure(font=FONT, background="white").configure_axis(
        labelFontSize=11, titleFontSize=12, labelColor="#344054", titleColor="#344054",
        gridColor="#eaecf0", domainColor="#98a2b3",
    ).configure_legend(labelFontSize=11, titleFontSize=12, labelLimit=320,
                       orient="bottom", columns=2).configure_view(stroke=None)


def timeline(points: Sequence[dict[str, Any]], actions: Sequence[dict[str, Any]],
             bucket_label: str) -> str:
    """Records received so far (top) and requests per bucket (bottom), one colour per actor,
    with a dashed rule where scrapeguard would first have acted on each."""
    labels = list(dict.fromkeys([a["actor"] for a in actions] + [p["actor"] for p in points]))
    colour = alt.Color("actor:N", title="actor", sort=labels,
                       scale=alt.Scale(domain=labels, range=PALETTE[: max(1, len(labels))]))
    x = alt.X("start:T", title="time (UTC)", scale=alt.Scale(type="utc"),
              axis=alt.Axis(format="%b %d %H:%M", labelAngle=0, tickCount=8))
    base = alt.Chart({"values": list(points)})
    records = base.mark_line(interpolate="step-after", strokeWidth=2, aria=False).encode(
        x=x, y=alt.Y("records_total:Q", title="records received so far"), color=colour)
    dots = base.mark_point(size=18, filled=True, opacity=0.7).encode(
        x=x, y="records_total:Q", color=colour,
        tooltip=[alt.Tooltip("actor:N"), alt.Tooltip("start:T", format="%Y-%m-%d %H:%M UTC"),
                 alt.Tooltip("records:Q", title="new records"),
                 alt.Tooltip("records_total:Q", title="records so far")])
    rules = alt.Chart({"values": list(actions)}).mark_rule(
        strokeDash=[5, 4], strokeWidth=1.5).encode(
        x=alt.X("at:T", scale=alt.Scale(type="utc")), color=colour,
        tooltip=[alt.Tooltip("actor:N"), alt.Tooltip("action:N", title="first action"),
                 alt.Tooltip("at:T", format="%Y-%m-%d %H:%M:%S UTC", title="at")])
    top = alt.layer(records, dots, rules).properties(
        width=WIDTH, height=240, title="Records received (dashed: first action)")
    bars = base.mark_bar(opacity=0.85).encode(
        x=x, y=alt.Y("requests:Q", title=f"requests per {bucket_label}", stack=True),
        color=colour,
        tooltip=[alt.Tooltip("actor:N"), alt.Tooltip("start:T", format="%Y-%m-%d %H:%M UTC"),
                 alt.Tooltip("requests:Q")])
    bottom = bars.properties(width=WIDTH, height=110, title=f"Requests per {bucket_label}")
    both = alt.vconcat(top, bottom, spacing=18).resolve_scale(x="shared")
    return to_svg(_config(both), "timeline")


def prevention(actors: Sequence[dict[str, Any]]) -> str:
    """Per actor: records received before its first action (taken) and after (preventable)."""
    rows: list[dict[str, Any]] = []
    for a in actors:
        rows.append({"actor": a["label"], "part": "before first action", "records": a["before"],
                     "order": 0})
        rows.append({"actor": a["label"], "part": "after: preventable", "records": a["after"],
                     "order": 1})
    order = [a["label"] for a in actors]
    chart = alt.Chart({"values": rows}).mark_bar(height=14).encode(
        y=alt.Y("actor:N", sort=order, title=None, axis=alt.Axis(labelLimit=320)),
        x=alt.X("records:Q", title="records", stack=True),
        color=alt.Color("part:N", title=None, sort=["before first action", "after: preventable"],
                        scale=alt.Scale(domain=["before first action", "after: preventable"],
                                        range=[BEFORE_COLOUR, AFTER_COLOUR])),
        order=alt.Order("order:Q"),
        tooltip=[alt.Tooltip("actor:N"), alt.Tooltip("part:N"), alt.Tooltip("records:Q")],
    ).properties(width=WIDTH - 240, height=alt.Step(22))
    return to_svg(_config(chart), "prevention")


def fields(rows: Sequence[dict[str, Any]]) -> str:
    """Records by kind of personal data."""
    order = [r["field"] for r in rows]
    chart = alt.Chart({"values": list(rows)}).mark_bar(height=16, color="#1f6feb").encode(
        y=alt.Y("field:N", sort=order, title=None),
        x=alt.X("records:Q", title="records"),
        tooltip=[alt.Tooltip("field:N"), alt.Tooltip("records:Q")],
    ).properties(width=WIDTH - 240, height=alt.Step(24))
    return to_svg(_config(chart), "fields")


def to_svg(chart: Any, prefix: str) -> str:
    """Render to SVG; ids get `prefix` so several charts can share one page."""
    svg = vlc.vegalite_to_svg(_inert_spec(chart.to_dict()))
    svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}-\1"', svg)
    svg = svg.replace("url(#", f"url(#{prefix}-")
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{prefix} chart" ', 1)
    return _SYMBOL.sub(_titled, svg)


def _inert_spec(spec: Any) -> Any:
    """The spec with every text made inert (`textsafe.inert`): an actor named from a log
    (`account:\x1b[31m…`) is a chart label, and vl-convert's text measuring panics on a
    C0 control character, aborting the whole process (exit 134) where Python cannot catch
    it. Our own titles and formats hold no control characters, so only log text changes."""
    if isinstance(spec, str):
        return inert(spec)
    if isinstance(spec, dict):
        return {key: _inert_spec(value) for key, value in spec.items()}
    if isinstance(spec, list):
        return [_inert_spec(value) for value in spec]
    return spec


def _titled(match: re.Match[str]) -> str:
    tag, attributes, label = match.group(1), match.group(2), match.group(3)
    return f"<{tag}{attributes}><title>{html.escape(html.unescape(label))}</title></{tag}>"
