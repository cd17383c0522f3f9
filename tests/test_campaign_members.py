"""`StreamEngine.campaign_members`: naming a campaign's members from candidates in clear,
when the store holds its membership marks by keyed hash only."""

from __future__ import annotations

import json
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


def test_a_campaign_lists_the_address_of_its_members_only_when_they_have_no_account(
        tmp_path: Path) -> None:
    """Accounts enumerating through a pool of residential addresses are the campaign's
    members; the addresses are not: a person logged in behind one of them (a proxy's exit is
    someone's home) is not reached, by `analyze` or live, while the accounts are."""
    from scrapeguard.analysis import analyze
    from scrapeguard.engines.replay import replay
    from scrapeguard.engines.verdict import Request

    pool = [f"198.51.100.{10 + n}" for n in range(20)]
    start = datetime(2026, 12, 7, 12, tzinfo=UTC)
    # Thirty people each reading one profile first: enough clients for the live engine to
    # learn the route (`routes/live.py`).
    lines = [{"ts": (start + timedelta(seconds=n - 60)).isoformat(), "ip": f"192.0.2.{10 + n}",
              "method": "GET", "path": f"/api/users/{500 + 7 * n}", "status": 200,
              "ua": "okhttp/4.12.0", "account": f"r{n}"} for n in range(30)]
    for k in range(40):
        for bot in range(4):
            n = 4 * k + bot
            lines.append({"ts": (start + timedelta(seconds=5 * n)).isoformat(),
                          "ip": pool[n % len(pool)], "method": "GET",
                          "path": f"/api/users/{10_000 * (bot + 1) + k}", "status": 200,
                          "ua": "okhttp/4.12.0", "account": f"bot{bot}"})
    person = {"ip": pool[0], "method": "GET", "path": "/api/users/77", "status": 200,
              "ua": "okhttp/4.12.0", "account": "alice"}
    lines.append({**person, "ts": (start + timedelta(seconds=900)).isoformat()})
    log = tmp_path / "pool.jsonl"
    log.write_text("".join(json.dumps(line) + "\n" for line in lines))

    decided = {d.actor: d for d in analyze([str(log)]).decisions}
    campaign = decided["campaign:enum:/api/users/{n}"]
    assert {f"account:bot{b}" for b in range(4)} <= set(campaign.members or [])
    assert not {m for m in campaign.members or [] if m.startswith("ip:")}
    assert not {"account:alice", f"ip:{pool[0]}"} & set(decided)

    engine = StreamEngine(None, "memory://", secret=b"test")
    replay([str(log)], engine)
    bot = engine.check(Request(ip=pool[5], path="/api/users/1", ua="okhttp/4.12.0",
                               account="bot1"))
    assert bot.action != "allow"
    alice = engine.check(Request(ip=pool[0], path="/api/users/78", ua="okhttp/4.12.0",
                                 account="alice"))
    assert alice.action == "allow"
