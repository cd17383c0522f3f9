"""The `scrapeguard` command: a thin layer that turns library results into output and exit codes.

Exit codes: 0 done, 2 bad input (policy, files, arguments), 3 `--fail-on` matched a decision,
141 the reader of the output stopped early (`| head`).
"""

from __future__ import annotations

import inspect
import json
import os
import select
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from scrapeguard import __version__
from scrapeguard.console import output_console
from scrapeguard.errors import PolicyError, ScrapeGuardError
from scrapeguard.textsafe import inert, inert_lines, labelled, labelled_lines, text
from scrapeguard.types import ACTIONS, Action, action_rank
from scrapeguard.words import plural

app = typer.Typer(
    name="scrapeguard",
    help="Measure, stop and prove the bulk harvesting of personal data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(help="Check and inspect rule packs.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
report_app = typer.Typer(help="Breach-impact outputs that re-read the logs.", no_args_is_help=True)
app.add_typer(report_app, name="report")

EXIT_BAD_INPUT = 2
EXIT_FAIL_ON = 3
EXIT_PIPE_CLOSED = 141
"""128 + SIGPIPE: the reader of the output went away (`| head`), what a shell reports for `cat`."""

err = Console(stderr=True)

_Out = TypeVar("_Out", bound=Path | str | None)


def _fail(exc: Exception) -> typer.Exit:
    """Print a library error (its own line breaks kept, log text in it escaped) and return the
    exit for bad input; every command module reports errors through this one function. A
    policy's issues are already `file:line:column: error: ...`, one a line, as compilers
    write them: no second label."""
    if isinstance(exc, PolicyError):
        err.print(Text(inert_lines(exc)), highlight=False, soft_wrap=True)
    else:
        err.print(labelled_lines("error:", "bold red", exc), highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_INPUT)


@contextmanager
def needs_extra(feature: str, extra: str) -> Iterator[None]:
    """Turn a third-party module missing in the block into the one-line error naming the
    extra that installs it (exit 2), as `--asn-db` does, instead of a traceback; a missing
    module of scrapeguard itself is a bug and still raises."""
    try:
        yield
    except ImportError as exc:
        if exc.name is None or exc.name.split(".")[0] == "scrapeguard":
            raise
        raise _fail(ScrapeGuardError(
            f"{feature} needs {exc.name.split('.')[0]}, which is not installed: "
            f"pip install 'scrapeguard[{extra}]'")) from None


@app.callback(invoke_without_command=True)
def main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """scrapeguard counts what each actor received, not just requests per address."""
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def writable(value: _Out) -> _Out:
    """Typer callback of every option that names a file to write: its directory must exist
    and take files, checked before any work, so a typo in `--decisions` ends in a usage
    error at once instead of a traceback after the whole analysis. `-` is standard output."""
    if value is None or str(value) == "-":
        return value
    path = Path(str(value))
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a directory; name a file in it")
    folder = path.parent
    if not folder.is_dir():
        raise typer.BadParameter(f"directory {folder} does not exist: create it "
                                 f"(mkdir -p {folder}) or name a file elsewhere")
    if not os.access(folder, os.W_OK):
        raise typer.BadParameter(f"directory {folder} is not writable by this user")
    return value


PolicyOption = Annotated[Path | None, typer.Option(
    "--policy", help="Rule pack (YAML); default: the shipped pack.")]
FormatOption = Annotated[str | None, typer.Option(
    "--format", help="Log format; default: detected from the first lines.")]
LogFormatOption = Annotated[str | None, typer.Option(
    "--log-format", help="The server's nginx log_format string, or its name in --nginx-conf.")]
NginxConfOption = Annotated[Path | None, typer.Option(
    "--nginx-conf", help="nginx configuration to read the log_format from.")]
AsnDbOption = Annotated[Path | None, typer.Option(
    "--asn-db", help="MaxMind-format ASN database (GeoLite2-ASN or compatible) for the asn: and "
    "prefix: keys; default: the policy's networks.asn_db, else SCRAPEGUARD_ASN_DB.")]
HostingOption = Annotated[list[Path] | None, typer.Option(
    "--hosting", help="File of hosting networks, one CIDR a line (repeatable); default: the "
    "policy's networks.hosting, else SCRAPEGUARD_HOSTING.")]
MaxMalformedOption = Annotated[str, typer.Option(
    "--max-malformed", help="Fail on a file with a larger share of malformed lines "
    "(0.05 or 5%; 100% turns the check off).")]
"""Options every command that reads logs takes, spelled once."""


def with_networks(policy: Any, asn_db: Path | None, hosting: list[Path] | None) -> Any:
    """The policy with `--asn-db` / `--hosting` in its `networks`, the files opened now: a
    missing or corrupt one stops the command before any log is read (`netinfo.py`)."""
    from scrapeguard.netinfo import for_policy

    update: dict[str, Any] = {}
    if asn_db is not None:
        update["asn_db"] = str(asn_db)
    if hosting:
        update["hosting"] = [str(p) for p in hosting]
    if update:
        policy = policy.model_copy(
            update={"networks": policy.networks.model_copy(update=update)})
    for_policy(policy)
    return policy


@app.command()
def analyze(
    inputs: Annotated[list[str], typer.Argument(
        help="Log files, globs, .gz, or - for standard input.")],
    decisions: Annotated[Path | None, typer.Option(
        "--decisions", help="Write one JSON decision per acted-on actor to this file.",
        callback=writable)] = None,
    summary_json: Annotated[Path | None, typer.Option(
        "--summary-json", help="Write the summary (counts, top actors) as JSON.",
        callback=writable)] = None,
    policy: PolicyOption = None,
    fmt: FormatOption = None,
    log_format: LogFormatOption = None,
    nginx_conf: NginxConfOption = None,
    asn_db: AsnDbOption = None,
    hosting: HostingOption = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Treat any malformed line as an error.")] = False,
    max_malformed: MaxMalformedOption = "5%",
    fail_on: Annotated[str | None, typer.Option(
        "--fail-on", help=f"Exit 3 if any decision is at least this action ({', '.join(ACTIONS)}).",
    )] = None,
    top: Annotated[int, typer.Option(help="Rows in the terminal table.")] = 20,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No progress bar or table.")] = False,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Write the breach-impact report as one self-contained HTML file.",
        callback=writable)]
    = None,
    report_json: Annotated[Path | None, typer.Option(
        "--report-json", help="Write the breach-impact report as JSON (see docs/report.md).",
        callback=writable)]
    = None,
    unredacted: Annotated[bool, typer.Option(
        "--unredacted", help="Quote log lines in the report unmasked: contains personal data.")]
    = False,
    since: Annotated[str | None, typer.Option(
        "--since", help="Only events from this time: ISO 8601 (UTC unless an offset is "
        "given) or a duration back from now (2h, 7d).")] = None,
    until: Annotated[str | None, typer.Option(
        "--until", help="Only events before this time; same forms as --since.")] = None,
    engine: Annotated[str, typer.Option(
        "--engine", help="duckdb (this machine) or spark (local mode, or the cluster of "
        "spark-submit; see docs/scale.md).")] = "duckdb",
) -> None:
    """Reconstruct a harvest from access logs: who received how many people's records, when
    a rule would first have acted, and why."""
    from scrapeguard.analysis import analyze as run_analysis
    from scrapeguard.decisions import write_decisions
    from scrapeguard.errors import SourceError
    from scrapeguard.policy.load import load_policy
    from scrapeguard.report.summary import summary
    from scrapeguard.report.terminal import render
    from scrapeguard.routes.render import assumed_people
    from scrapeguard.sources.malformed import parse_share
    from scrapeguard.timebounds import parse_bound

    threshold = _action_option(fail_on)
    console = output_console(stderr=quiet)
    wants_report = report is not None or report_json is not None
    try:
        chosen = _chosen_format(fmt, log_format, nginx_conf)
        share = parse_share(max_malformed)
        window = {name: parse_bound(f"--{name}", value)
                  for name, value in (("since", since), ("until", until)) if value}
        loaded = with_networks(load_policy(policy), asn_db, hosting)
        if engine not in ("duckdb", "spark"):
            raise SourceError(f"--engine: {engine!r} is neither duckdb nor spark")
        runner: Callable[..., Any] = run_analysis
        if engine == "spark":
            from scrapeguard.engines.spark.parse import check_supported

            # What Spark cannot do is said whether or not pyspark is installed.
            if wants_report:
                raise SourceError("--report/--report-json read the DuckDB tables of the "
                                  "run: use --engine duckdb for the report")
            check_supported(inputs, chosen, loaded.trusted_proxies)
            with needs_extra("--engine spark", "spark"):
                from scrapeguard.engines.spark.analysis import analyze_spark
            runner = analyze_spark
        with _progress(disabled=quiet) as callback:
            result = runner(
                inputs,
                policy=loaded,
                fmt=chosen,
                strict=strict,
                max_malformed=share,
                progress=callback,
                **({"keep_connection": wants_report} if engine == "duckdb" else {}),
                since=window.get("since"),
                until=window.get("until"),
            )
        if wants_report:
            _write_report(result, loaded, report, report_json, unredacted)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    written = [f"{path}: the breach-impact report ({kind})"
               for path, kind in ((report, "HTML"), (report_json, "JSON")) if path]
    if decisions:
        with decisions.open("w", encoding="utf-8") as out:
            count = write_decisions(result.decisions, out)
        written.append(f"{decisions}: {plural(count, 'decision')}, one JSON object a line")
    if summary_json:
        summary_json.write_text(json.dumps(summary(result), indent=2, default=str) + "\n")
        written.append(f"{summary_json}: the summary (JSON)")
    if not quiet:
        assumed_people(result.enrich.routes, console)
        render(result, console, top=top)
        for line in written:  # last, so they are not lost above the table
            err.print(text(f"wrote {line}"), highlight=False, soft_wrap=True)
    if threshold is not None and any(
        action_rank(d.action) >= action_rank(threshold) for d in result.decisions
    ):
        raise typer.Exit(EXIT_FAIL_ON)


