"""CLI command `watch`: follow a live log into the stream engine's store."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO, Annotated, Any

import typer

from scrapeguard.cli import (
    FormatOption,
    LogFormatOption,
    NginxConfOption,
    PolicyOption,
    _chosen_format,
    _fail,
    app,
    err,
    writable,
)
from scrapeguard.errors import ScrapeGuardError, SourceError, StoreError
from scrapeguard.textsafe import inert, json_text, labelled, text


@app.command()
def watch(
    log: Annotated[Path, typer.Argument(help="The log file to follow (not a glob, not .gz).")],
    store: Annotated[str, typer.Option(
        "--store", help="Where decisions land: redis://host:6379/0 (shared with the "
        "middleware and `serve`) or memory://.")] = "memory://",
    state_file: Annotated[Path | None, typer.Option(
        "--state", help="Where the position is saved; default: LOG's name + .scrapeguard-"
        "watch beside it.", callback=writable)] = None,
    policy: PolicyOption = None,
    calibration: Annotated[Path | None, typer.Option(
        "--calibration", help="From `scrapeguard calibrate` over past logs.")] = None,
    secret_file: Annotated[Path | None, typer.Option(
        "--secret-file", help="Key the store's hashes are made with (also "
        "SCRAPEGUARD_SECRET_FILE); needed with a store that outlives this process.")] = None,
    fmt: FormatOption = None,
    log_format: LogFormatOption = None,
    nginx_conf: NginxConfOption = None,
    decisions: Annotated[Path | None, typer.Option(
        "--decisions", help="Append each decision as it is made (JSON lines with its "
        "expires_ts), for `scrapeguard export`.", callback=writable)] = None,
    from_end: Annotated[bool, typer.Option(
        "--from-end", help="With no saved position, start at the log's end (default: its "
        "start).")] = False,
    once: Annotated[bool, typer.Option(
        "--once", help="Read to the end of the log (and of a rotated one), then exit.")]
    = False,
    grace: Annotated[float, typer.Option(
        "--grace", help="Seconds a file rotated by rename must be quiet before it is left.")]
    = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No status line.")] = False,
) -> None:
    """Follow a log through rotation into the store the middleware and `serve` enforce from;
    resume after a restart where it stopped, counting no line twice."""
    from scrapeguard.engines.stream import StreamEngine
    from scrapeguard.policy.load import load_policy
    from scrapeguard.stores.keys import SECRET_ENV, SECRET_FILE_ENV

    if not store.startswith("memory:") and secret_file is None and not any(
            _env(name) for name in (SECRET_ENV, SECRET_FILE_ENV)):
        err.print(labelled("error:", "bold red",
                           f"--store {store} outlives this process, so its hashes need a fixed "
                           f"key: give --secret-file (or {SECRET_FILE_ENV})"), highlight=False)
        raise typer.Exit(2)
    state_path = state_file or log.with_name(log.name + ".scrapeguard-watch")
    if not log.exists() and not state_path.exists():
        # A typo in the path would otherwise read nothing and report success (`--once`), or
        # wait without a word: following a log that logrotate or the server creates later
        # is legitimate, so only `--once` makes it an error.
        if once:
            raise _fail(SourceError(f"no such file: {log}"))
        err.print(labelled("note:", "yellow", f"{log} does not exist yet; waiting for it to "
                           f"appear (Ctrl-C to stop)"), highlight=False, soft_wrap=True)
    journal = decisions.open("a", encoding="utf-8") if decisions else None
    try:
        loaded = load_policy(policy)
        engine = StreamEngine(loaded, store, calibration=calibration, secret_file=secret_file)
        chosen = _chosen_format(fmt, log_format, nginx_conf)
        from scrapeguard.watch.run import Watcher

        watcher = Watcher(log, engine, state_path, fmt=chosen, grace=0.0 if once else grace,
                          from_end=from_end, trusted_proxies=tuple(loaded.trusted_proxies),
                          on_decision=lambda d: _journal(journal, d, engine),
                          on_problem=lambda s: err.print(
                              labelled("malformed:", "yellow",
                                       f"{s.where()}: {s.reason}: {s.text}"),
                              highlight=False, soft_wrap=True))
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    line = _StatusLine(log, disabled=quiet or not sys.stderr.isatty())
    try:
        stats = watcher.run(stop, once=once, status=line.show)
    except ScrapeGuardError as exc:
        raise _fail(exc) from None
    except _unreachable() as exc:
        raise _fail(StoreError(
            f"the store (--store) cannot be reached: {exc}\nStart it or correct --store, "
            f"then run watch again: it resumes where it stopped.")) from None
    finally:
        line.clear()
        watcher.close()
        engine.close()
        if journal:
            journal.close()
    err.print(text(f"{inert(log)}: {stats.lines:,} lines, {stats.events:,} events counted, "
                   f"{stats.malformed:,} malformed, {stats.decisions:,} decisions"
                   + (f", {stats.skipped:,} already counted before a restart"
                      if stats.skipped else "")), highlight=False, soft_wrap=True)


def _unreachable() -> tuple[type[Exception], ...]:
    """The errors of a store that does not answer (Redis stopped, a wrong address, too slow):
    a message and exit 2, not a traceback. Nothing is lost: the position moves only past
    what the store counted. Empty without the redis client (a memory store cannot fail)."""
    try:
        from redis.exceptions import ConnectionError as Refused
        from redis.exceptions import TimeoutError as Slow
    except ImportError:
        return ()
    return (Refused, Slow)


def _env(name: str) -> str:
    import os

    return os.environ.get(name, "")


def _journal(out: IO[str] | None, decision: Any, engine: Any) -> None:
    """One decision as the decisions file has it, plus when the store drops it."""
    if out is None:
        return
    from scrapeguard.decisions import format_ts

    record = decision.to_json()
    ttl = engine.decision_ttl[decision.action]
    from datetime import UTC, datetime, timedelta

    record["expires_ts"] = format_ts(datetime.now(UTC) + timedelta(seconds=ttl))
    out.write(json_text(record) + "\n")
    out.flush()


class _StatusLine:
    """One line on a terminal, rewritten in place; nothing in a pipe or a log file."""

    def __init__(self, log: Path, disabled: bool) -> None:
        self.name = inert(log)
        self.disabled = disabled
        self.started = time.monotonic()

    def show(self, stats: Any) -> None:
        if self.disabled:
            return
        rate = stats.events / max(time.monotonic() - self.started, 1e-9)
        sys.stderr.write(f"\r\x1b[K{self.name}: {stats.events:,} events ({rate:,.0f}/s), "
                         f"{stats.malformed:,} malformed, {stats.decisions:,} decisions")
        sys.stderr.flush()

    def clear(self) -> None:
        if not self.disabled:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
