"""A crawl paced under the site's busy merchants is contained in its first days, by both
engines alike, without touching the heavy legitimate readers (pages-without-assets-account).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from logbuilder import Log
from scrapeguard.analysis import analyze
from scrapeguard.decisions import format_ts
from scrapeguard.engines.replay import replay
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.scoring import evaluate
from scrapeguard.simulate import simulate

DATA = Path(__file__).parent / "data"
DAY = 86400
RULE = "pages-without-assets-account"


def _three_days(tmp_path: Path) -> Path:
    """Three working days: a tool under a merchant's login reading 150 new people a day with
    no assets; a merchant re-reading its buyers and a support agent reading new people every
    day, both in a browser that loads each new person's picture."""
    rng = random.Random(5)
    log = Log()
    for n in range(25):  # shoppers whose browsers load the site's assets from this origin
        ip, at = f"203.0.113.{100 + n}", 600.0 + 60 * n
        log.hit(at, ip, "/product/17", referer="https://www.google.com/", size=9_000)
        for k, asset in enumerate(("/static/app.js", "/static/site.css", "/img/p/17.jpg")):
            log.hit(at + 0.2 + 0.1 * k, ip, asset, referer="https://shop.example/product/17")
    buyers = rng.sample(range(10_000, 99_999), 120)
    for day in range(3):
        at = day * DAY + 8 * 3600
        for user_id in rng.sample(range(100_000, 999_999), 150):
            at += rng.uniform(120, 200)
            log.hit(at, "198.51.100.78", f"/user/{user_id}", user="tool", size=21_000,
                    referer="https://shop.example/product/17/reviews?page=3")
        for who, ip, pool in (("merchant", "198.51.100.40", buyers), ("agent", "198.51.100.41",
                                                                         None)):
            at = day * DAY + 9 * 3600
            for n in range(180):
                user_id = rng.choice(pool) if pool else rng.randrange(100_000, 999_999)
                at += rng.uniform(60, 150)
                log.hit(at, ip, f"/user/{user_id}", user=who, size=21_000)
                if n % 3 == 0:
                    log.hit(at + 0.4, ip, f"/img/u/{user_id}.jpg", user=who,
                            referer=f"https://shop.example/user/{user_id}")
                if n % 40 == 0:
                    log.hit(at + 0.2, ip, "/static/app.js", user=who,
                            referer=f"https://shop.example/user/{user_id}")
    return log.write(tmp_path / "days.log")


def test_both_engines_stop_the_tool_on_its_first_day_and_spare_the_readers(
        tmp_path: Path) -> None:
    log, policy = str(_three_days(tmp_path)), str(DATA / "sample_policy.yaml")
    batch = analyze([log], policy=policy)
    engine = StreamEngine(policy, "memory://", calibration=batch.calibration, secret=b"test")
    streamed = replay([log], engine)

    def acted(decisions: list) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        return {d.actor: (d.action, format_ts(d.first_action_ts), tuple(sorted(d.rules)))
                for d in decisions if d.action != "allow"}

    assert acted(batch.decisions) == acted(streamed)
    decided = acted(batch.decisions)
    assert RULE in decided["account:tool"][2]
    assert decided["account:tool"][1].startswith("2026-03-02"), decided["account:tool"]
    assert not {"account:merchant", "account:agent", "ip:198.51.100.40",
                "ip:198.51.100.41"} & set(decided), decided


@pytest.mark.slow
def test_a_month_of_paced_crawl_is_contained_within_two_days(tmp_path: Path) -> None:
    """Thirty simulated days of the paced merchant-tool crawl beside merchants, heavy readers
    and office workers: contained within its first two days, no heavy reader or merchant
    acted on."""
    simulate(tmp_path, seed=7, hours=30 * 24, scale=0.05,
             scenarios=["merchants", "heavy_readers", "office_nat", "paced_crawl"])
    result = analyze([str(tmp_path / "events.jsonl")])
    card = {s.scenario: s
            for s in evaluate(tmp_path, result.decisions, baselines=False)[0].scenarios}
    crawl = card["paced_crawl"]
    assert crawl.contained_identities == crawl.identities
    assert crawl.median_minutes_to_containment is not None
    assert crawl.median_minutes_to_containment <= 2 * 24 * 60
    assert crawl.leaked <= 0.1 * crawl.records
    for people in ("merchants", "heavy_readers", "office_nat"):
        assert card[people].contained_identities == 0, people
