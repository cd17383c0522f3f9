"""What a newcomer sees from the command: errors as readable lines, a missing extra named with
its install command, a quiet end when the reader of a pipe stops, progress in the right
units, the files written, and the same malformed-line limit on every command that reads logs."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from scrapeguard import cli, cli_canary
from scrapeguard.cli import app
from scrapeguard.console import TrimmedLines
from scrapeguard.words import plural

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop-access.log.gz"
SRC = Path(__file__).resolve().parents[1] / "src"


def _garbage(path: Path) -> Path:
    """Lines no format reads, with the controls a hostile log could carry inside them."""
    path.write_bytes(b"".join(
        b"\x00\x1b]0;OWNED\x07 line %d \x1b[31mred\r\x9b junk\xe2\x80\xae\n" % i
        for i in range(50)))
    return path


def test_a_multi_line_error_keeps_its_lines_and_escapes_log_text(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["analyze", str(_garbage(tmp_path / "g.log")), "-q"])
    assert done.exit_code == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith("error: ")
    assert "do not parse" in lines[0]
    assert any(line.strip() == "first failing lines:" for line in lines)
    assert "\\x0a" not in done.stderr
    for control in ("\x1b", "\x07", "\x9b", "\r", "\u202e", "\x00"):
        assert control not in done.stderr
    assert "\\x1b]0;OWNED\\x07" in done.stderr


def test_a_policy_error_keeps_its_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    bogus: 1\n  - id: y\n    other: 2\n")
    done = CliRunner().invoke(app, ["analyze", str(EXAMPLE), "-q", "--policy", str(bad)])
    assert done.exit_code == 2
    lines = done.stderr.splitlines()
    # Each issue on a line of its own, located as compilers write it, labelled once.
    assert lines[0].startswith(f"{bad}:2:5: error: ")
    assert any("unknown key 'bogus'" in line for line in lines)
    assert any(line.startswith(f"{bad}:5:5: error:") for line in lines)
    assert not any(line.count("error:") > 1 for line in lines)
    assert "\\x0a" not in done.stderr


def test_canary_commands_report_errors_through_the_one_function() -> None:
    assert cli_canary._fail is cli._fail


def _without(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Import of `module` fails as if its extra were not installed (and nothing imported it)."""
    for name in list(sys.modules):
        if name == module or name.startswith(f"{module}.") or name.startswith(
                "scrapeguard.engines.spark.") or name.startswith("ibis.backends.pyspark"):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)


def test_spark_without_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, "pyspark")
    done = CliRunner().invoke(app, ["analyze", str(EXAMPLE), "-q", "--engine", "spark"])
    assert done.exit_code == 2, done.stderr
    assert done.exception is None or isinstance(done.exception, SystemExit)
    assert done.stderr.strip() == ("error: --engine spark needs pyspark, which is not "
                                   "installed: pip install 'scrapeguard[spark]'")


@pytest.mark.parametrize(("args", "said"), [
    (["-"], "not -"),
    ([str(EXAMPLE), "--report", "r.html"], "--report/--report-json read the DuckDB tables"),
])
def test_spark_refusals_come_before_the_import(monkeypatch: pytest.MonkeyPatch,
                                               args: list[str], said: str) -> None:
    _without(monkeypatch, "pyspark")
    done = CliRunner().invoke(app, ["analyze", *args, "-q", "--engine", "spark"], input="")
    assert done.exit_code == 2, done.stderr
    assert said in done.stderr
    assert "pyspark" not in done.stderr


def test_serve_without_uvicorn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, "uvicorn")
    done = CliRunner().invoke(app, ["serve"])
    assert done.exit_code == 2, done.stderr
    assert done.stderr.strip() == ("error: serve needs uvicorn, which is not installed: "
                                   "pip install 'scrapeguard[serve]'")


@pytest.mark.parametrize("args", [["--help"], ["analyze", str(EXAMPLE), "--top", "5"]],
                         ids=["help", "analyze"])
