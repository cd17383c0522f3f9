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
