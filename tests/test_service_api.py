"""The service's HTTP API in process (memory store): decisions for nginx, tokens, ingest,
manual decisions, syslog lines, metrics, settings and the checked-in OpenAPI document."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from captured import captured
from scrapeguard.clientshape import Judgement, judge
from scrapeguard.errors import ScrapeGuardError
from scrapeguard.service import build_app, load_config
from scrapeguard.service.app import decide_first, openapi_document
from scrapeguard.service.events import nginx_line
from service_support import ADMIN_TOKEN, ROOT, serve_app
from test_middleware_support import BROWSER_HEADERS, SECRET, one_rule_policy

AUTH = {"authorization": f"Bearer {ADMIN_TOKEN}"}
HARVESTER = "203.0.113.7"


def policy_file(tmp_path: Path, action: str = "block") -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(json.dumps(one_rule_policy(action, "requests >= 2").model_dump(
        mode="json", exclude_defaults=True)))
    return str(path)


@pytest.fixture
def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def service(tmp_path: Path, udp_port: int, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("SCRAPEGUARD_SECRET", SECRET.decode())
    config = load_config(env={}, policy=policy_file(tmp_path), admin_token=ADMIN_TOKEN,
                         events_udp=f"127.0.0.1:{udp_port}", max_ingest_bytes=4096)
    with serve_app(decide_first(build_app(config))) as url:  # as `scrapeguard serve` runs it
        yield url


def from_address(url: str, address: str = "127.0.0.1", **headers: str) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=10, headers={**BROWSER_HEADERS, **headers},
                        transport=httpx.HTTPTransport(local_address=address))


def decide(url: str, client_ip: str, peer: str = "127.0.0.1", **headers: str
           ) -> httpx.Response:
    """What nginx sends: the original request line in headers, its address in XFF."""
    with from_address(url, peer) as nginx:
        return nginx.get("/v1/decide", headers={
            "x-original-method": "GET", "x-original-uri": "/user/1?x=1",
            "x-forwarded-for": client_ip, **headers})


def event(ip: str, n: int) -> dict[str, Any]:
    return {"ts": datetime.now(UTC).isoformat(), "ip": ip, "method": "GET",
            "path": f"/user/{n}", "status": 200, "bytes": 100, "ua": "curl/8",
            "subjects": [f"s{n}"]}


def ingest(url: str, lines: list[str], headers: dict[str, str] = AUTH) -> httpx.Response:
    return httpx.post(f"{url}/v1/events", content="\n".join(lines).encode(), headers=headers)


def wait_refused(url: str, ip: str) -> httpx.Response:
    """The first refusal; "eventually", not a latency bound (test_service_nginx has that): a
    record child still importing on a loaded machine can take seconds to count."""
    deadline = time.monotonic() + 30
    while (answer := decide(url, ip)).status_code != 403:
        assert time.monotonic() < deadline, "never refused"
        time.sleep(0.02)
    return answer


def test_a_new_client_is_allowed_and_given_the_guards_cookie(service: str) -> None:
    answer = decide(service, "198.51.100.3")
    assert answer.status_code == 204
    assert answer.headers["x-scrapeguard-cookie"].startswith("sg_client=")
    # A client that returns its cookie keeps it: nothing new is issued.
    cookie = answer.headers["x-scrapeguard-cookie"].split(";", 1)[0]
    again = decide(service, "198.51.100.3", cookie=cookie)
    assert again.status_code == 204
    assert "x-scrapeguard-cookie" not in again.headers


def test_ingested_events_make_a_decision_nginx_enforces(service: str) -> None:
    answer = ingest(service, [json.dumps(event(HARVESTER, n)) for n in range(3)])
    assert answer.json() == {"accepted": 3, "rejected": 0, "errors": []}
    refused = wait_refused(service, HARVESTER)
    assert refused.headers["x-scrapeguard-action"] == "block"
    assert decide(service, "198.51.100.4").status_code == 204


def test_the_router_decides_as_the_fast_path_does(tmp_path: Path, udp_port: int,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`decide_first` only skips Starlette's layers: the plain app's route gives the same
    answers (a cookie for a new client; a refusal once the rule fires)."""
    monkeypatch.setenv("SCRAPEGUARD_SECRET", SECRET.decode())
    config = load_config(env={}, policy=policy_file(tmp_path), admin_token=ADMIN_TOKEN,
                         events_udp="")
    with serve_app(build_app(config)) as url:
        first = decide(url, "198.51.100.9")
        assert first.status_code == 204
        assert first.headers["x-scrapeguard-cookie"]
        assert ingest(url, [json.dumps(event(HARVESTER, n)) for n in range(3)]).status_code < 300
        assert wait_refused(url, HARVESTER).headers["x-scrapeguard-action"] == "block"


def test_forwarded_for_is_believed_from_trusted_peers_only(service: str) -> None:
    ingest(service, [json.dumps(event(HARVESTER, n)) for n in range(3)])
    wait_refused(service, HARVESTER)
    # 127.0.0.2 is not nginx: its X-Forwarded-For is its own claim, and it is judged itself.
    assert decide(service, HARVESTER, peer="127.0.0.2").status_code == 204