def test_a_reader_that_stops_early_ends_the_command_quietly(args: list[str]) -> None:
    """`scrapeguard ... | head -1`: the reader is gone before the output is; exit 141, as a
    shell reports for `cat`, with nothing on stderr (docs/cli.md)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-m", "scrapeguard", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=300, check=False,
                              env={"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin"})
    finally:
        os.close(write_end)
    assert done.returncode == cli.EXIT_PIPE_CLOSED, done.stderr[-2000:]
    assert done.stderr == ""


def _shown(bar: cli._progress) -> str:
    console = Console(record=True, width=80, file=io.StringIO())
    console.print(bar.bar.get_renderable())
    return console.export_text()


def test_the_progress_bar_counts_steps_as_steps_and_reading_in_bytes() -> None:
    bar = cli._progress(disabled=False)
    bar.update("analyze", 3, 5)
    steps = _shown(bar)
    assert "3/5" in steps
    assert "bytes" not in steps
    bar.update("read", 2_000_000, 4_000_000)
    assert "2.0/4.0 MB" in _shown(bar)


def test_analyze_says_last_which_files_it_wrote(tmp_path: Path) -> None:
    decisions, summary = tmp_path / "d.jsonl", tmp_path / "s.json"
    done = CliRunner().invoke(app, ["analyze", str(EXAMPLE), "--top", "3", "--decisions",
                                    str(decisions), "--summary-json", str(summary)])
    assert done.exit_code == 0, done.stderr
    count = len(decisions.read_text().splitlines())
    assert done.stderr.splitlines()[-2:] == [
        f"wrote {decisions}: {plural(count, 'decision')}, one JSON object a line",
        f"wrote {summary}: the summary (JSON)"]
    assert "wrote" not in done.stdout


def test_routes_refuses_a_mostly_malformed_log_as_analyze_does(tmp_path: Path) -> None:
    log = _garbage(tmp_path / "g.log")
    for command in ("routes", "analyze"):
        done = CliRunner().invoke(app, [command, str(log)])
        assert done.exit_code == 2, (command, done.stderr)
        assert "100 of 100 lines (100%) do not parse" in done.stderr
    allowed = CliRunner().invoke(app, ["routes", str(log), "--max-malformed", "100%"])
    assert allowed.exit_code == 0, allowed.stderr
    assert "100 malformed" in allowed.stderr  # a bare CR splits each line in two


def test_simulate_prints_a_summary_not_a_repr(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    done = CliRunner().invoke(app, ["simulate", "--out", str(out), "--hours", "1", "--scale",
                                    "0.1", "--scenario", "enumerator", "--scenario", "shoppers"])
    assert done.exit_code == 0, done.stderr
    assert "SimulationReport" not in done.output
    lines = done.stdout.splitlines()
    events = len((out / "events.jsonl").read_text().splitlines())
    assert lines[0] == f"wrote {events:,} events to {out}:"
    assert all(name in lines[1] for name in ("events.jsonl", "access.log", "truth.tsv"))
    assert lines[3].split() == ["scenario", "label", "events", "identities", "subjects"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[4:]}
    assert set(rows) == {"enumerator", "shoppers"}
    assert rows["enumerator"][0] == "scraper"
    assert rows["shoppers"][0] == "human"
    assert sum(int(row[1].replace(",", "")) for row in rows.values()) == events
    assert max(len(line) for line in lines[1:]) <= 80


WRITTEN = [
    ["analyze", str(EXAMPLE), "-q", "--decisions"],
    ["analyze", str(EXAMPLE), "-q", "--summary-json"],
    ["analyze", str(EXAMPLE), "-q", "--report"],
    ["analyze", str(EXAMPLE), "-q", "--report-json"],
    ["routes", str(EXAMPLE), "--write"],
    ["report", "affected", str(EXAMPLE), "--decisions", "d.jsonl", "--out"],
    ["calibrate", str(EXAMPLE), "--out"],
    ["export", "nginx", "d.jsonl", "--out"],
    ["export", "nftables", "d.jsonl", "--out"],
    ["trace", "dump.csv", "--canaries", "c.db", "--json"],
    ["eval", "--data", "sim", "--decisions", "d.jsonl", "--json"],
    ["eval", "--data", "sim", "--decisions", "d.jsonl", "--chart"],
    ["watch", "access.log", "--once", "--decisions"],
    ["watch", "access.log", "--once", "--state"],
]
"""Every option that names a file to write, with the arguments its command needs."""


@pytest.mark.parametrize("args", WRITTEN, ids=[" ".join(a[:1] + a[-1:]) for a in WRITTEN])
def test_an_output_in_a_missing_directory_is_refused_before_any_work(
        tmp_path: Path, args: list[str]) -> None:
    """A typo in an output's directory is a usage error naming it, at once: not a traceback
    after the whole analysis (as `analyze --decisions typo/d.jsonl` was)."""
    missing = tmp_path / "typo" / "out.txt"
    done = CliRunner().invoke(app, [*args, str(missing)])
    assert done.exit_code == 2, done.output
    assert isinstance(done.exception, SystemExit)
    flat = re.sub(r"[│\s]", "", done.stderr)  # the message as typer boxes and wraps it
    assert f"directory{missing.parent}doesnotexist" in flat
    assert not missing.parent.exists()
    into_a_folder = CliRunner().invoke(app, [*args, str(tmp_path)])
    assert into_a_folder.exit_code == 2
    assert f"{tmp_path}isadirectory" in re.sub(r"[│\s]", "", into_a_folder.stderr)


def test_watch_once_on_a_missing_log_is_an_error(tmp_path: Path) -> None:
    """A typo in the path read nothing and reported success; without `--once` watch waits
    for the file (a server may create it later) and says so."""
    done = CliRunner().invoke(app, ["watch", str(tmp_path / "acess.log"), "--once", "-q"])
    assert done.exit_code == 2, done.output
    assert done.stderr.strip() == f"error: no such file: {tmp_path / 'acess.log'}"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_watch_with_its_store_down_says_so_without_a_traceback(tmp_path: Path) -> None:
    pytest.importorskip("redis")
    log = tmp_path / "access.log"
    log.write_text('203.0.113.7 - - [06/Dec/2026:21:00:00 +0000] "GET /user/1 HTTP/1.1" 200 '
                   '512 "-" "curl/8.5.0"\n')
    port = _free_port()
    done = CliRunner().invoke(app, [
        "watch", str(log), "--once", "-q", "--store", f"redis://127.0.0.1:{port}/0",
        "--secret-file", str(tmp_path / "key")])
    assert done.exit_code == 2, done.output
    assert isinstance(done.exception, SystemExit)
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ")
    assert "reach" in done.stderr  # whichever layer says it: the store or the command
    assert f"127.0.0.1:{port}" in done.stderr


def test_mint_without_faker_names_the_canary_extra(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The `canary` extra exists for this; `simulate` also pulls numpy, which minting
    does not need."""
    _without(monkeypatch, "faker")
    done = CliRunner().invoke(app, ["canary", "mint", "--out", str(tmp_path / "c.db"),
                                    "--id-range", "900000000-999999999", "--no-phone",
                                    "--count", "10"])
    assert done.exit_code == 2, done.output
    assert done.stderr.strip() == ("error: minting canaries needs Faker: "
                                   "pip install 'scrapeguard[canary]'")


