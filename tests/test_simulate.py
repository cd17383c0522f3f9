"""The simulator's files: determinism, line alignment, the manifest, bad arguments.

Runs are an hour of a few scenarios at a few percent of the volume, so the suite stays fast.
Scenario shapes are checked in test_simulate_scenarios.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from scrapeguard.simulate import SCENARIOS, SimulationError, simulate

Row = dict[str, Any]

COMBINED = re.compile(
    r'^(?P<ip>\S+) - (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) '
    r'HTTP/1\.1" (?P<status>\d{3}) (?P<bytes>\d+) "(?P<referer>[^"]*)" "(?P<ua>[^"]*)"$'
)
TS = re.compile(r"^2026-03-0\dT\d\d:\d\d:\d\d\.\d{3}Z$")
KEYS = ["ts", "ip", "method", "path", "status", "bytes", "ua", "referer", "account", "session",
        "subjects", "fields", "hdr", "tls"]
PERSONAL = {"/user/{n}", "/api/v1/users/{n}", "/product/{n}/reviews", "/api/contacts/lookup",
            "/search", "/seller/orders"}


def route(path: str) -> str:
    """The path's template: ids become {n}, queries and asset hashes are dropped."""
    path = path.split("?")[0]
    if path.startswith("/static/"):
        return "/static/*"
    return re.sub(r"/\d+", "/{n}", path)


def load(out: Path) -> list[Row]:
    """Events with their truth columns."""
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    truth = (out / "truth.tsv").read_text().splitlines()
    assert truth[0] == "scenario\tlabel\tidentity"
    for event, line in zip(events, truth[1:], strict=True):
        event["scenario"], event["label"], event["identity"] = line.split("\t")
    return events


SMALL: dict[str, Any] = {"hours": 1, "scale": 0.05,
                         "scenarios": ["shoppers", "enumerator", "contact_importer", "uptime"]}


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path) -> None:
    """Evaluation results are only comparable if the measuring stick does not move."""
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    simulate(first, seed=3, **SMALL)
    simulate(second, seed=3, **SMALL)
    simulate(other, seed=4, **SMALL)
    for name in ("events.jsonl", "access.log", "truth.tsv", "manifest.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "events.jsonl").read_bytes() != (other / "events.jsonl").read_bytes()


def test_files_are_line_aligned_and_sorted(tmp_path: Path) -> None:
    """Line i of the JSON, the combined log and the truth is one event, so a detector fed
    either format is scored against the same labels."""
    report = simulate(tmp_path, seed=5, **SMALL)
    events = (tmp_path / "events.jsonl").read_text().splitlines()
    log = (tmp_path / "access.log").read_text().splitlines()
    truth = (tmp_path / "truth.tsv").read_text().splitlines()[1:]
    assert len(events) == len(log) == len(truth) == report.events > 1000
    previous = ""
    for text, line in zip(events, log, strict=True):
        event = json.loads(text)
        assert list(event) == KEYS
        assert TS.match(event["ts"])
        assert event["ts"] >= previous
        previous = event["ts"]
        match = COMBINED.match(line)
        assert match, line
        assert match["ip"] == event["ip"]
        assert match["method"] == event["method"]
        assert match["path"] == event["path"]
        assert int(match["status"]) == event["status"]
        assert int(match["bytes"]) == event["bytes"]
        assert match["user"] == (event["account"] or "-")
        assert match["referer"] == (event["referer"] or "-")
        assert match["ua"] == (event["ua"] or "-")
        day, clock = event["ts"][8:10], event["ts"][11:19]
        assert match["time"] == f"{day}/Mar/2026:{clock} +0000"


def test_manifest_describes_the_run(tmp_path: Path) -> None:
    """Downstream scoring needs per-scenario counts and the site's routes without re-reading."""
    report = simulate(tmp_path, seed=5, **SMALL)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 5
    assert manifest["start"] == "2026-03-02T00:00:00.000Z"
    assert set(manifest["scenarios"]) == set(SMALL["scenarios"])
    assert sum(s["events"] for s in manifest["scenarios"].values()) == report.events
    assert manifest["scenarios"]["enumerator"]["identities"] == 1
    templates = {r["template"] for r in manifest["site"]["routes"]}
    assert {"/user/{id}", "/api/contacts/lookup?phone=+86{number}", "/robots.txt"} <= templates


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SimulationError, match="unknown scenario"):
        simulate(tmp_path, scenarios=["nope"])
    with pytest.raises(SimulationError):
        simulate(tmp_path, hours=0)


def test_every_scenario_registered_and_labelled() -> None:
    assert len(SCENARIOS) >= 14
    assert {s.label for s in SCENARIOS.values()} == {"human", "goodbot", "scraper"}




def test_scalar_hash_matches_the_column_hash() -> None:
    """Step-by-step walks use the scalar hash; the site's facts must not depend on which."""
    import numpy as np

    from scrapeguard.simulate import site

    ids = np.array([1, 2, 77, 123_456, site.PEOPLE], dtype=np.int64)
    for slot in range(6):
        expected = site.related(ids, np.full(len(ids), slot)).tolist()
        assert [site.related_one(int(i), slot) for i in ids] == expected


def test_configured_scenarios_and_progress(tmp_path: Path) -> None:
    """Scenarios are dataclasses of parameters: a configured instance runs as given, and
    progress reaches the total so a bar can finish."""
    from scrapeguard.simulate.scenarios.contact_importer import ContactImporter

    calls: list[tuple[int, int]] = []
    report = simulate(tmp_path, hours=1, scenarios=[ContactImporter(per_hour=20)],
                      progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (report.events, report.events)
    per_ip: dict[str, int] = {}
    for line in (tmp_path / "events.jsonl").read_text().splitlines():
        ip = json.loads(line)["ip"]
        per_ip[ip] = per_ip.get(ip, 0) + 1
    assert len(per_ip) > 20
    assert max(per_ip.values()) <= 20