def test_syslog_lines_from_nginx_are_counted_with_their_subjects(
        tmp_path: Path, udp_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three people's records from a path that names nobody: only the upstream's
    x_subjects can make `subjects >= 3` hold."""
    monkeypatch.setenv("SCRAPEGUARD_SECRET", SECRET.decode())
    path = tmp_path / "policy.yaml"
    path.write_text(json.dumps(one_rule_policy("block", "subjects >= 3").model_dump(
        mode="json", exclude_defaults=True)))
    config = load_config(env={}, policy=str(path), events_udp=f"127.0.0.1:{udp_port}")
    with serve_app(build_app(config)) as url, \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for n in range(4):
            line = {"ts": time.time(), "ip": "192.0.2.55", "method": "GET",
                    "path": "/api/search", "status": 200, "bytes": 10, "ua": "curl/8",
                    "x_subjects": "-" if n == 3 else f"h{n}", "sg_action": ""}
            sock.sendto(b"<190>Dec  7 00:00:00 scrapeguard: " + json.dumps(line).encode(),
                        ("127.0.0.1", udp_port))
            if n == 1:
                time.sleep(0.3)
                assert decide(url, "192.0.2.55").status_code == 204  # two people so far
        wait_refused(url, "192.0.2.55")


def test_admin_endpoints_need_the_token(service: str, tmp_path: Path) -> None:
    assert httpx.get(f"{service}/v1/decisions").status_code == 401
    wrong = {"authorization": "Bearer " + "x" * len(ADMIN_TOKEN)}
    assert httpx.get(f"{service}/v1/decisions", headers=wrong).status_code == 401
    assert httpx.get(f"{service}/v1/decisions", headers=AUTH).status_code == 200
    assert ingest(service, [json.dumps(event(HARVESTER, 1))], headers={}).status_code == 401
    unset = load_config(env={}, policy=policy_file(tmp_path), events_udp="")
    with serve_app(build_app(unset)) as url:
        answer = httpx.get(f"{url}/v1/decisions", headers=AUTH)
        assert answer.status_code == 403
        assert "SCRAPEGUARD_ADMIN_TOKEN" in answer.json()["error"]


def test_ingest_names_each_bad_line_and_keeps_the_good_ones(service: str) -> None:
    good = json.dumps(event("192.0.2.9", 1))
    lines = [good, "not json", json.dumps({**event("192.0.2.9", 2), "ip": "nowhere"}), "",
             json.dumps({**event("192.0.2.9", 3), "subjects": "s3"}),
             json.dumps({**event("192.0.2.9", 4), "ts": "yesterday"})]
    answer = ingest(service, lines)
    assert answer.status_code == 422
    body = answer.json()
    assert body["accepted"] == 1
    assert body["rejected"] == 4
    assert [(e["line"], e["error"].split(":", 1)[0]) for e in body["errors"]] == [
        (2, "not JSON"), (3, "ip"), (5, "subjects"), (6, "ts")]


def test_ingest_refuses_a_body_over_the_cap(service: str) -> None:
    lines = [json.dumps(event("192.0.2.9", n)) for n in range(60)]
    answer = ingest(service, lines)
    assert answer.status_code == 413
    assert "4096" in answer.json()["error"]


def test_a_manual_allow_beats_the_rules_and_bad_requests_are_named(service: str) -> None:
    ingest(service, [json.dumps(event(HARVESTER, n)) for n in range(3)])
    wait_refused(service, HARVESTER)
    answer = httpx.post(f"{service}/v1/decisions", headers=AUTH, json={
        "actor": f"ip:{HARVESTER}", "action": "allow", "ttl": 60, "reason": "partner"})
    assert answer.status_code == 201
    assert answer.json()["actor"] == f"ip:{HARVESTER}"
    assert decide(service, HARVESTER).status_code == 204
    listed = httpx.get(f"{service}/v1/decisions", headers=AUTH).json()
    assert [d["actor"] for d in listed["manual"]] == [f"ip:{HARVESTER}"]
    assert [d["actor"] for d in listed["decisions"]] == [f"ip:{HARVESTER}"]
    actor = httpx.get(f"{service}/v1/actors/ip:{HARVESTER}", headers=AUTH).json()
    assert actor["decisions"][0]["features"]["requests"] >= 2
    for body, field in [({"actor": "ip:1.2.3.4", "action": "nuke"}, "action"),
                        ({"actor": "", "action": "block"}, "actor"),
                        ({"actor": "ip:1.2.3.4", "action": "block", "ttl": 0}, "ttl"),
                        ({"actor": "who:x", "action": "block"}, "actor")]:
        bad = httpx.post(f"{service}/v1/decisions", headers=AUTH, json=body)
        assert bad.status_code == 400, body
        assert bad.json()["error"].startswith(field), bad.json()


def test_metrics_count_without_naming_anyone(service: str) -> None:
    ingest(service, [json.dumps(event(HARVESTER, n)) for n in range(3)])
    wait_refused(service, HARVESTER)
    text = httpx.get(f"{service}/metrics").text
    assert 'scrapeguard_decide_total{action="block",degraded="false"}' in text
    assert 'scrapeguard_events_total{outcome="queued",source="ingest"} 3.0' in text
    assert HARVESTER not in text
    assert "s1" not in text.split()


def test_health_says_the_store_answers(service: str) -> None:
    answer = httpx.get(f"{service}/healthz")
    assert answer.status_code == 200
    assert answer.json()["store"] == "ok"


def test_a_challenged_request_gets_the_page_from_the_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPEGUARD_SECRET", SECRET.decode())
    config = load_config(env={}, policy=policy_file(tmp_path, "challenge"), events_udp="",
                         admin_token=ADMIN_TOKEN)
    with serve_app(build_app(config)) as url:
        ingest(url, [json.dumps(event(HARVESTER, n)) for n in range(3)])
        assert wait_refused(url, HARVESTER).headers["x-scrapeguard-action"] == "challenge"
        with from_address(url) as nginx:
            page = nginx.get("/v1/challenge", headers={
                "x-original-uri": "/user/1", "x-forwarded-for": HARVESTER})
        assert page.status_code == 403
        assert 'name="seed"' in page.text


def test_the_checked_in_openapi_document_is_the_served_one(service: str) -> None:
    served = httpx.get(f"{service}/openapi.json").json()
    checked_in = json.loads((ROOT / "docs" / "openapi.json").read_text())
    assert served == checked_in, "regenerate: python -m scrapeguard.service.openapi"
    assert "/v1/decide" in served["paths"]


def test_settings_come_from_file_then_environment(tmp_path: Path) -> None:
    path = tmp_path / "service.yaml"
    path.write_text("store: redis://127.0.0.1:6379/0\nport: 9000\nfail_open: true\n")
    config = load_config(path, env={"SCRAPEGUARD_PORT": "9001",
                                    "SCRAPEGUARD_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
                                    "SCRAPEGUARD_FAIL_OPEN": "false"})
    assert (config.store, config.port, config.fail_open) == ("redis://127.0.0.1:6379/0",
                                                            9001, False)
    assert config.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert load_config(path, env={}, port=9002).port == 9002
    with pytest.raises(ScrapeGuardError, match=r"\$SCRAPEGUARD_PORT: port"):
        load_config(path, env={"SCRAPEGUARD_PORT": "eighty"})
    path.write_text("stor: memory://\n")
    with pytest.raises(ScrapeGuardError, match=r"service\.yaml: stor"):
        load_config(path, env={})


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "service.md").read_text()
    for name, variable in load_config(env={}).env_names().items():
        assert f"`{name}`" in text, name
        assert f"`{variable}`" in text, variable


def test_nginx_lines_tell_a_miss_from_silence() -> None:
    base = {"ts": 1.7e9, "ip": "192.0.2.1", "path": "/user/1", "status": 200}
    assert nginx_line({**base, "x_subjects": ""}).event["subjects"] is None
    assert nginx_line({**base, "x_subjects": "-"}).event["subjects"] == []
    assert nginx_line({**base, "x_subjects": "a, b"}).event["subjects"] == ["a", "b"]
    assert nginx_line({**base, "sg_action": "block"}).refused
    assert not nginx_line({**base, "sg_action": ""}).refused


def test_openapi_module_writes_what_is_served() -> None:
    app = build_app(load_config(env={}, events_udp=""))
    assert openapi_document(app.routes)["paths"].keys() >= {"/v1/events", "/healthz"}


def test_decide_hands_nginx_the_client_stack_its_log_line_carries(service: str) -> None:
    """nginx's variables cannot give the headers' order; the decision does, in
    `X-Scrapeguard-Shape`, with the TLS fingerprint nginx (a trusted peer) passed on. A peer
    that is not nginx gets its shape, never its own claim of a fingerprint."""
    chromium = captured("chromium")
    headers = {name.lower(): value for name, value in chromium.headers
               if name.lower() != "host"}
    answer = decide(service, "198.51.100.30", **headers, **{"x-ja4": chromium.ja4})
    assert answer.status_code == 204
    shape, tls = answer.headers["x-scrapeguard-shape"], answer.headers["x-scrapeguard-tls"]
    assert judge(chromium.ua, shape, tls) == Judgement()
    assert tls == chromium.ja4
    assert shape.startswith("chromium|agree|s|")  # a trusted fingerprint: TLS, hints owed
    forged = decide(service, "198.51.100.31", peer="127.0.0.2", **{"x-ja4": chromium.ja4})
    assert "x-scrapeguard-tls" not in forged.headers
    line = nginx_line({"ts": 1.7e9, "ip": "192.0.2.1", "path": "/", "status": 200,
                       "hdr": shape, "tls": tls})
    assert (line.event["hdr"], line.event["tls"]) == (shape, tls)
