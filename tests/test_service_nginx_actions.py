"""The refusals nginx maps from the service's answer, through the shipped config: a throttle
becomes 429 with Retry-After, a challenge the service's page, whose solution posted through
nginx earns a pass that lets the client back in."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service_support import ServiceProcess, demo_upstream, free_ports, nginx
from test_middleware_servers import serve
from test_middleware_support import one_rule_policy, solve_page

pytestmark = pytest.mark.nginx


@pytest.fixture
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    action = request.param
    tmp_path.chmod(0o755)
    policy = tmp_path / "policy.yaml"
    policy.write_text(json.dumps(one_rule_policy(action, "requests >= 3").model_dump(
        mode="json", exclude_defaults=True)))
    ports = free_ports("nginx", "service", "udp")
    with serve(demo_upstream(), warm=False) as upstream:
        ports["upstream"] = int(upstream.rsplit(":", 1)[1])
        service = ServiceProcess({
            "SCRAPEGUARD_STORE": "memory://", "SCRAPEGUARD_POLICY": str(policy),
            "SCRAPEGUARD_EVENTS_UDP": f"127.0.0.1:{ports['udp']}",
            "SCRAPEGUARD_SECRET": "a shared secret of the service tests",
            "SCRAPEGUARD_THROTTLE_RATE": "1/minute"}, ports["service"])
        service.start()
        try:
            with nginx(tmp_path / "nginx", ports) as url:
                yield url
        finally:
            service.stop()


def first_refusal(client: httpx.Client) -> httpx.Response:
    for _ in range(40):
        answer = client.get("/about?from=test")
        if answer.status_code != 200:
            return answer
        time.sleep(0.05)
    pytest.fail("never refused")


@pytest.mark.parametrize("site", ["throttle"], indirect=True)
def test_a_throttle_is_a_429_with_retry_after(site: str) -> None:
    with httpx.Client(base_url=site, transport=httpx.HTTPTransport(
            local_address="127.0.0.5")) as client:
        answer = first_refusal(client)
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("site", ["challenge"], indirect=True)
def test_a_challenge_is_the_services_page_and_its_pass_lets_the_client_in(site: str) -> None:
    with httpx.Client(base_url=site, follow_redirects=False, transport=httpx.HTTPTransport(
            local_address="127.0.0.6")) as client:
        page = first_refusal(client)
        assert page.status_code == 403
        assert page.headers["content-type"].startswith("text/html")
        seed, nonce = solve_page(page.text)
        redeemed = client.post("/.scrapeguard/pass", data={
            "seed": seed, "nonce": nonce, "next": "/about?from=test"})
        assert redeemed.status_code == 303, redeemed.text
        assert redeemed.headers["location"] == "/about?from=test"
        assert client.get("/about?from=test").status_code == 200
