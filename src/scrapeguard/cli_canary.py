"""CLI commands for canaries: `canary mint`, `canary info`, `canary drill`, and `trace`.

A thin layer over `scrapeguard.canary`: library errors become exit code 2 with one line.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from scrapeguard.cli import _fail, app, writable
from scrapeguard.console import output_console
from scrapeguard.errors import ScrapeGuardError

canary_app = typer.Typer(help="Plant canary records: synthetic people served per actor.",
                         no_args_is_help=True)
app.add_typer(canary_app, name="canary")


@canary_app.command("mint")
def mint_command(
    out: Annotated[Path, typer.Option("--out", help="The canary db to write (SQLite).")],
    id_range: Annotated[str, typer.Option(
        "--id-range", help="Canary ids: a block of the site's id space no real user has, "
        "e.g. 900000000-999999999.")],
    phone_range: Annotated[list[str] | None, typer.Option(
        "--phone-range", help="Numbers you control or know to be unassigned, e.g. "
        "'+86 170 0000 0000-+86 170 0099 9999' (repeatable); served in this layout.")] = None,
    no_phone: Annotated[bool, typer.Option(
        "--no-phone", help="Mint canaries without phone numbers.")] = False,
    count: Annotated[int | None, typer.Option(
        help="How many canaries (N); default: sized from --exposure, else 10,000.")] = None,
    exposure: Annotated[int | None, typer.Option(
        help="The most records you expect one actor (a harvester) to receive; sizes the "
        "book so that actor's canaries stay a tenth of it.")] = None,
    locale: Annotated[str, typer.Option(help="Faker locale for names and review text.")]
    = "zh_CN",
    id_format: Annotated[str, typer.Option(
        "--id-format", help="How an id is written, with {n} for the number: '{n}', 'u{n}'.")]
    = "{n}",
    per_actor: Annotated[int, typer.Option(
        help="The window of its ordering an actor draws from at a time; its set grows past "
        "it as it reads more.")] = 500,
    sentences: Annotated[int, typer.Option(help="Sentences of review text per canary.")] = 2,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing db (its serving log is lost).")] = False,
) -> None:
    """Mint synthetic people that look real to a scraper, derived from a new secret key.

    The key is stored in the db (owner-only permissions) unless SCRAPEGUARD_CANARY_KEY
    supplies it. No offline list of unassigned phone numbers exists: name ranges you hold.
    """
    from scrapeguard.canary import MintSpec, mint
    from scrapeguard.canary.assign import book_size_for
    from scrapeguard.canary.ranges import IdSpace, PhoneRange

    try:
        if exposure is not None and exposure < 1:
            raise ScrapeGuardError(f"--exposure must be at least 1 record, not {exposure}")
        needed = book_size_for(exposure) if exposure else None
        if count is not None and needed and count < needed:
            typer.echo(f"warning: --count {count:,} is smaller than the {needed:,} an exposure "
                       f"of {exposure:,} records calls for: the most-exposed actor's canaries "
                       "will be a larger share of the book, weaker evidence", err=True)
        count = count or needed or 10_000
        if not phone_range and not no_phone:
            raise ScrapeGuardError(
                "give --phone-range with numbers you control or know to be unassigned (a "
                "made-up number may be someone's, who would get the harvester's calls; no "
                "offline list of unassigned numbers exists), or --no-phone")
        spec = MintSpec(count=count, locale=locale, ids=IdSpace.parse(id_range, id_format),
                        phone_ranges=tuple(PhoneRange.parse(r, locale) for r in phone_range or ()),
                        per_actor=per_actor, sentences=sentences)
        minted = mint(out, spec, force=force)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    typer.echo(f"wrote {out}: {minted} canaries ({locale}); keep it private, it holds the key")


@canary_app.command("info")
def info_command(
    canaries: Annotated[Path, typer.Argument(help="A canary db.")],
    servings: Annotated[str | None, typer.Option(
        help="Serving log URI; default: the db itself.")] = None,
) -> None:
    """Describe a canary db and its serving log, without printing any canary."""
    from scrapeguard.canary import CanaryBook

    try:
        with CanaryBook(canaries, servings=servings) as book:
            meta = {k: v for k, v in book.meta.items() if k not in ("key", "key_check")}
            meta["key"] = "stored in the db" if "key" in book.meta else "from the environment"
            meta["actors_served"] = book.servings.actor_count()
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    for key, value in meta.items():
        typer.echo(f"{key}: {value}")


@canary_app.command("drill")
def drill_command(
    trials: Annotated[int, typer.Option(help="Leaks traced per dump size.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the book, audience and leaks.")] = 7,
    count: Annotated[int | None, typer.Option(
        help="Canaries in the scratch book; default: sized from the harvester's exposure, as "
        "`mint --exposure` does.")] = None,
    innocent: Annotated[int, typer.Option(
        help="Also trace this many dumps no actor should be named for.")] = 0,
) -> None:
    """Measure the smallest leak that names its harvester 99% of the time, on a simulation.

    A scratch book and a simulated audience (people, decoyed actors, other harvesters) are
    served through the real injector; leaks of account:harvester7's harvest of every size in
    the sweep, among ten times as many other people, are traced as `trace` does.
    """
    from scrapeguard.canary.drill import (
        Drill,
        DrillSpec,
        innocent_dumps,
        scratch_book,
        smallest_reliable,
    )

    console = output_console()
    with tempfile.TemporaryDirectory() as scratch:
        try:
            book = scratch_book(Path(scratch), count=count, seed=seed)
        except ScrapeGuardError as exc:
            raise _fail(exc) from None
        with book:
            drill = Drill(book, DrillSpec(seed=seed))
            rows = drill.sweep(trials=trials)
            table = Table("records of the harvester in the dump", "named", "false names",
                          show_edge=False)
            for row in rows:
                table.add_row(f"{row.size:,}", f"{row.named}/{row.trials}", str(row.false_names))
            console.print(table)
            console.print(f"smallest reliable dump (99%): {smallest_reliable(rows)} records")
            if innocent:
                result = innocent_dumps(drill, innocent, seed=seed)
                console.print(f"innocent dumps: {result.dumps:,}, false names: "
                              f"{result.false_names} (expected at most "
                              f"{result.rounds * 1e-6:.3f}: {result.rounds:,} rounds at 1e-6)")


@app.command("trace")
def trace_command(
    dumps: Annotated[list[Path], typer.Argument(
        help="Leaked files (CSV, JSON, JSON lines, SQL, xlsx, text, .gz), read as one dump.")],
    canaries: Annotated[Path, typer.Option("--canaries", help="The canary db.")],
    servings: Annotated[str | None, typer.Option(
        help="Serving log URI (sqlite:///path, redis://host:6379/0); default: the db.")] = None,
    fmt: Annotated[str | None, typer.Option(
        "--format", help="csv, json, jsonl, sql, xlsx or text; default: detected.")] = None,
    threshold: Annotated[float, typer.Option(
        help="Name an actor only when the chance that an innocent one matches as well "
        "(corrected for the number of actors) is below this.")] = 1e-6,
    json_out: Annotated[str | None, typer.Option(
        "--json", help="Write the report as JSON to this file ('-' for standard output).",
        callback=writable)]
    = None,
) -> None:
    """Find canaries in a leaked dump and name the actor they were served to, if the evidence
    is strong enough; otherwise say why no one is named."""
    from scrapeguard.canary import CanaryBook, trace
    from scrapeguard.canary.render import render, to_json

    if not 0 < threshold < 1:
        raise _fail(ScrapeGuardError(f"--threshold must be between 0 and 1, not {threshold}"))
    try:
        with CanaryBook(canaries, servings=servings) as book:
            report = trace(book, dumps, fmt=fmt, threshold=threshold)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    if json_out == "-":
        sys.stdout.write(json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n")
        return
    render(report, output_console())
    if json_out:
        Path(json_out).write_text(json.dumps(to_json(report), indent=2, ensure_ascii=False)
                                  + "\n", encoding="utf-8")
