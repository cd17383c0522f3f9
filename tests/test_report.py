"""The breach-impact report: figures that match the decisions and the log, redaction, a page
that loads nothing, and `report affected` listing exactly what each actor received."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from report_logs import ENUMERATOR, HOSTILE_UA, PHONE_HARVESTER, Harvests, write_log
from scrapeguard.cli import app
from scrapeguard.report.redact import Redactor, mask

pytest.importorskip("altair")
pytest.importorskip("vl_convert")


def _run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report log analysed twice (redacted, unredacted), and `report affected` once."""
    out = tmp_path_factory.mktemp("report")
    log, policy, harvests = write_log(out)
    _run("analyze", str(log), "--policy", str(policy), "-q", "--decisions",
         str(out / "d.jsonl"), "--report", str(out / "r.html"), "--report-json",
         str(out / "r.json"))
    _run("analyze", str(log), "--policy", str(policy), "-q", "--unredacted",
         "--report", str(out / "raw.html"), "--report-json", str(out / "raw.json"))
    result = CliRunner().invoke(app, ["report", "affected", str(log), "--policy", str(policy),
                                      "--decisions", str(out / "d.jsonl"),
                                      "--out", str(out / "affected.csv")])
    assert result.exit_code == 0, result.output
    return {
        "dir": out, "harvests": harvests, "affected_output": result.output,
        "decisions": [json.loads(line) for line in (out / "d.jsonl").read_text().splitlines()],
        "report": json.loads((out / "r.json").read_text()),
        "html": (out / "r.html").read_text(),
        "raw_html": (out / "raw.html").read_text(),
        "raw": json.loads((out / "raw.json").read_text()),
    }


def test_actor_figures_are_the_decisions(built: dict[str, Any]) -> None:
    actors = {a["actor"]: a for a in built["report"]["actors"]}
    assert set(actors) == {d["actor"] for d in built["decisions"]}
    for d in built["decisions"]:
        a = actors[d["actor"]]
        assert (a["records"], a["records_before_action"], a["requests"]) == (
            d["subjects"], d["subjects_before_action"], d["requests"])
        assert a["records_preventable"] == d["subjects"] - d["subjects_before_action"]
        assert a["first_action_ts"] == d["first_action_ts"]
        assert a["first_seen"] <= a["first_action_ts"] <= a["last_seen"]
        points = [p for p in built["report"]["timeline"]["points"] if p["id"] == a["id"]]
        assert sum(p["records"] for p in points) == a["records"]
        assert sum(p["requests"] for p in points) == a["requests"]


def test_people_affected_counted_from_the_log(built: dict[str, Any]) -> None:
    harvests: Harvests = built["harvests"]
    summary = built["report"]["summary"]
    # The three harvesters took disjoint sets of people, so the union is the sum.
    assert summary["people_affected"] == sum(len(s) for s in harvests.received.values())
    assert summary["people_before_action"] == sum(
        d["subjects_before_action"] for d in built["decisions"])
    assert summary["people_preventable"] == (
        summary["people_affected"] - summary["people_before_action"])
    by_actor = {a["actor"]: a for a in built["report"]["actors"]}
    phones = by_actor[f"ip:{PHONE_HARVESTER}"]
    assert phones["fields"] == {"name": 60, "phone": 60}
    assert phones["routes"] == {"/api/contacts/lookup": 60}
    assert "phone" in summary["fields"]
    assert any("OAT-011" in t for t in by_actor[f"ip:{ENUMERATOR}"]["techniques"])


def test_redacted_by_default(built: dict[str, Any]) -> None:
    harvests: Harvests = built["harvests"]
    ids = set().union(*harvests.received.values()) - harvests.phones
    texts = [built["html"], *_strings(built["report"])]
    for text in texts:
        for phone in harvests.phones:
            assert phone not in text
            assert phone[1:] not in text
        for uid in ids:
            assert f"/{uid}" not in text
            assert f"={uid}" not in text
    strings = set(_strings(built["report"]))
    assert not strings & ids, "a raw subject id is listed in the JSON"
    assert built["report"]["redacted"] is True
    evidence = [e["line"] for a in built["report"]["actors"] for e in a["evidence"]]
    assert any(re.search(r"/user/6\*{3}\d", line) for line in evidence)
    assert any(re.search(r"phone=\+86\*+\d\d", line) for line in evidence)


def test_unredacted_quotes_the_log(built: dict[str, Any]) -> None:
    harvests: Harvests = built["harvests"]
    assert built["raw"]["redacted"] is False
    assert "/user/60000" in built["raw_html"]
    assert any(phone in built["raw_html"] for phone in harvests.received[f"ip:{PHONE_HARVESTER}"])
    assert "UNREDACTED" in built["raw_html"]