def _chosen_format(fmt: str | None, log_format: str | None, conf: Path | None) -> Any:
    """A registered format's name, an nginx log_format made into a format, or None."""
    from scrapeguard.errors import SourceError
    from scrapeguard.sources.nginx import log_format_from_conf, nginx_format

    if log_format is None and conf is None:
        return fmt
    if fmt is not None:
        raise SourceError("give either --format or --log-format/--nginx-conf, not both")
    if conf is not None:
        log_format = log_format_from_conf(conf, log_format)
    assert log_format is not None
    return nginx_format(log_format)


def _write_report(result: Any, policy: Any, html: Path | None, data: Path | None,
                  unredacted: bool) -> None:
    """The breach-impact report files, then the analysis connection is let go."""
    from scrapeguard.report.html import write_reports
    from scrapeguard.report.impact import build

    try:
        write_reports(build(result, policy, unredacted=unredacted), html, data)
    finally:
        result.connection.close()
    if unredacted:
        err.print(labelled("warning:", "yellow",
                           "the report is unredacted: it contains personal data."))


@report_app.command("affected")
def report_affected(
    inputs: Annotated[list[str], typer.Argument(
        help="The same logs the decisions came from: files, globs, .gz, or -.")],
    decisions: Annotated[Path, typer.Option(
        "--decisions", help="Decisions file from `analyze --decisions`; acting actors listed.")],
    out: Annotated[Path, typer.Option(
        "--out", help="CSV to write: actor, subject, first_received (UTC), fields.",
        callback=writable)],
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="Rule pack the decisions were made with; default: the shipped pack.")]
    = None,
    fmt: FormatOption = None,
    log_format: LogFormatOption = None,
    nginx_conf: NginxConfOption = None,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Treat any malformed line as an error.")] = False,
) -> None:
    """List the people (subject ids) each acted-on actor received, re-read from the logs.

    The output is personal data: it is made only on this explicit request."""
    from scrapeguard.report.affected import WARNING, write_affected

    try:
        with _progress(disabled=False) as callback:
            done = write_affected(inputs, decisions, out, policy=str(policy) if policy else None,
                                  fmt=_chosen_format(fmt, log_format, nginx_conf),
                                  strict=strict, progress=callback)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    err.print(labelled("warning:", "yellow", WARNING.format(out=out)), highlight=False)
    err.print(text(f"{done.rows:,} rows: {done.people:,} subjects received by {done.actors:,} "
                   f"acting actors, written to {out}."), highlight=False)


