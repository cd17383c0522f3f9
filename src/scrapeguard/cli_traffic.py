"""CLI commands for labelled traffic and the live engine's inputs: simulate, eval, calibrate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scrapeguard.cli import _fail, app, writable
from scrapeguard.console import output_console
from scrapeguard.errors import ScrapeGuardError


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the traffic into.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same bytes.")]
    = 7,
    hours: Annotated[float | None, typer.Option(
        help="Hours of traffic from 2026-03-02T00:00Z (a Monday); default 24.")] = None,
    days: Annotated[int | None, typer.Option(
        help="Days of traffic instead of --hours: one log over all of them, the same people, "
        "accounts and campaigns from day to day.")] = None,
    scale: Annotated[float, typer.Option(
        help="Multiplies every volume; 1.0 is about two million events a day.")] = 1.0,
    scenario: Annotated[list[str] | None, typer.Option(
        "--scenario", help="Only these scenarios (repeatable); `default`: the day's catalogue "
        "(what a run naming none gets), `all`: every registered one.")] = None,
) -> None:
    """Write labelled synthetic traffic: events.jsonl, access.log and truth.tsv, line-aligned.

    People, good bots and harvesters from the scenario catalogue, deterministic for a seed.
    """
    from scrapeguard.simulate import simulate as run

    try:
        if days is not None and hours is not None:
            raise ValueError("give --days or --hours, not both")
        if days is not None and days < 1:
            raise ValueError(f"--days must be at least 1, not {days}")
        span = 24.0 * days if days is not None else hours if hours is not None else 24.0
        report = run(out, seed=seed, hours=span, scale=scale, scenarios=scenario or None)
    except (ScrapeGuardError, ValueError) as exc:
        raise _fail(exc) from None
    typer.echo("\n".join(report.summary()))


@app.command("eval")
def evaluate_command(
    data: Annotated[Path, typer.Option("--data", help="A `scrapeguard simulate` directory.")],
    decisions: Annotated[Path, typer.Option(
        "--decisions", help="Decisions file to score (scrapeguard's or another tool's).")],
    tool: Annotated[str, typer.Option(help="Name of the scored tool in the table.")]
    = "scrapeguard",
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="Write the scorecards as JSON.", callback=writable)] = None,
    chart: Annotated[Path | None, typer.Option(
        "--chart", help="Write an HTML chart of records leaked over time per scenario.",
        callback=writable)] = None,
    no_baselines: Annotated[bool, typer.Option(
        "--no-baselines", help="Score only the decisions file.")] = False,
) -> None:
    """Score decisions on labelled traffic beside a per-IP rate limit and a crawler UA list."""
    from scrapeguard.scoring import evaluate
    from scrapeguard.scoring.render import render, to_json

    try:
        cards = evaluate(data, decisions, tool=tool, baselines=not no_baselines)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    render(cards, output_console())
    if json_out:
        json_out.write_text(json.dumps(to_json(cards), indent=2, default=str) + "\n")
    if chart:
        from scrapeguard.scoring.chart import write_chart

        write_chart(cards, chart)


@app.command()
def calibrate(
    inputs: Annotated[list[str], typer.Argument(help="Past logs of the site.")],
    out: Annotated[Path, typer.Option(
        "--out", help="Calibration JSON to write.", callback=writable)],
    policy: Annotated[Path | None, typer.Option(help="Rule pack; default: shipped.")] = None,
) -> None:
    """Measure percentile thresholds and personal-data templates on history for the live engine.

    The stream engine cannot see its own future traffic, so relative thresholds (`p99(...)`)
    and inferred routes are fixed from past logs; both engines then use the same numbers.
    """
    from scrapeguard.analysis import analyze
    from scrapeguard.engines.calibration import save_calibration

    try:
        result = analyze(inputs, policy=str(policy) if policy else None)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    save_calibration(result.calibration, out)
    typer.echo(f"wrote {out}: {len(result.calibration.subject_templates)} templates, "
               f"{sum(len(v) for v in result.calibration.percentiles.values())} percentiles")