def test_page_loads_nothing_and_escapes_the_log(built: dict[str, Any]) -> None:
    page = built["html"]
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", page, re.I)
    assert not re.search(r"<script[^>]*\bsrc=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert "@import" not in page
    assert "url(http" not in page
    assert HOSTILE_UA not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<svg") >= 3
    assert "Not legal advice" in page


def test_notification_sections(built: dict[str, Any]) -> None:
    notification = built["report"]["notification"]
    assert notification["not_legal_advice"] is True
    ids = [s["id"] for s in notification["sections"]]
    assert ids == ["nature", "scale", "consequences", "measures", "timing", "contact"]
    scale = next(s for s in notification["sections"] if s["id"] == "scale")
    assert scale["figures"]["people_affected"] == built["report"]["summary"]["people_affected"]
    todos = [t for s in notification["sections"] for t in s["to_complete"]]
    assert todos
    assert all(t["value"] is None and t["prompt"] for t in todos)


def test_affected_lists_exactly_what_each_actor_received(built: dict[str, Any]) -> None:
    harvests: Harvests = built["harvests"]
    with (built["dir"] / "affected.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows
    assert list(rows[0]) == ["actor", "subject", "first_received", "fields"]
    listed: dict[str, set[str]] = {}
    for row in rows:
        # a cell a spreadsheet would run (`+8613…`) carries a leading apostrophe to strip
        subject = row["subject"][1:] if row["subject"].startswith("'") else row["subject"]
        listed.setdefault(row["actor"], set()).add(subject)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", row["first_received"])
    assert listed == harvests.received
    phone_rows = [r for r in rows if r["actor"] == f"ip:{PHONE_HARVESTER}"]
    assert {r["fields"] for r in phone_rows} == {"name;phone"}
    assert "personal data" in built["affected_output"]


@pytest.mark.parametrize(("value", "masked"), [
    ("812342", "8****2"),
    ("+8613800131234", "+86*********34"),
    ("jane.doe@mail.example.org", "j******e@m***.e*****e.org"),
    ("ab", "**"),
])
def test_mask(value: str, masked: str) -> None:
    assert mask(value) == masked


def test_redactor_keeps_shape() -> None:
    redactor = Redactor()
    assert redactor.path("/api/v1/users/123/orders?page=2&q=Alice") == \
        "/api/v1/users/1**/orders?page=2&q=A***e"
    assert redactor.url("https://shop.example/user/4411") == "https://shop.example/user/4***"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A simulated day at 2 % of the default volume, analysed, and its report built."""
    simulate = pytest.importorskip("scrapeguard.simulate").simulate
    from scrapeguard.analysis import analyze
    from scrapeguard.policy.load import load_policy
    from scrapeguard.report.html import render_html
    from scrapeguard.report.impact import build

    out = tmp_path_factory.mktemp("simulated")
    simulate(out, seed=5, hours=24, scale=0.02)
    policy = load_policy(None)
    analysis = analyze([str(out / "events.jsonl")], policy=policy, keep_connection=True)
    try:
        report = build(analysis, policy)
    finally:
        analysis.connection.close()
    return {"dir": out, "report": report, "decisions": analysis.decisions,
            "html": render_html(report)}


def test_simulated_day_matches_its_decisions(simulated: dict[str, Any]) -> None:
    report = simulated["report"]
    acting = {d.actor: d for d in simulated["decisions"] if d.action != "allow"}
    assert len(report["actors"]) == len(acting) > 3
    for a in report["actors"]:
        d = acting[a["actor"]]
        assert (a["records"], a["records_before_action"]) == (d.subjects, d.subjects_before_action)
        points = [p for p in report["timeline"]["points"] if p["id"] == a["id"]]
        assert sum(p["records"] for p in points) == a["records"]
    s = report["summary"]
    assert max(a["records"] for a in report["actors"]) <= s["people_affected"]
    assert s["people_affected"] <= s["records_received"]
    assert s["people_before_action"] <= min(s["people_affected"], s["records_before_action"])
    assert {"phone", "name"} <= set(s["fields"])  # from the JSON events' own `fields`


def test_simulated_day_is_redacted(simulated: dict[str, Any]) -> None:
    events = (simulated["dir"] / "events.jsonl").read_text().splitlines()
    phones = {m for line in events[:20000] for m in re.findall(r"phone=(\+\d{8,})", line)}
    assert phones
    for phone in phones:
        assert phone not in simulated["html"]


def test_simulated_people_within_what_eval_counts(simulated: dict[str, Any]) -> None:
    """Every record an acted-on actor took was received by some scenario's identity, so the
    report's people are at most what eval counts over all scenarios."""
    scoring = pytest.importorskip("scrapeguard.scoring")
    cards = scoring.evaluate(simulated["dir"], simulated["decisions"], baselines=False)
    received = sum(s.records for s in cards[0].scenarios)
    assert 0 < simulated["report"]["summary"]["people_affected"] <= received


def test_a_quiet_log_gives_a_short_report(tmp_path: Path) -> None:
    from logbuilder import Log

    log = Log()
    log.person()
    path = log.write(tmp_path / "quiet.log")
    _run("analyze", str(path), "-q", "--report", str(tmp_path / "r.html"),
         "--report-json", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["actors"] == []
    assert report["summary"]["people_affected"] == 0
    assert "found no bulk harvesting" in (tmp_path / "r.html").read_text()