@policy_app.command("check")
def policy_check(
    files: Annotated[list[Path], typer.Argument(help="Policy files to check.")],
) -> None:
    """Report every error and warning in rule packs at once, with file, line and column."""
    from scrapeguard.policy.load import check_policy

    failed = False
    for file in files:
        issues = check_policy(file)
        for issue in issues:
            colour = "red" if issue.severity == "error" else "yellow"
            typer.echo(typer.style(inert(str(issue)), fg=colour))
        errors = sum(1 for i in issues if i.severity == "error")
        warnings = len(issues) - errors
        typer.echo(f"{file}: {plural(errors, 'error')}, {plural(warnings, 'warning')}")
        failed = failed or errors > 0
    if failed:
        raise typer.Exit(EXIT_BAD_INPUT)


@policy_app.command("show")
def policy_show(
    policy: Annotated[Path | None, typer.Argument(help="Policy file; default: shipped pack.")]
    = None,
) -> None:
    """Print the effective rule pack (after `extends: default` is merged) as JSON."""
    from scrapeguard.policy.load import load_policy

    try:
        loaded = load_policy(policy)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(loaded.model_dump(mode="json"), indent=2))


def _action_option(value: str | None) -> Action | None:
    if value is None:
        return None
    for action in ACTIONS:
        if action == value:
            return action
    err.print(labelled("error:", "bold red",
                       f"--fail-on must be one of {', '.join(ACTIONS)}"), highlight=False)
    raise typer.Exit(EXIT_BAD_INPUT)


