"""The record lane in a child process (Redis store): what it counts, the parent enforces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scrapeguard.service import build_app, load_config
from scrapeguard.service.app import decide_first
from service_support import ADMIN_TOKEN, serve_app
from test_service_api import HARVESTER, decide, event, ingest, policy_file, wait_refused

pytestmark = pytest.mark.redis


def test_the_child_counts_under_the_parents_key_without_a_configured_secret(
        redis_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No SCRAPEGUARD_SECRET: each process would draw its own random key, and the child's
    decisions would sit under hashes the parent never asks for. Events counted in the child
    must refuse the harvester at the parent's door, and leave everyone else alone."""
    monkeypatch.delenv("SCRAPEGUARD_SECRET", raising=False)
    monkeypatch.delenv("SCRAPEGUARD_SECRET_FILE", raising=False)
    config = load_config(env={}, store=redis_url, policy=policy_file(tmp_path),
                         admin_token=ADMIN_TOKEN, events_udp="")
    app = build_app(config)
    assert app.state.service.record_process is not None
    with serve_app(decide_first(app)) as url:
        answer = ingest(url, [json.dumps(event(HARVESTER, n)) for n in range(3)])
        assert answer.status_code < 300
        assert wait_refused(url, HARVESTER).headers["x-scrapeguard-action"] == "block"
        assert decide(url, "198.51.100.20").status_code == 204
    assert not app.state.service.record_process.process.is_alive()


def _started_and_stopped(env: dict[str, str]) -> str:
    """What `scrapeguard serve` wrote on stderr from its start to its stop."""
    from service_support import ServiceProcess, free_port

    service = ServiceProcess(env, free_port())
    service.start()
    process = service.process
    assert process is not None
    assert process.stderr is not None
    process.terminate()
    process.wait(30)
    said = process.stderr.read().decode()
    process.stderr.close()
    service.process = None
    return said


def test_a_start_without_calibration_warns_once_not_once_per_process(
        redis_url: str, tmp_path: Path) -> None:
    """The record lane's child builds its engine from the same settings; its copy of each
    warning doubled what a newcomer read at every start."""
    said = _started_and_stopped({"SCRAPEGUARD_STORE": redis_url, "SCRAPEGUARD_EVENTS_UDP": "",
                                 "SCRAPEGUARD_SECRET_FILE": str(tmp_path / "key")})
    assert said.count("rule exposure-daily-account: no calibration") == 1, said


CALIBRATION = {
    "percentiles": {rule: [{"feature": feature, "q": 99.0, "value": value}]
                    for rule, feature, value in (
                        ("exposure-daily", "subjects", 598.8),
                        ("exposure-daily-account", "subjects", 85.91),
                        ("exposure-monthly-account", "subjects", 85.91),
                        ("new-lookups-account", "asked_beyond_day", 0.0))},
    "subject_templates": ["/user/{n}"], "catalogue_templates": [], "asset_templates": []}
"""What `scrapeguard calibrate` wrote for examples/shop-access.log.gz, cut to one template."""


def test_serve_takes_a_calibration_in_both_its_processes(redis_url: str, tmp_path: Path) -> None:
    """Its start-up warnings said to run `scrapeguard calibrate`, and serve had no way to
    take the file: now `--calibration` (or SCRAPEGUARD_CALIBRATION) reaches the decision
    process and the record lane's child, which counts and fires the rules."""
    from scrapeguard.errors import ScrapeGuardError
    from scrapeguard.service.record_process import child_guard
    calibration = tmp_path / "calibration.json"
    calibration.write_text(json.dumps(CALIBRATION))
    app = build_app(load_config(None, env={}, calibration=str(calibration)))
    engine = app.state.service.engine
    assert engine.calibration.percentiles_for("exposure-daily-account")
    assert "/user/{n}" in engine.calibration.subject_templates
    app.state.service.close()
    with pytest.raises(ScrapeGuardError, match="not a calibration file"):
        build_app(load_config(None, env={}, calibration=str(tmp_path / "missing.json")))
    child = child_guard(load_config(None, env={}, store=redis_url,
                                    calibration=str(calibration)), b"k" * 32)
    assert child.engine.calibration.percentiles_for("exposure-daily-account")  # type: ignore[attr-defined]
    child.close()
    said = _started_and_stopped({"SCRAPEGUARD_STORE": redis_url, "SCRAPEGUARD_EVENTS_UDP": "",
                                 "SCRAPEGUARD_CALIBRATION": str(calibration),
                                 "SCRAPEGUARD_SECRET_FILE": str(tmp_path / "key")})
    assert "no calibration" not in said, said
