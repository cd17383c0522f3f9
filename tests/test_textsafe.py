"""Log text is data: a harvester's user agent, path or account name can neither crash the
analysis, restyle the output, drive the terminal, nor run as a spreadsheet formula."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from scrapeguard.cli import app
from scrapeguard.textsafe import FORMULA_LEADS, inert, labelled, text

MARKUP_UA = "Mozilla/5.0 [/] [red]RED[/red] [link=https://evil.example]x[/link] :skull:"
ANSI_UA = "curl \x1b[31mANSI\x1b[0m \x1b]0;OWNED\x07 \x1b]8;;https://evil.example\x1b\\click"
BIDI_ACCOUNT = "[/]acct\u202eevil\u202c[bold]"
TERMINAL_CONTROLS = ("\x1b]", "\x07", "\x9b", "\x9d", "\u202e", "\r")


def _hostile_log(path: Path) -> Path:
    """An enumerator whose agent, account and paths carry markup, ANSI, OSC and bidi text."""
    lines = []
    for i in range(300):
        ua = MARKUP_UA if i % 2 else ANSI_UA
        lines.append(
            f'203.0.113.9 - {BIDI_ACCOUNT} [01/Mar/2024:10:{i // 60:02d}:{i % 60:02d} +0000] '
            f'"GET /user/{1000 + i}?q=[/]\x1b[2J HTTP/1.1" 200 512 "-" "{ua}"')
    lines.append("garbage [/] \x1b]8;;https://evil.example\x07click [red]x[/red] \x1b[2J")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cli(*args: str, terminal: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("NO_COLOR", None)
    if terminal:
        env["FORCE_COLOR"] = "1"  # Rich writes as it would to a colour terminal
    else:
        env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-c", "from scrapeguard.cli import app; app()", *args],
        capture_output=True, text=True, env=env, timeout=300, check=False)


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_hostile_log_text_is_printed_inert(tmp_path: Path, terminal: bool) -> None:
    log = _hostile_log(tmp_path / "hostile.log")
    done = _cli("analyze", str(log), "--decisions", str(tmp_path / "d.jsonl"), terminal=terminal)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout + done.stderr
    assert "Traceback" not in out
    # markup printed as the brackets it is, not applied or refused
    assert "[/]acct" in out
    assert "[red]x[/red]" in out
    # every control from the log shows as an escape; only Rich's own SGR colours remain
    for control in TERMINAL_CONTROLS:
        assert control not in out, repr(control)
    assert "\\x1b]8;;https://evil.example\\x07click" in out
    assert "\\u202eevil\\u202c" in out
    if not terminal:
        assert "\x1b" not in out
    # the enumerator is still found and named, whatever its account says
    decisions = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert "ip:203.0.113.9" in {d["actor"] for d in decisions}
    assert f"account:{BIDI_ACCOUNT}" in {d["actor"] for d in decisions}


@pytest.mark.parametrize("value", [MARKUP_UA, ANSI_UA, BIDI_ACCOUNT, "line\nbreak\r", "\x00\x9b"])
def test_rich_renders_log_text_verbatim_apart_from_escapes(value: str) -> None:
    console = Console(record=True, width=400, force_terminal=True, color_system="truecolor")
    console.print(text(value))
    console.print(labelled("error:", "bold red", value))
    shown = console.export_text(styles=False)
    assert shown.count(inert(value)) == 2
    raw = console.export_text(styles=True)
    assert "\x1b]" not in raw
    assert "\x07" not in raw


def test_inert_keeps_ordinary_text_and_escapes_every_control() -> None:
    assert inert("Mozilla/5.0 (X11; Linux) Firefox/120.0 — café") == (
        "Mozilla/5.0 (X11; Linux) Firefox/120.0 — café")
    assert inert("a\x1b[31mb\tc\u2066d") == "a\\x1b[31mb\\x09c\\u2066d"
    for code in [*range(0x20), *range(0x7F, 0xA0)]:
        assert chr(code) not in inert(f"x{chr(code)}y")


def test_report_affected_csv_cells_never_run_as_formulas(tmp_path: Path) -> None:
    """A subject id is whatever the request asked for; a spreadsheet must show it as text."""
    hostile = ["=HYPERLINK(\"https://evil.example\",\"x\")", "+1555000111", "-2+3",
               "@SUM(A1)", "\tlead", "plain"]
    events = []
    for i in range(600):
        subject = hostile[i % len(hostile)] if i < len(hostile) else f"p{i}"
        events.append({"ts": f"2024-03-01T10:{i // 60:02d}:{i % 60:02d}Z", "ip": "203.0.113.7",
                       "method": "GET", "path": f"/api/people/{i}", "status": 200,
                       "bytes": 300, "ua": "python-requests/2.31", "account": "harvester",
                       "subjects": [subject], "fields": ["phone"]})
    log = tmp_path / "events.jsonl"
    log.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    decisions = tmp_path / "d.jsonl"
    done = CliRunner().invoke(app, ["analyze", str(log), "-q", "--decisions", str(decisions)])
    assert done.exit_code == 0, done.output
    assert decisions.read_text().strip(), "the harvester must be acted on for this test"
    out = tmp_path / "affected.csv"
    done = CliRunner().invoke(app, ["report", "affected", str(log), "--decisions",
                                    str(decisions), "--out", str(out)])
    assert done.exit_code == 0, done.output
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    subjects = {row["subject"] for row in rows}
    assert "'=HYPERLINK(\"https://evil.example\",\"x\")" in subjects
    assert {"'+1555000111", "'-2+3", "'@SUM(A1)", "'\tlead", "plain"} <= subjects
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(FORMULA_LEADS), cell
