"""Runs over many days: determinism, weekends, and the shapes of the long-campaign scenarios
and of the heavy legitimate readers they must be told apart from.

A week at a tenth of the volume: the shapes are per account and per day, so they hold at
any scale.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from scrapeguard import clientshape
from scrapeguard.simulate import SCENARIOS, SimulationError, simulate
from scrapeguard.simulate.scenarios.lookup_pool import LookupPool
from scrapeguard.simulate.scenarios.stack_fleet import StackFleet
from test_simulate import Row, load, route

WEEK = ["merchants", "heavy_readers", "paced_crawl", "lookup_pool", "stack_fleet"]


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> list[Row]:
    out = tmp_path_factory.mktemp("week")
    simulate(out, seed=5, hours=7 * 24, scale=0.1, scenarios=WEEK)
    return load(out)


def of(rows: list[Row], scenario: str) -> list[Row]:
    return [r for r in rows if r["scenario"] == scenario]


def weekend(row: Row) -> bool:
    return date.fromisoformat(row["ts"][:10]).weekday() >= 5


def per_account_day(rows: list[Row]) -> dict[tuple[str, str], list[Row]]:
    days: dict[tuple[str, str], list[Row]] = defaultdict(list)
    for r in rows:
        if r["account"]:
            days[r["account"], r["ts"][:10]].append(r)
    return days


def people(rows: list[Row]) -> set[str]:
    return {s for r in rows for s in r["subjects"] or ()}


def profiles(rows: list[Row]) -> int:
    return sum(1 for r in rows if route(r["path"]) == "/user/{n}")


def assets(rows: list[Row]) -> int:
    return sum(1 for r in rows if route(r["path"]) in ("/static/*", "/img/p/{n}.jpg",
                                                       "/favicon.ico"))


def test_days_are_deterministic_and_span_the_window(tmp_path: Path) -> None:
    runs = [tmp_path / "a", tmp_path / "b"]
    for out in runs:
        simulate(out, seed=3, hours=3 * 24, scale=0.02,
                 scenarios=["merchants", "paced_crawl", "stack_fleet"])
    for name in ("events.jsonl", "access.log", "truth.tsv", "manifest.json"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
    days = {r["ts"][:10] for r in load(runs[0])}
    assert days == {"2026-03-02", "2026-03-03", "2026-03-04"}


def test_named_groups_and_the_day_catalogue() -> None:
    """A run naming no scenario gets the day's catalogue that docs/results.md records; the
    long campaigns run when named."""
    extra = {name for name, cls in SCENARIOS.items() if not cls.default}
    assert {"paced_crawl", "heavy_readers", "lookup_pool", "stack_fleet"} <= extra
    with pytest.raises(SimulationError, match="all"):
        simulate(Path("/nonexistent"), scenarios=["every"])


def test_office_work_rests_at_the_weekend(week: list[Row]) -> None:
    for scenario in ("merchants", "heavy_readers"):
        rows = of(week, scenario)
        assert rows, scenario
        assert not any(weekend(r) for r in rows), scenario
    assert any(weekend(r) for r in of(week, "paced_crawl"))


def test_paced_crawl_stays_under_busy_merchants_every_day(week: list[Row]) -> None:
    """Each account-day of the crawl reads no more profiles and receives no more people than
    the 90th percentile of merchants' account-days; it reads every day, takes each person
    once over the whole run (per account), and loads no assets."""
    merchants = per_account_day(of(week, "merchants")).values()
    p90_people = np.percentile([len(people(d)) for d in merchants], 90)
    p90_profiles = np.percentile([profiles(d) for d in merchants], 90)
    crawl = of(week, "paced_crawl")
    days = per_account_day(crawl)
    assert len({day for _, day in days}) == 7
    for key, rows in days.items():
        assert len(people(rows)) <= p90_people, key
        assert profiles(rows) <= p90_profiles, key
        assert profiles(rows) >= 0.6 * p90_profiles, key  # paced, not idle
    viewed = Counter((r["account"], r["subjects"][0]) for r in crawl
                     if route(r["path"]) == "/user/{n}" and r["subjects"])
    assert max(viewed.values()) == 1
    assert assets(crawl) == 0
    assert len({r["ip"] for r in crawl}) == len({r["account"] for r in crawl})


def test_heavy_readers_read_many_people_in_a_browser(week: list[Row]) -> None:
    rows = of(week, "heavy_readers")
    by_role: dict[str, list[list[Row]]] = defaultdict(list)
    for day in per_account_day(rows).values():
        by_role[day[0]["identity"].split(":")[1]].append(day)
    assert set(by_role) == {"moderator", "customer_service", "recruiter"}
    for role, days in by_role.items():
        assert np.median([len(people(d)) for d in days]) >= 100, role
        assert min(assets(d) for d in days) > 0, role
    assert all(r["account"] for r in rows)


def test_lookup_pool_stays_under_its_quota_on_one_exit_per_account(week: list[Row]) -> None:
    rows = of(week, "lookup_pool")
    assert {route(r["path"]) for r in rows} == {"/api/contacts/lookup"}
    for key, day in per_account_day(rows).items():
        assert len(day) <= LookupPool().quota, key
    exits: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        exits[r["account"]].add(r["ip"])
    assert all(len(ips) == 1 for ips in exits.values())
    hits = sum(1 for r in rows if r["subjects"])
    assert hits / len(rows) > 0.7


def test_stack_fleet_shares_one_stack_that_contradicts_its_agents(week: list[Row]) -> None:
    rows = of(week, "stack_fleet")
    others = [r for r in week if r["scenario"] != "stack_fleet"]
    assert all(r["hdr"] for r in others)  # everyone's real stack, which no check refuses
    assert not any(clientshape.judge(r["ua"], r["hdr"], r["tls"]) != clientshape.Judgement()
                   for r in others)
    assert len({r["ip"] for r in rows}) >= 1_000
    assert len({r["ua"] for r in rows}) >= 10
    assert len({r["tls"] for r in rows}) == 1
    per_exit = Counter((r["ip"], r["ts"][:10]) for r in rows)
    assert max(per_exit.values()) <= StackFleet().per_day[1]
    judged = [clientshape.judge(r["ua"], r["hdr"], r["tls"]) for r in rows]
    # Chrome on iOS claims no browser stack (it is WebKit), so it is never judged.
    assert sum(1 for j in judged if j.header) >= 0.9 * len(rows)
    assert all(r["referer"] is None and r["session"] is None for r in rows)


def test_cli_days_spans_whole_days_and_refuses_bad_spans(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from scrapeguard.cli import app

    out = tmp_path / "two"
    done = CliRunner().invoke(app, ["simulate", "--out", str(out), "--days", "2", "--scale",
                                    "0.01", "--scenario", "paced_crawl"])
    assert done.exit_code == 0, done.output
    assert "48 h from 2026-03-02T00:00Z" in done.output
    assert {r["ts"][:10] for r in load(out)} == {"2026-03-02", "2026-03-03"}
    for args, message in ((["--days", "0"], "--days must be at least 1"),
                          (["--days", "2", "--hours", "5"], "not both")):
        done = CliRunner().invoke(app, ["simulate", "--out", str(tmp_path / "x"), *args])
        assert done.exit_code != 0
        assert message in done.output + (done.stderr or ""), done.output
