"""`StreamEngine.campaign_members`: naming a campaign's members from candidates in clear,
when the store holds its membership marks by keyed hash only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from scrapeguard.engines.stream import StreamEngine
from service_support import POLICY

SPLIT = ("198.51.100.1", "198.51.100.2", "198.51.100.3")


def test_members_are_the_clients_that_split_the_harvest(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    engine = StreamEngine(policy=str(policy), secret=b"k" * 32)
    start = datetime(2026, 12, 7, 12, tzinfo=UTC)
    for n in range(120):
        engine.record({"ts": start + timedelta(seconds=n), "ip": SPLIT[n % 3],
                       "path": f"/user/{5000 + n}", "status": 200, "ua": "curl/8"})
    engine.record({"ts": start, "ip": "192.0.2.77", "path": "/about", "status": 200,
                   "ua": "Mozilla/5.0"})
    campaigns = [d.actor for d in engine.decisions() if d.kind == "campaign"]
    assert campaigns, "no campaign fired"
    candidates = [f"ip:{ip}" for ip in (*SPLIT, "192.0.2.77", "203.0.113.9")]
    for campaign in campaigns:
        named = engine.campaign_members(campaign.removeprefix("campaign:"), candidates)
        assert named == sorted(f"ip:{ip}" for ip in SPLIT), campaign
    assert engine.campaign_members("enum:/nowhere/{id}", candidates) == []
    assert engine.campaign_members(campaigns[0].removeprefix("campaign:"), []) == []
