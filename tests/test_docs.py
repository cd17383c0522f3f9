"""Docs that cannot drift: every rule, feature and command is documented."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
import typer.main

from scrapeguard.cli import app
from scrapeguard.features import CATALOGUE
from scrapeguard.policy.load import load_policy
from scrapeguard.sources import REGISTRY

DOCS = Path(__file__).parent.parent / "docs"


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if hasattr(command, "commands"):  # a click or Typer group: document its commands
            found.extend(_commands(command, full + " "))
        else:
            found.append((full, command))
    return found


COMMANDS = _commands(typer.main.get_command(app))  # type: ignore[arg-type]


def test_every_default_rule_has_a_page() -> None:
    headings = set(re.findall(r"^## (\S+)$", (DOCS / "rules.md").read_text(), re.M))
    rules = {rule.id for rule in load_policy(None).rules}
    assert rules - headings == set(), "rules without a section in docs/rules.md"
    assert headings - rules == set(), "docs/rules.md describes rules that do not exist"


def test_every_log_format_is_in_the_table() -> None:
    """`--format NAME` takes any registered format: each has its row in docs/cli.md, and
    each row names a format that exists (`nginx` is `--log-format`'s, not registered)."""
    section = (DOCS / "cli.md").read_text().split("### Log formats", 1)[1].split("\n#", 1)[0]
    rows = set(re.findall(r"^\| `([a-z_0-9]+)` \|", section, re.M))
    assert set(REGISTRY) - rows == set(), "formats without a row in docs/cli.md"
    assert rows - set(REGISTRY) == set(), "docs/cli.md lists formats that do not exist"


def test_every_feature_is_in_the_table() -> None:
    documented = set(re.findall(r"^\| `(\w+)` \|", (DOCS / "features.md").read_text(), re.M))
    assert {f.name for f in CATALOGUE} == documented


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_help_and_docs(name: str, command: click.Command) -> None:
    assert (command.help or "").strip(), f"`scrapeguard {name}` has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert (param.help or "").strip(), f"`{name}` option {param.opts} has no help"
    assert f"scrapeguard {name}" in (DOCS / "cli.md").read_text(), f"{name} missing in cli.md"
