"""A hand-designed log whose decisions are known exactly (see data/make_conformance.py).

A person, a sequential enumerator, one account spread over thirty addresses, genuine
Googlebot and an impostor. The expected decisions below were reasoned out from the rules, not
copied from a run: the enumerator is stopped at its 21st lookup (the 20th step), the spread
account when its 20th address has carried 100 records, the impostor at its 5th profile.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scrapeguard.analysis import Analysis, analyze
from scrapeguard.cli import app
from scrapeguard.decisions import DECISION_FIELDS, format_ts

LOG = Path(__file__).parent / "data" / "conformance.log"

EXPECTED = {
    "ip:203.0.113.7": {
        "action": "block", "rules": ["sequential-enumeration", "machine-timing"],
        "first_action_ts": "2026-03-02T08:10:40.000Z", "requests": 200, "subjects": 200,
        "subjects_before_action": 20,
    },
    "account:u_889": {
        "action": "block", "rules": ["account-many-addresses"],
        "first_action_ts": "2026-03-02T08:36:13.000Z", "requests": 150, "subjects": 150,
        "subjects_before_action": 99,
    },
}


@pytest.fixture(scope="module")
def result() -> Analysis:
    return analyze([str(LOG)])


def test_exactly_the_expected_actors(result: Analysis) -> None:
    assert {d.actor for d in result.decisions} == set(EXPECTED)


@pytest.mark.parametrize("actor", sorted(EXPECTED))
def test_decision_details(result: Analysis, actor: str) -> None:
    decision = next(d for d in result.decisions if d.actor == actor)
    expected = EXPECTED[actor]
    assert decision.action == expected["action"]
    assert decision.rules == expected["rules"]
    assert format_ts(decision.first_action_ts) == expected["first_action_ts"]
    assert decision.requests == expected["requests"]
    assert decision.subjects == expected["subjects"]
    assert decision.subjects_before_action == expected["subjects_before_action"]
    assert len(decision.reasons) == len(decision.rules)
    assert decision.members is None  # keys readable off one event list no members


def test_person_and_googlebot_untouched(result: Analysis) -> None:
    acted = {d.actor for d in result.decisions}
    assert "ip:198.51.100.20" not in acted
    assert "ip:66.249.66.1" not in acted
    assert result.enrich.allowlisted_requests == {"verified Googlebot": 61}


def test_an_unverified_crawler_claim_is_judged_on_behaviour(result: Analysis) -> None:
    """203.0.113.99 says Googlebot from outside Google's ranges: not allowlisted (the 61
    allowlisted requests are all Google's), and ten profiles are no harvest by anyone."""
    assert "ip:203.0.113.99" not in {d.actor for d in result.decisions}


def test_cli_writes_the_decisions_file_and_fails_on_block(tmp_path: Path) -> None:
    out = tmp_path / "decisions.jsonl"
    summary = tmp_path / "summary.json"
    run = CliRunner().invoke(app, ["analyze", str(LOG), "--decisions", str(out),
                                   "--summary-json", str(summary), "--fail-on", "block", "-q"])
    assert run.exit_code == 3, run.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["actor"] for r in records} == set(EXPECTED)
    for record in records:
        assert tuple(record) == DECISION_FIELDS[:-2]  # no members on ip/account keys
    assert json.loads(summary.read_text())["decisions"]["block"] == 2


def test_fail_on_a_stronger_action_than_any_decision_passes(tmp_path: Path) -> None:
    policy = tmp_path / "mild.yaml"
    policy.write_text("extends: default\nrules:\n"
                      + "".join(f"  - {{id: {r}, enabled: false}}\n" for r in (
                          "sequential-enumeration", "account-many-addresses")))
    run = CliRunner().invoke(app, ["analyze", str(LOG), "--policy", str(policy),
                                   "--fail-on", "block", "-q"])
    assert run.exit_code == 0, run.output
