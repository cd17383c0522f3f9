"""Memory over days: a crawl paced under every daily bar for weeks is caught by a budget over a
month, relative to the site's heaviest legitimate accounts, and both engines agree on it.

The heavy legitimate readers here are merchants reading their own buyers every working day:
many people a day, but the same few hundred people all month. The crawler reads fewer people
a day than they do (under their 90th percentile), but new people every day.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from logbuilder import START, Log
from scrapeguard.analysis import analyze
from scrapeguard.decisions import format_ts
from scrapeguard.engines.replay import replay
from scrapeguard.engines.stream import StreamEngine

DATA = Path(__file__).parent / "data"
DAY = 86400
DAYS = 14
MERCHANTS, BOOK, MERCHANT_DAILY = 10, 200, 120
CRAWL_DAILY = 100


def _month(tmp_path: Path) -> Path:
    rng = random.Random(11)
    log = Log()
    for merchant in range(MERCHANTS):
        book = rng.sample(range(10_000, 99_999), BOOK)
        for day in range(DAYS):
            if day % 7 in (5, 6):
                continue  # the weekend
            at = day * DAY + 8 * 3600 + merchant * 60
            for buyer in rng.sample(book, MERCHANT_DAILY):
                at += rng.uniform(20, 120)
                log.hit(at, f"198.51.100.{10 + merchant}", f"/user/{buyer}",
                        user=f"merchant{merchant}")
    for shopper in range(100):
        for day in range(DAYS):
            for n in range(3):
                log.hit(day * DAY + 3600 * (9 + n) + shopper * 7, f"10.2.{shopper}.3",
                        f"/user/{rng.randrange(10**5)}", user=f"shopper{shopper}")
    people = iter(rng.sample(range(100_000, 999_999), CRAWL_DAILY * DAYS))
    for day in range(DAYS):
        at = day * DAY + 7 * 3600
        for _ in range(CRAWL_DAILY):
            at += rng.uniform(200, 500)
            log.hit(at, "203.0.113.80", f"/user/{next(people)}", user="tool")
    return log.write(tmp_path / "month.log")


def _policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text((DATA / "sample_policy.yaml").read_text(encoding="utf-8") + """
rules:
  - id: exposure-monthly-account
    kind: account
    window: 30d
    hop: 10d
    when: "subjects >= max(1000, 3 * p99(subjects))"
    action: block
  # The crawl loads no asset and reads new people every day, so `new-lookups-account`
  # catches it on its fourth day (tests/test_lookup_budget.py): off here, where the month's
  # own budget is what is tested.
  - {id: new-lookups-account, enabled: false}
""", encoding="utf-8")
    return path


def test_a_paced_crawl_is_caught_over_the_month_and_both_engines_agree(tmp_path: Path) -> None:
    log, policy = _month(tmp_path), str(_policy(tmp_path))
    batch = analyze([str(log)], policy=policy)
    engine = StreamEngine(policy, "memory://", calibration=batch.calibration, secret=b"test")
    streamed = replay([str(log)], engine)

    def view(decisions: list) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        return {d.actor: (d.action, format_ts(d.first_action_ts), tuple(sorted(d.rules)))
                for d in decisions if d.action != "allow"}

    assert view(batch.decisions) == view(streamed)
    tool = next(d for d in batch.decisions if d.actor == "account:tool")
    assert tool.rules == ["exposure-monthly-account"], "no daily bar caught it"
    # The log starts six days before an epoch-aligned month ends: a fixed month would have
    # forgotten those days, and the crawl would still be under its bar on the last day.
    day = (tool.first_action_ts - START).days
    assert day == 1000 // CRAWL_DAILY - 1, "caught on the day its thousandth person was read"
    assert not [a for a in view(batch.decisions) if a.startswith("account:merchant")]


def test_a_hop_must_divide_its_window(tmp_path: Path) -> None:
    from scrapeguard.errors import PolicyError
    from scrapeguard.policy.load import load_policy

    path = tmp_path / "policy.yaml"
    path.write_text("rules:\n  - {id: month, kind: account, window: 30d, hop: 7d,\n"
                    "     when: 'subjects >= 5000', action: block}\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"policy.yaml:2.*hop '7d' must be shorter than the "
                       r"window '30d' and divide it"):
        load_policy(path)
    month = load_policy(None).rules
    phases = next(r for r in month if r.id == "exposure-monthly-account").phases
    assert phases == (0, 10 * DAY, 20 * DAY)
