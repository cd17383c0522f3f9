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


def test_the_routes_the_child_learns_reach_the_deciding_parent(redis_url: str) -> None:
    """Only the child counts, so only its route learner sees the traffic; the parent plans
    its decisions' campaign keys by route template and must know the same templates. People
    reach profiles from a search page (and one client walks many profiles the same way)
    until the learner is warm and calls /user/{n} a person route: the parent's deriver must
    then hold it too, without having seen a single event."""
    import random
    import time
    from datetime import UTC, datetime, timedelta

    from scrapeguard.service.state import Service

    service = Service(load_config(env={}, store=redis_url, events_udp="", dashboard=False))
    assert service.record_process is not None
    assert "/user/{n}" not in service.engine.deriver.subject_templates
    start, rng = datetime.now(UTC) - timedelta(hours=1), random.Random(9)
    stream: list[tuple[float, dict[str, object]]] = []

    def hit(at: float, ip: str, path: str, referer: str | None = None) -> None:
        stream.append((at, {"ts": start + timedelta(seconds=at), "ip": ip, "method": "GET",
                            "path": path, "status": 200, "bytes": 4000,
                            "ua": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
                            "referer": referer and "https://shop.example" + referer,
                            "account": None, "session": None, "subjects": None}))

    for c in range(25):
        ip, at = f"198.51.100.{10 + c}", c * 50.0
        for _ in range(4):
            hit(at, ip, "/search", "/")
            hit(at + 0.2, ip, "/static/site.css", "/search")
            at += rng.uniform(15, 60)
            profile = f"/user/{rng.randrange(10_000, 99_999)}"
            hit(at, ip, profile, "/search")
            hit(at + 0.2, ip, "/static/site.css", profile)
            at += rng.uniform(15, 60)
    for n in range(400):
        hit(10 + 1.2 * n, "203.0.113.66", "/search", "/")
        hit(10.3 + 1.2 * n, "203.0.113.66", f"/user/{20_000 + n * 7}", "/search")
    try:
        service.record_process.submit_many([event for _, event in sorted(
            stream, key=lambda pair: pair[0])])
        deadline = time.monotonic() + 60
        while "/user/{n}" not in service.engine.deriver.subject_templates:
            assert time.monotonic() < deadline, "the parent never learned the route"
            time.sleep(0.05)
    finally:
        service.close()
