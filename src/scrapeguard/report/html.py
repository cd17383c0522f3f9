"""The report as one self-contained HTML page, and both report files written to disk.

The page carries its styles, its charts (as SVG) and a few lines of script for exporting the
filled-in notification; it loads nothing, so it opens offline and leaks nothing when opened.
Templates are package data under `templates/`, rendered with autoescaping on: actor names,
user agents and paths come from logs an attacker wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapeguard.errors import ScrapeGuardError
from scrapeguard.textsafe import inert_lines, json_text

CHART_ACTORS = 8
"""Actors drawn on the timeline; the JSON has every actor's points."""
PREVENTION_ACTORS = 15
CARD_ACTORS = 40
"""Actors with a detailed card on the page, largest first; the JSON details every actor."""
TABLE_ACTORS = 500
"""Rows of the page's actor table; a big log can have thousands of small decisions."""
LABEL_CHARS = 44


class ReportDependencyError(ScrapeGuardError):
    """The `report` extra is not installed."""


def _imports() -> tuple[Any, Any, Any]:
    try:
        import jinja2
        import markupsafe

        from scrapeguard.report import charts
    except ImportError as exc:
        raise ReportDependencyError(
            f"the HTML report needs {exc.name}: pip install 'scrapeguard[report]'") from None
    return jinja2, markupsafe.Markup, charts


def _label(actor: dict[str, Any]) -> str:
    text = f"{actor['id']} {actor['actor']}"
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def distinct_actors(actors: list[dict[str, Any]], limit: int) -> dict[str, str]:
    """Chart labels of the `limit` largest actors, by id, leaving out an actor whose requests
    are nearly all an already chosen one's (its account beside its address): drawn twice, the
    two lines would hide each other. The chosen label names the ones it stands for."""
    chosen: dict[str, list[str]] = {}
    by_id = {a["id"]: a for a in actors}
    for actor in actors:
        same = [o["id"] for o in actor["related"] if o["id"] in chosen
                and o["shared_requests"] >= 0.9 * max(1, actor["requests"])]
        if same:
            chosen[same[0]].append(actor["id"])
        elif len(chosen) < limit:
            chosen[actor["id"]] = []
    return {i: _label(by_id[i]) + (f" (= {', '.join(also)})" if also else "")
            for i, also in chosen.items()}


def chart_svgs(report: dict[str, Any]) -> dict[str, str]:
    """The page's charts as SVG strings, by name; empty when there is nothing to draw."""
    _, _, charts = _imports()
    actors = report["actors"]
    if not actors:
        return {}
    shown = distinct_actors(actors, CHART_ACTORS)
    points = [{**p, "actor": shown[p["id"]]} for p in report["timeline"]["points"]
              if p["id"] in shown]
    actions = [{"actor": shown[a["id"]], "at": a["first_action_ts"], "action": a["action"]}
               for a in actors if a["id"] in shown]
    out = {"timeline": charts.timeline(points, actions, report["timeline"]["bucket"])}
    ranked = [{"label": _label(a), "before": a["records_before_action"],
               "after": a["records_preventable"]} for a in actors[:PREVENTION_ACTORS]]
    out["prevention"] = charts.prevention(ranked)
    if report["fields"]:
        out["fields"] = charts.fields(report["fields"])
    return out


def render_html(report: dict[str, Any]) -> str:
    """The page for a report built by `impact.build`."""
    jinja2, markup, _ = _imports()
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scrapeguard.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Log text reaches the page in actor names, evidence lines and samples: control
        # characters in it are written as escapes (`\x1b`), as on the terminal, so the
        # file is valid HTML and `cat report.html` drives no terminal. Markup (the SVGs,
        # `tojson`) is ours and passes unchanged.
        finalize=lambda value: value if isinstance(value, markup) or not isinstance(value, str)
        else inert_lines(value),
    )
    env.filters["when"] = _when
    env.filters["short"] = _short
    env.filters["num"] = lambda n: f"{int(n or 0):,}"
    # The SVG is vl-convert's output, text in it escaped by Vega: trusted markup.
    svgs = {name: markup(svg) for name, svg in chart_svgs(report).items()}
    template = env.get_template("report.html.j2")
    return str(template.render(r=report, charts=svgs, chart_actors=CHART_ACTORS,
                               prevention_actors=PREVENTION_ACTORS, card_actors=CARD_ACTORS,
                               table_actors=TABLE_ACTORS))


def _when(text: str | None) -> str:
    from scrapeguard.report.prose import when

    return when(text)


def _short(text: str | None) -> str:
    """`2026-03-02T08:10:40.000Z` → `03-02 08:10:40`, for dense tables headed "UTC"."""
    return text[5:19].replace("T", " ") if text else "-"


def write_reports(report: dict[str, Any], html_path: Path | None, json_path: Path | None) -> None:
    """Write the requested files; the HTML is rendered only when asked for."""
    if json_path is not None:
        # Compact: a big log's report has tens of thousands of timeline points.
        json_path.write_text(json_text(report) + "\n", encoding="utf-8")
    if html_path is not None:
        html_path.write_text(render_html(report), encoding="utf-8")
