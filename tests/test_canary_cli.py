"""`scrapeguard canary …` and `scrapeguard trace`: thin, documented, clear about bad input.

The commands register on `scrapeguard.cli.app` when `scrapeguard.cli_canary` is imported; these
tests import it inside each test, so collecting them does not add commands to the app that
other modules enumerate at import time.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from test_canary_support import IDS, PHONES, new_book

DOCS = Path(__file__).parent.parent / "docs" / "canary.md"


def run(*args: str, **env: str) -> Any:
    from scrapeguard.cli_canary import app

    return CliRunner().invoke(app, list(args), env={"COLUMNS": "160", **env})


def test_mint_writes_a_private_db_and_refuses_without_safe_numbers(tmp_path: Path) -> None:
    out = tmp_path / "canaries.db"
    refused = run("canary", "mint", "--out", str(out), "--id-range", IDS, "--count", "100")
    assert refused.exit_code == 2
    assert "--phone-range" in refused.output
    assert "no offline list of unassigned numbers" in " ".join(refused.output.split())
    made = run("canary", "mint", "--out", str(out), "--id-range", IDS, "--count", "100",
               "--phone-range", PHONES, "--locale", "zh_CN", "--per-actor", "20")
    assert made.exit_code == 0, made.output
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    info = run("canary", "info", str(out))
    assert "count: 100" in info.output
    assert "per_actor: 20" in info.output
    assert "key: stored in the db" in info.output
    again = run("canary", "mint", "--out", str(out), "--id-range", IDS, "--no-phone")
    assert again.exit_code == 2
    assert "--force" in again.output


def test_mint_sizes_the_book_from_the_expected_exposure(tmp_path: Path) -> None:
    sized = run("canary", "mint", "--out", str(tmp_path / "a.db"), "--id-range", IDS,
                "--no-phone", "--exposure", "2000", "--locale", "en_US")
    assert sized.exit_code == 0, sized.output  # 100 canaries at 1 in 20: a tenth of 1,000
    assert "count: 1000" in run("canary", "info", str(tmp_path / "a.db")).output
    small = run("canary", "mint", "--out", str(tmp_path / "b.db"), "--id-range", IDS,
                "--no-phone", "--exposure", "2000", "--count", "50", "--locale", "en_US")
    assert small.exit_code == 0
    assert "smaller than the 1,000" in " ".join(small.output.split())
    bad = run("canary", "mint", "--out", str(tmp_path / "c.db"), "--id-range", IDS,
              "--no-phone", "--exposure", "0")
    assert bad.exit_code == 2
    assert "--exposure must be at least 1" in bad.output


def test_trace_prints_a_table_and_writes_json(tmp_path: Path) -> None:
    book = new_book(tmp_path, key=None)
    served = book.for_actor("account:harvester7", 12)
    book.record("account:harvester7", served)
    book.record("account:alice", book.for_actor("account:alice", 12))
    book.close()
    dump = tmp_path / "dump.txt"
    dump.write_text("".join(f"{c.name} {c.phone.replace(' ', '-')}\n" for c in served))
    shown = run("trace", str(dump), "--canaries", str(tmp_path / "canaries.db"),
                "--json", str(tmp_path / "out.json"))
    assert shown.exit_code == 0, shown.output
    assert re.search(r"named\s+│\s+account:harvester7\s+│\s+12/12", shown.output)
    assert "Canaries found: 12 of 2,000" in shown.output
    report = json.loads((tmp_path / "out.json").read_text())
    assert [n["actor"] for n in report["named"]] == ["account:harvester7"]
    assert report["found_by_field"]["phone"] == 12
    assert served[0].phone not in (tmp_path / "out.json").read_text()  # counts, not values


def test_trace_in_an_80_column_pipe_keeps_whole_times(tmp_path: Path) -> None:
    """In a pipe the table is 80 columns wide: the times were cut to `2026-12-…`."""
    book = new_book(tmp_path, key=None)
    served = book.for_actor("account:harvester7", 12)
    book.record("account:harvester7", served)
    book.close()
    dump = tmp_path / "dump.txt"
    dump.write_text("".join(f"{c.name} {c.phone.replace(' ', '-')}\n" for c in served))
    shown = run("trace", str(dump), "--canaries", str(tmp_path / "canaries.db"), COLUMNS="80")
    assert shown.exit_code == 0, shown.output
    assert "…" not in shown.output
    assert max(len(line) for line in shown.output.splitlines()) <= 80
    assert len(re.findall(r"\b\d{4}-\d\d-\d\d\b", shown.output)) == 2
    assert len(re.findall(r"\b\d\d:\d\d:\d\d\b", shown.output)) == 2


def test_trace_explains_a_refusal(tmp_path: Path) -> None:
    book = new_book(tmp_path, key=None)
    served = book.for_actor("account:a", 100)
    book.record("account:a", served)
    book.close()
    dump = tmp_path / "dump.csv"  # 2 of its 100: p = C(100,2)/C(2000,2), about 2.5e-3
    dump.write_text("id,phone\n" + "".join(f"{c.id},{c.phone}\n" for c in served[:2]))
    shown = run("trace", str(dump), "--canaries", str(tmp_path / "canaries.db"), "--json", "-")
    report = json.loads(shown.output)
    assert report["named"] == []
    assert report["not_named"][0]["actor"] == "account:a"
    assert report["verdict"].startswith("No one is named. Not naming anyone: the best candidate")


@pytest.mark.parametrize(("args", "message"), [
    (["trace", "x.csv", "--canaries", "missing.db"], "no such canary db"),
    (["trace", "x.csv", "--canaries", "c.db", "--threshold", "2"], "--threshold"),
    (["canary", "mint", "--out", "o.db", "--id-range", "9-1", "--no-phone"], "id range"),
    (["canary", "mint", "--out", "o.db", "--id-range", IDS, "--phone-range", "1-2"],
     "phone range"),
])
def test_bad_input_is_exit_2_with_a_message(args: list[str], message: str,
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_drill_runs_the_published_measurement() -> None:
    result = run("canary", "drill", "--trials", "1", "--count", "3000", "--innocent", "30")
    assert result.exit_code == 0, result.output
    assert "smallest reliable dump (99%)" in result.output
    assert "innocent dumps: 30, false names: 0" in result.output


def test_every_canary_command_is_documented() -> None:
    import typer.main

    from scrapeguard.cli_canary import app, canary_app

    root: Any = typer.main.get_command(app)
    names = [f"canary {n}" for n in typer.main.get_command(canary_app).commands]  # type: ignore[attr-defined]
    text = DOCS.read_text()
    for name in [*names, "trace"]:
        assert f"scrapeguard {name}" in text, f"`scrapeguard {name}` missing in docs/canary.md"
        command = root
        for part in name.split():
            command = command.commands[part]
        assert (command.help or "").strip(), f"{name} has no help"
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert (param.help or "").strip(), f"{name} {param.opts} has no help"
