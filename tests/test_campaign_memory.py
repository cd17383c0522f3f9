"""Campaign membership carried across days (`settings.campaign_memory`): a client that split a
harvest yesterday is refused at its first lookup today while the campaign's decision stands,
as `analyze` covers a member from its joining on; a short memory forgets it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scrapeguard.engines.stream import StreamEngine
from scrapeguard.engines.verdict import Request
from scrapeguard.stores.memory import MemoryStore
from service_support import POLICY

SPLIT = tuple(f"198.51.{100 + n}.7" for n in range(12))
"""A thin botnet: fifteen bare lookups from each address, nothing any per-address rule counts."""
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0"
START = datetime(2026, 12, 7, 12, tzinfo=UTC)


def _engine(tmp_path: Path, memory: str, clock: list[float]) -> StreamEngine:
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY + f"settings:\n  campaign_memory: {memory}\n"
                      "  decision_ttl: {block: 30d}\n", encoding="utf-8")
    store = MemoryStore(clock=lambda: clock[0])
    return StreamEngine(policy=str(policy), store=store, secret=b"k" * 32)


@pytest.mark.parametrize(("memory", "refused"), [("7d", True), ("1h", False)])
def test_a_member_is_remembered_for_the_campaign_memory(tmp_path: Path, memory: str,
                                                         refused: bool) -> None:
    clock = [START.timestamp()]
    engine = _engine(tmp_path, memory, clock)
    for n in range(180):
        engine.record({"ts": START + timedelta(seconds=10 * n), "ip": SPLIT[n % len(SPLIT)],
                       "path": f"/user/{5000 + 37 * n}", "status": 200, "ua": BROWSER})
    decided = {d.kind for d in engine.decisions()}
    assert decided == {"campaign"}, decided
    clock[0] += 3 * 86400  # three days on: past a day's window and the hour's evidence
    verdict = engine.check(Request(ip=SPLIT[0], path="/user/9000", ua=BROWSER))
    assert (verdict.action == "block") is refused, verdict
    assert not refused or str(verdict.actor).startswith("campaign:thin:")
    stranger = engine.check(Request(ip="192.0.2.50", path="/user/9001", ua=BROWSER))
    assert stranger.action == "allow"