class _progress:
    """A rich progress bar fed by the library's (stage, done, total) callback."""

    def __init__(self, disabled: bool) -> None:
        self.disabled = disabled or not sys.stderr.isatty()
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), _Amount(),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Callable[[str, int, int], None] | None:
        if self.disabled:
            return None
        self.bar.start()
        return self.update

    def __exit__(self, *exc: object) -> None:
        if not self.disabled:
            self.bar.stop()

    def update(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            label = "reading logs" if stage == "read" else "analysing"
            self.tasks[stage] = self.bar.add_task(label, total=total or None,
                                                  in_bytes=stage == "read")
        self.bar.update(self.tasks[stage], completed=done, total=total or None)


class _Amount(ProgressColumn):
    """How far a stage is, in its own unit: reading counts bytes of the logs (`1.2/3.4 MB`),
    the analysis counts its steps (`3/5`)."""

    def __init__(self) -> None:
        super().__init__()
        self.in_bytes, self.in_steps = DownloadColumn(), MofNCompleteColumn()

    def render(self, task: Task) -> Any:
        return (self.in_bytes if task.fields.get("in_bytes") else self.in_steps).render(task)




def run() -> None:
    """The `scrapeguard` script: `app`, ending quietly with `EXIT_PIPE_CLOSED` when the reader
    of its output stops early (`| head -1`), as `cat` and `grep` do under SIGPIPE.

    Click (for `--help` and `typer.echo`) and Rich (for every console) each catch the
    BrokenPipeError themselves and exit 1, the code of a failure. Rather than depend on how
    each does it, an exit 1 is checked against the fact itself: is the reader of stdout or
    stderr gone? A duplicate of each descriptor is kept to ask, as the libraries point fd 1
    at /dev/null on the way out."""
    watched = [fd for fd in map(_duplicate, (1, 2)) if fd is not None]
    try:
        app(prog_name="scrapeguard")
    except SystemExit as exc:
        if exc.code == 1 and any(_reader_gone(fd) for fd in watched):
            _pipe_closed()
        raise
    except BrokenPipeError:
        _pipe_closed()
    finally:
        for fd in watched:
            os.close(fd)


def _duplicate(fd: int) -> int | None:
    """A non-inheritable copy of `fd`, or None when it is closed (a daemon without stdout)."""
    try:
        return os.dup(fd)
    except OSError:
        return None


def _reader_gone(fd: int) -> bool:
    """Whether `fd` is a pipe or socket whose reading end is closed (poll reports an error)."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poller.poll(0))


def _pipe_closed() -> NoReturn:
    """Exit `EXIT_PIPE_CLOSED` without a traceback or Python's "Exception ignored" note on the
    flush at exit: what is left for stdout and stderr goes to /dev/null."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for fd in (1, 2):
        with suppress(OSError):
            os.dup2(devnull, fd)
    raise SystemExit(EXIT_PIPE_CLOSED)


# Commands defined in their own modules register on `app` when imported.
from scrapeguard import (  # noqa: E402, F401
    cli_canary,
    cli_export,
    cli_routes,
    cli_serve,
    cli_traffic,
    cli_watch,
)


def _one_line_summaries(typer_app: typer.Typer) -> None:
    """Each command's line in a `--help` list: its docstring's first paragraph, joined. The
    rich help keeps the docstring's own line breaks there, so a summary wrapped in the
    source broke mid-sentence in `scrapeguard --help` (`… how many people's records, when`
    then `a rule would …` on a line of its own)."""
    for info in typer_app.registered_commands:
        doc = info.help or inspect.getdoc(info.callback) or ""
        if info.short_help is None and doc:
            info.short_help = " ".join(doc.split("\n\n", 1)[0].split())
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _one_line_summaries(group.typer_instance)


_one_line_summaries(app)
