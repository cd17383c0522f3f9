"""eval's definitions, on a labelled set small enough to reason about by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from captured import captured
from scrapeguard import clientshape
from scrapeguard.decisions import Decision
from scrapeguard.scoring import evaluate
from scrapeguard.scoring.score import Scorecard

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _write(tmp: Path, rows: list[tuple[int, str, str, str, str, list[str] | None]]) -> Path:
    """rows: (second, ip, scenario, label, identity, subjects)."""
    with (tmp / "events.jsonl").open("w") as events, (tmp / "truth.tsv").open("w") as truth:
        truth.write("scenario\tlabel\tidentity\n")
        for second, ip, scenario, label, identity, subjects in rows:
            ts = (T0 + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            events.write(json.dumps({"ts": ts, "ip": ip, "method": "GET", "path": "/u",
                                     "status": 200, "bytes": 1, "ua": "Mozilla/5.0",
                                     "referer": None, "account": None, "session": None,
                                     "subjects": subjects, "fields": None}) + "\n")
            truth.write(f"{scenario}\t{label}\t{identity}\n")
    return tmp


def _decision(actor: str, second: int, action: str = "block",
              members: list[str] | None = None) -> Decision:
    return Decision(actor=actor, kind=actor.split(":")[0], action=action,  # type: ignore[arg-type]
                    score=1.0, first_action_ts=T0 + timedelta(seconds=second), requests=0,
                    subjects=0, subjects_before_action=0, rules=["r"], reasons=["r"],
                    members=members)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rows: list[tuple[int, str, str, str, str, list[str] | None]] = []
    for n in range(10):  # a harvester on two addresses, one record each second
        rows.append((n, f"203.0.113.{1 + n % 2}", "harvest", "scraper", "h", [f"s{n}"]))
    rows.append((3, "198.51.100.9", "people", "human", "alice", ["s1"]))
    rows.append((4, "198.51.100.10", "people", "human", "bob", None))
    return _write(tmp_path, rows)


def _card(data: Path, decisions: list[Decision]) -> Scorecard:
    return evaluate(data, decisions, baselines=False)[0]


def test_nothing_decided_leaks_everything(data: Path) -> None:
    card = _card(data, [])
    harvest = next(s for s in card.scenarios if s.scenario == "harvest")
    assert (harvest.records, harvest.leaked, harvest.contained_identities) == (10, 10, 0)
    assert card.people_affected_share == 0


def test_containment_applies_at_or_after_the_first_action(data: Path) -> None:
    card = _card(data, [_decision("ip:203.0.113.1", 4), _decision("ip:203.0.113.2", 4)])
    harvest = next(s for s in card.scenarios if s.scenario == "harvest")
    assert harvest.leaked == 4  # seconds 0-3 were served, 4 onward refused
    assert harvest.median_minutes_to_containment == pytest.approx(4 / 60)
    assert card.scraper_leaked_share == pytest.approx(0.4)


def test_members_contain_like_their_own_keys(data: Path) -> None:
    campaign = _decision("campaign:enum:/u", 6, members=["ip:203.0.113.1", "ip:203.0.113.2"])
    harvest = next(s for s in _card(data, [campaign]).scenarios if s.scenario == "harvest")
    assert harvest.leaked == 6


def test_a_member_that_joined_late_is_contained_only_from_then(data: Path) -> None:
    """203.0.113.2 (odd seconds) joined at second 7, after the campaign acted at 2: its
    requests at 3 and 5 were served, its 7 and 9 refused; .1 is covered from 2."""
    campaign = _decision("campaign:thin:/u", 2, members=["ip:203.0.113.1", "ip:203.0.113.2"])
    campaign.members_first_action_ts = [T0 + timedelta(seconds=2), T0 + timedelta(seconds=7)]
    harvest = next(s for s in _card(data, [campaign]).scenarios if s.scenario == "harvest")
    assert harvest.leaked == 4  # s0, s1, s3, s5


def test_member_times_survive_the_decisions_file(tmp_path: Path) -> None:
    campaign = _decision("campaign:thin:/u", 2, members=["ip:203.0.113.1", "ip:203.0.113.2"])
    campaign.members_first_action_ts = [T0 + timedelta(seconds=2), T0 + timedelta(seconds=7)]
    record = json.loads(json.dumps(campaign.to_json()))
    assert record["members_first_action_ts"] == ["2026-03-02T08:00:02.000Z",
                                                 "2026-03-02T08:00:07.000Z"]
    assert Decision.from_json(record).members_first_action_ts == \
        campaign.members_first_action_ts
    record["members_first_action_ts"] = record["members_first_action_ts"][:1]  # misaligned
    assert Decision.from_json(record).members_first_action_ts is None


def test_the_floor_counts_records_served_to_strangers(data: Path) -> None:
    """Second 0 is the first sight of 203.0.113.1 and its network; 203.0.113.2 at second 1 is
    new, but its /24 is not: a detector acting on networks could have refused it."""
    card = _card(data, [])
    harvest = next(s for s in card.scenarios if s.scenario == "harvest")
    assert harvest.first_sight == 1
    assert card.scraper_first_sight_share == pytest.approx(0.1)


def test_allow_decisions_contain_nothing(data: Path) -> None:
    allow = _decision("ip:203.0.113.1", 0, action="allow")
    harvest = next(s for s in _card(data, [allow]).scenarios if s.scenario == "harvest")
    assert harvest.leaked == 10


def test_a_person_throttled_counts_as_affected(data: Path) -> None:
    card = _card(data, [_decision("ip:198.51.100.9", 0, action="throttle")])
    people = next(s for s in card.scenarios if s.scenario == "people")
    assert (people.contained_identities, people.identities) == (1, 2)
    assert card.people_affected_share == 0.5


def test_baselines_are_scored_in_the_same_run(data: Path) -> None:
    cards = evaluate(data, [], baselines=True)
    assert [c.tool for c in cards] == ["scrapeguard", "per-IP rate limit", "crawler UA list"]


def test_misaligned_truth_is_refused(data: Path) -> None:
    with (data / "truth.tsv").open("a") as truth:
        truth.write("extra\thuman\tx\n")
    from scrapeguard.errors import SourceError

    with pytest.raises(SourceError, match="line-aligned"):
        evaluate(data, [])


def test_a_fleet_sharing_a_contradicting_stack_lowers_the_floor(tmp_path: Path) -> None:
    """Ten addresses in ten networks, one record each, all python-requests behind Chrome's
    agent (captured): every request is a stranger's, so the floor is all ten records; with
    client stacks none is, the first included (its own headers contradict its agent). A
    decision on the `hdr` key contains the members that came after it. Real Chromium beside
    it lowers nothing."""
    fleet, chromium = captured("python-requests-chrome-ua"), captured("chromium")
    lines = []
    for n in range(10):
        lines.append((n, f"100.{64 + n}.0.1", "fleet", "scraper", f"f{n}", fleet, [f"s{n}"]))
        lines.append((n, f"198.{18 + n}.0.1", "people", "human", f"p{n}", chromium, [f"s{n}"]))
    with (tmp_path / "events.jsonl").open("w") as events, \
            (tmp_path / "truth.tsv").open("w") as truth:
        truth.write("scenario\tlabel\tidentity\n")
        for second, ip, scenario, label, identity, client, subjects in lines:
            ts = (T0 + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            events.write(json.dumps({"ts": ts, "ip": ip, "method": "GET", "path": "/u",
                                     "status": 200, "bytes": 1, "ua": client.ua,
                                     "subjects": subjects, "hdr": client.shape(),
                                     "tls": client.ja4}) + "\n")
            truth.write(f"{scenario}\t{label}\t{identity}\n")
    key = f"hdr:{clientshape.hdr_key(fleet.shape())}"
    card = _card(tmp_path, [_decision(key, 4)])
    scores = {s.scenario: s for s in card.scenarios}
    assert (scores["fleet"].first_sight, scores["fleet"].first_sight_stacks) == (10, 0)
    assert scores["people"].first_sight == scores["people"].first_sight_stacks == 10
    assert scores["fleet"].leaked == 4  # seconds 0-3; contained from the decision on
    assert card.people_affected_share == 0
