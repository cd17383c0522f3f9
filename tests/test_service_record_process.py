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


def test_a_start_without_calibration_warns_once_not_once_per_process(
        redis_url: str, tmp_path: Path) -> None:
    """The record lane's child builds its engine from the same settings; its copy of each
    warning doubled what a newcomer read at every start."""
    from service_support import ServiceProcess, free_port

    service = ServiceProcess({"SCRAPEGUARD_STORE": redis_url, "SCRAPEGUARD_EVENTS_UDP": "",
                              "SCRAPEGUARD_SECRET_FILE": str(tmp_path / "key")}, free_port())
    service.start()
    process = service.process
    assert process is not None
    assert process.stderr is not None
    process.terminate()
    process.wait(30)
    said = process.stderr.read().decode()
    process.stderr.close()
    service.process = None
    assert said.count("rule exposure-daily-account: no calibration") == 1, said