def test_serve_on_a_taken_syslog_port_says_which_setting(tmp_path: Path) -> None:
    """A second `serve` (or anything on 7481) ended in uvicorn's start-up traceback."""
    pytest.importorskip("uvicorn")
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        udp = taken.getsockname()[1]
        done = CliRunner().invoke(app, ["serve", "--port", str(_free_port()),
                                        "--events-udp", f"127.0.0.1:{udp}"])
    assert done.exit_code == 2, done.output
    assert isinstance(done.exception, SystemExit)
    assert done.stderr.strip().endswith(
        f"error: cannot listen on udp 127.0.0.1:{udp} (--events-udp): Address already in "
        f"use; stop what holds it or choose another port")


def test_serve_says_where_it_listens_and_hides_the_store_password(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """uvicorn's own lines are off (log level warning): without this line a newcomer could
    not tell that it started, where, or that the admin endpoints are off."""
    uvicorn = pytest.importorskip("uvicorn")
    from scrapeguard import cli_serve
    from scrapeguard.service.config import load_config

    ran: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda _app, **options: ran.append(options))
    port = _free_port()
    done = CliRunner().invoke(app, ["serve", "--port", str(port), "--events-udp", ""])
    assert done.exit_code == 0, done.output
    assert len(ran) == 1
    assert ran[0]["port"] == port
    assert done.stderr.splitlines()[-1] == (
        f"scrapeguard serve: http://127.0.0.1:{port} (nginx asks /v1/decide); store "
        f"memory://; nginx log lines: off; admin endpoints and dashboard: off (set "
        f"SCRAPEGUARD_ADMIN_TOKEN)")
    shown = cli_serve._started(load_config(None, env={}, store="redis://:s3cret@db:6379/0"))
    assert "s3cret" not in shown
    assert "store redis://db:6379/0;" in shown


