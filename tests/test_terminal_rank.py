"""The acted-on list ranks by people's records received and, where those tie (a log with no
personal-data route ties every actor at none), by the strength of the action, then requests,
then rules; its heading says which; counts read `1 record`, `2 records` everywhere."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from scrapeguard.analysis import Analysis
from scrapeguard.decisions import Decision
from scrapeguard.engines.calibration import Calibration
from scrapeguard.engines.enrich import EnrichStats
from scrapeguard.engines.firing import Firing, explain
from scrapeguard.policy.model import Rule
from scrapeguard.report.terminal import render
from scrapeguard.sources.report import LoadReport
from scrapeguard.types import Action

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _d(actor: str, action: Action, subjects: int, requests: int, rules: int = 1,
       before: int = 0) -> Decision:
    return Decision(actor=actor, kind=actor.split(":", 1)[0], action=action, score=0.9,
                    first_action_ts=T0, requests=requests, subjects=subjects,
                    subjects_before_action=before, rules=[f"rule-{i}" for i in range(rules)],
                    reasons=[f"reason of {actor}"])


def _render(decisions: list[Decision], *, top: int = 20, width: int = 80) -> str:
    analysis = Analysis(
        decisions=decisions,
        load=LoadReport.build("events", [], []),
        enrich=EnrichStats(inferred_templates=[], allowlisted_requests={}),
        calibration=Calibration(),
        totals={"events": 1, "subject_requests": 0, "distinct_items": 1, "allowlisted": 0},
    )
    out = io.StringIO()
    render(analysis, Console(file=out, width=width, color_system=None), top=top)
    return out.getvalue()


def _order(out: str, actors: list[str]) -> list[str]:
    return sorted(actors, key=out.index)


def test_without_records_the_strongest_action_comes_first_then_requests_then_rules() -> None:
    decisions = [
        _d("ip:1.4.0.1", "challenge", 0, 500),
        _d("ip:1.4.0.2", "throttle", 0, 900),
        _d("ip:9.9.9.9", "block", 0, 3),
        _d("ip:9.9.9.8", "block", 0, 40),
        _d("ip:9.9.9.7", "block", 0, 40, rules=3),
        _d("ip:5.5.5.5", "decoy", 0, 1),
    ]
    out = _render(decisions, top=4)
    head = out.splitlines()[1]
    assert "none received records; by action, then requests" in head
    shown = ["ip:9.9.9.7", "ip:9.9.9.8", "ip:9.9.9.9", "ip:5.5.5.5"]
    assert _order(out, shown) == shown
    assert "ip:1.4.0.1" not in out
    assert "ip:1.4.0.2" not in out
    assert "No acted-on actor received people's records." in out
    assert "after 0 (" not in out


def test_records_received_rank_first_and_ties_go_to_the_stronger_action() -> None:
    decisions = [
        _d("ip:1.1.1.1", "challenge", 50, 60),
        _d("ip:2.2.2.2", "block", 50, 10),
        _d("ip:3.3.3.3", "throttle", 900, 1000),
        _d("ip:4.4.4.4", "block", 0, 5000),
    ]
    out = _render(decisions)
    assert "by records received" in out.splitlines()[1]
    order = ["ip:3.3.3.3", "ip:2.2.2.2", "ip:1.1.1.1", "ip:4.4.4.4"]
    assert _order(out, order) == order


def test_counts_are_pluralised_and_lines_fit() -> None:
    out = _render([_d("ip:1.1.1.1", "block", 1, 1, before=1), _d("ip:2.2.2.2", "block", 2, 2)])
    assert max(len(line) for line in out.splitlines()) <= 80
    flat = " ".join(out.split())
    assert "block 1 record first action" in flat
    assert "after 1 record, 1 request rules" in flat
    assert "after 0 records, 2 requests rules" in flat
    assert "1 records" not in flat
    assert "1 requests" not in flat
    assert "(s)" not in flat
    assert "received 3 records summed over actors" in flat
    assert "stopped them after 1 record (33.3%)" in flat


def test_group_actor_shows_its_members_by_kind() -> None:
    campaign = _d("campaign:enum:/u/{n}", "block", 120, 130)
    campaign.members = ["ip:10.0.0.1", "ip:10.0.0.2", "account:bob"]
    out = " ".join(_render([campaign]).split())
    assert "campaign:enum:/u/{n} (2 addresses, 1 account)" in out


def test_explanation_templates_pluralise_their_counts() -> None:
    rule = Rule(id="x", kind="ip", when="clients >= 1", action="block",
                explain="as {clients} client(s) of {hosts} host(s), {n} well-known target(s)")
    firing = Firing(rule=rule, actor=1, kind="ip", first_ts=T0,
                    values={"clients": 1.0, "hosts": 3.0, "n": 1.0})
    assert explain(firing, "ip:1.1.1.1") == "as 1 client of 3 hosts, 1 well-known target"


def test_report_labels_and_dashboard_rows_follow_the_terminal_order() -> None:
    """The report's A1, A2 … and the dashboard's rows used to break ties their own way (first
    action; requests): the same actors then had different ranks on the three screens."""
    from scrapeguard.report.impact import acting
    from scrapeguard.report.rank import by_harm
    from scrapeguard.service.admin import ranked

    decisions = [
        _d("ip:1.4.0.1", "challenge", 7, 500),
        _d("ip:1.4.0.2", "block", 7, 90),
        _d("ip:9.9.9.9", "throttle", 0, 3),
        _d("ip:9.9.9.8", "block", 0, 40, rules=3),
        _d("ip:9.9.9.7", "block", 0, 40),
        _d("ip:5.5.5.5", "allow", 50, 1),
    ]
    terminal = [d.actor for d in by_harm(decisions)]
    assert terminal == ["ip:1.4.0.2", "ip:1.4.0.1", "ip:9.9.9.8", "ip:9.9.9.7", "ip:9.9.9.9"]
    assert [d.actor for d in acting(decisions)] == terminal
    rows = ranked([d.to_json() for d in decisions if d.action != "allow"])
    assert [row["actor"] for row in rows] == terminal
