"""The stream engine on a real Redis server agrees with the batch engine.

Distinct counts on Redis are HyperLogLogs: exact in their sparse form for the small sets here,
about 0.8% standard error beyond. So the same actors must be acted on with the same actions,
and a first-action time may move only within the window of the rule that set it.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from logbuilder import Log
from scrapeguard.analysis import analyze
from scrapeguard.engines.replay import replay
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.policy.load import load_policy
from test_rule_samples import SAMPLES

pytestmark = pytest.mark.redis
DATA = Path(__file__).parent / "data"


def test_redis_stream_agrees_with_batch(redis_url: str, tmp_path: Path) -> None:
    log = Log()
    log.person()
    for build in SAMPLES.values():
        build(log)
    path = str(log.write(tmp_path / "samples.log"))
    policy = str(DATA / "sample_policy.yaml")
    batch = analyze([path], policy=policy)
    engine = StreamEngine(policy, redis_url, calibration=batch.calibration, secret=b"t")
    stream = {d.actor: d for d in replay([path], engine)}
    windows = {r.id: timedelta(seconds=r.window_seconds) for r in load_policy(policy).rules}
    assert {d.actor: d.action for d in batch.decisions} == \
        {a: d.action for a, d in stream.items()}
    for decision in batch.decisions:
        other = stream[decision.actor]
        slack = min(windows[r] for r in decision.rules)
        assert abs(other.first_action_ts - decision.first_action_ts) <= slack, decision.actor


def test_state_is_shared_between_engines(redis_url: str, tmp_path: Path) -> None:
    """Two gateway nodes, one Redis: an enumerator split across them is seen whole."""
    log = Log()
    for n in range(30):
        log.hit(60 + 3 * n, "203.0.113.7", f"/user/{100 + n}")
    path = str(log.write(tmp_path / "split.log"))
    policy = str(DATA / "sample_policy.yaml")
    nodes = [StreamEngine(policy, redis_url, secret=b"t") for _ in range(2)]
    from scrapeguard.engines.replay import events
    from scrapeguard.engines.verdict import Request

    for n, event in enumerate(events([path])):
        nodes[n % 2].record(event)
    for node in nodes:
        # The store knows the address only by keyed hash: a node names a decision once it
        # has made it or met it on a request, as here.
        verdict = node.check(Request(ip="203.0.113.7", path="/user/200"))
        assert (verdict.actor, verdict.action) == ("ip:203.0.113.7", "block")
        decided = {d.actor: d for d in node.decisions()}
        assert "sequential-enumeration" in decided["ip:203.0.113.7"].rules


def test_campaign_membership_is_shared_between_engines(redis_url: str, tmp_path: Path) -> None:
    """A botnet's lookups land on two nodes; a third node refuses a member that joined on
    either of them before the campaign was acted on, and serves a newcomer."""
    from scrapeguard.engines.replay import events
    from scrapeguard.engines.verdict import Request
    from test_campaign_thin import CAMPAIGN, CHROME, bot_address, traffic

    path = tmp_path / "thin.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in traffic()))
    nodes = [StreamEngine(None, redis_url, secret=b"t") for _ in range(3)]
    for n, event in enumerate(events([str(path)])):
        nodes[n % 2].record(event)
    for bot in (0, 1):  # joined before the action; bot 1 by its cookie
        verdict = nodes[2].check(Request(ip=bot_address(bot), path="/user/99999", ua=CHROME,
                                         session=f"c{bot:04d}" if bot % 2 else None))
        assert (verdict.action, verdict.actor) == ("block", CAMPAIGN)
    stranger = nodes[2].check(Request(ip="192.0.2.200", path="/user/99998", ua=CHROME))
    assert stranger.action == "allow"
    assert CAMPAIGN in {d.actor for d in nodes[2].decisions()}
    assert all(not d.actor.startswith("member:") for d in nodes[2].decisions())


def test_batched_recording_and_checks_match_one_by_one(redis_url: str, tmp_path: Path) -> None:
    """`record_many` (one pipeline) and `check_many` (one MGET) decide exactly as one call
    per event and per request: same actors, same rules, same first-action times."""
    import redis as redis_client

    from scrapeguard.engines.replay import events
    from scrapeguard.engines.verdict import Request

    log = Log()
    log.person()
    for build in SAMPLES.values():
        build(log)
    path = str(log.write(tmp_path / "samples.log"))
    policy = str(DATA / "sample_policy.yaml")
    all_events = list(events([path]))
    outcomes = []
    for batch_size in (1, 50):
        redis_client.Redis.from_url(redis_url).flushdb()
        engine = StreamEngine(policy, redis_url, secret=b"t")
        fired = []
        for start in range(0, len(all_events), batch_size):
            fired += engine.record_many(all_events[start:start + batch_size])
        requests = [Request(ip=str(e["ip"]), path=str(e["path"]), ua=e.get("ua"))
                    for e in all_events[::7]]
        verdicts = (engine.check_many(requests) if batch_size > 1
                    else [engine.check(r) for r in requests])
        outcomes.append(({(d.actor, d.action, tuple(d.rules), d.first_action_ts)
                          for d in fired}, [(v.actor, v.action) for v in verdicts]))
    assert outcomes[0][0], "the samples fire no rule: the comparison would prove nothing"
    assert any(action != "allow" for _, action in outcomes[0][1])
    assert outcomes[0] == outcomes[1]