def test_a_missing_decisions_file_is_a_message_for_report_affected(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["report", "affected", str(EXAMPLE), "--decisions",
                                    str(tmp_path / "nosuch.jsonl"), "--out",
                                    str(tmp_path / "a.csv")])
    assert done.exit_code == 2, done.output
    assert isinstance(done.exception, SystemExit)
    assert done.stderr.strip().endswith(
        f"error: {tmp_path / 'nosuch.jsonl'}: cannot read decisions: No such file or directory")


def _commands(typer_app: Any) -> Iterator[Any]:
    yield from typer_app.registered_commands
    for group in typer_app.registered_groups:
        yield from _commands(group.typer_instance)


def test_each_command_is_summed_up_on_one_line_in_the_help_lists() -> None:
    """`scrapeguard --help` broke the docstrings' own line breaks into its list: `… how many
    people's records, when` then `a rule would first have acted` on a line of its own."""
    for info in _commands(app):
        assert info.short_help, info.callback
        assert "\n" not in info.short_help, info.short_help
    shown = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "80"}).stdout
    assert any("people's records, when a rule would first have acted" in line
               for line in shown.splitlines()), shown


def test_serve_warns_at_start_when_its_store_does_not_answer(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A Redis not started (or a wrong port) was silent until the first request, while every
    decision fell to the fail mode."""
    uvicorn = pytest.importorskip("uvicorn")
    pytest.importorskip("redis")
    from scrapeguard import service

    monkeypatch.setattr(uvicorn, "run", lambda _app, **_options: None)
    monkeypatch.setenv("SCRAPEGUARD_SECRET_FILE", str(tmp_path / "key"))
    # uvicorn does not run, so neither does the lifespan that would stop the record lane's
    # child (which waits for its parent, and held pytest's exit): the test closes it.
    built: list[Any] = []
    real = service.build_app
    monkeypatch.setattr(service, "build_app", lambda settings: built.append(real(settings))
                        or built[-1])
    store = f"redis://127.0.0.1:{_free_port()}/0"
    try:
        done = CliRunner().invoke(app, ["serve", "--store", store, "--port",
                                        str(_free_port()), "--events-udp", ""])
    finally:
        for started in built:
            started.state.service.close()
    assert done.exit_code == 0, done.output
    last = done.stderr.splitlines()[-1]
    assert last.startswith("warning: the store does not answer (")
    assert last.endswith("until it does, every request is let through (fail_open) and "
                         "/healthz answers 503")
    memory = CliRunner().invoke(app, ["serve", "--port", str(_free_port()), "--events-udp", ""])
    assert "warning" not in memory.stderr


def test_output_to_a_pipe_has_no_trailing_spaces() -> None:
    """Rich pads each line of the actors' grid to the console's width; in a pipe or a file
    the lines end where their text does."""
    done = CliRunner().invoke(app, ["analyze", str(EXAMPLE)])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert any(line.lstrip().startswith("1. ") for line in lines)  # the grid was printed
    assert [line for line in lines if line.endswith(" ")] == []


def test_trimmed_lines_keep_a_line_written_in_pieces() -> None:
    target = io.StringIO()
    stream = TrimmedLines(target)
    stream.write("a  b   ")
    stream.write("  \nc \n  ")
    stream.write("d  \n")
    stream.flush()
    assert target.getvalue() == "a  b\nc\n  d\n"
