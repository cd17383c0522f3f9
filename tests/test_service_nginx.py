"""`scrapeguard serve` behind real nginx (examples/nginx/) with a real Redis.

Clients connect from addresses of their own on loopback (127.0.0.5, .6, ...), so nginx's
`$remote_addr` tells them apart with no header trickery; nginx reaches the service from
127.0.0.1, the one proxy the service trusts by default. Everything runs in real time: the
engine counts what nginx reports over syslog as each response finishes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from random import Random

import httpx
import pytest

from conftest import empty_redis
from scrapeguard.analysis import analyze
from service_support import (
    ADMIN_TOKEN,
    POLICY,
    ServiceProcess,
    demo_upstream,
    free_ports,
    nginx,
    subject_hash,
)
from test_middleware_servers import serve
from test_middleware_support import BROWSER, LANGUAGE

pytestmark = [pytest.mark.nginx, pytest.mark.redis]

REFUSED = (403, 429)
WITHIN_REQUESTS = 5
WITHIN_SECONDS = 1.0


@dataclass
class Site:
    open_url: str
    closed_url: str
    service: ServiceProcess
    log: Path
    policy: Path

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=self.service.url, timeout=5,
                            headers={"authorization": f"Bearer {ADMIN_TOKEN}"})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = empty_redis()
    base = tmp_path_factory.mktemp("service")
    (base / "policy.yaml").write_text(POLICY)
    ports = free_ports("service", "udp")
    with serve(demo_upstream(), warm=False) as upstream:
        ports["upstream"] = int(upstream.rsplit(":", 1)[1])
        service = ServiceProcess({
            "SCRAPEGUARD_STORE": url, "SCRAPEGUARD_POLICY": str(base / "policy.yaml"),
            "SCRAPEGUARD_EVENTS_UDP": f"127.0.0.1:{ports['udp']}",
            "SCRAPEGUARD_ADMIN_TOKEN": ADMIN_TOKEN,
            "SCRAPEGUARD_SECRET": "a shared secret of the service tests",
        }, ports["service"])
        service.start()
        try:
            with nginx(base / "open", {**ports, "nginx": free_ports("n")["n"]}) as open_url, \
                    nginx(base / "closed", {**ports, "nginx": free_ports("n")["n"]},
                          fail="closed") as closed_url:
                warm_up(open_url)
                yield Site(open_url, closed_url, service, base / "open/logs/scrapeguard.log",
                           base / "policy.yaml")
        finally:
            service.stop()


def warm_up(url: str) -> None:
    """Pay the service's first-use costs (user-agent data, Redis scripts) on an address of
    its own, as a node that has served for a while has: the first records of a fresh
    process take far longer than the rest, and a test of timing must not measure that."""
    with client(url, "127.0.0.4") as warm:
        warm.get("/user/1")
        warm.get("/trap-warmup")
        deadline = time.monotonic() + 30
        while warm.get("/about").status_code != 403:
            assert time.monotonic() < deadline, "the warm-up decision never landed"
            time.sleep(0.05)


def client(url: str, address: str, ua: str = BROWSER) -> httpx.Client:
    """A client whose connections come from `address` (any 127.x.y.z works on Linux)."""
    return httpx.Client(base_url=url, timeout=10, headers={"user-agent": ua,
                                                       "accept-language": LANGUAGE},
                        transport=httpx.HTTPTransport(local_address=address))


def analyze_fires_at(site: Site, ip: str) -> tuple[int, float]:
    """(index among `ip`'s logged requests, epoch time) where analyze's decision on `ip`
    first applied, over the access log nginx wrote, with the service's policy."""
    result = analyze([str(site.log)], policy=str(site.policy), fmt="jsonl")
    decision = next(d for d in result.decisions if d.actor == f"ip:{ip}")
    lines = [json.loads(line) for line in site.log.read_text().splitlines()]
    times = [line["ts"] for line in lines if line["ip"] == ip]
    fired = decision.first_action_ts.timestamp()
    index = next(i for i, ts in enumerate(times) if abs(ts - fired) < 0.0015)
    return index, times[index]


def test_a_harvester_is_refused_where_analyze_fires(site: Site) -> None:
    statuses, sent = [], []
    with client(site.open_url, "127.0.0.5", "python-requests/2.31") as harvester:
        for n in range(300):
            sent.append(time.time())
            answer = harvester.get(f"/user/{5000 + n}")
            statuses.append(answer.status_code)
            assert "x-subjects" not in answer.headers
            assert "x-subject-fields" not in answer.headers
            if answer.status_code in REFUSED:
                break
    assert statuses[-1] in REFUSED, f"never refused in {len(statuses)} requests"
    refused_at = len(statuses) - 1
    fires_at, fired_ts = analyze_fires_at(site, "127.0.0.5")
    assert abs(refused_at - fires_at) <= WITHIN_REQUESTS, (refused_at, fires_at)
    assert sent[refused_at] - fired_ts <= WITHIN_SECONDS, (sent[refused_at], fired_ts)
    # What nginx logged for scrapeguard carries the upstream's keyed hash, never the id.
    print(f"refused at request {refused_at}, analyze fires at {fires_at}, "
          f"{sent[refused_at] - fired_ts:.3f} s later")


def test_subjects_reach_the_log_as_keyed_hashes_and_never_the_client(site: Site) -> None:
    with client(site.open_url, "127.0.0.10") as person:
        found, missed = person.get("/api/people/7001"), person.get("/api/people/23")
    assert found.status_code == 200
    assert missed.status_code == 404
    for answer in (found, missed):
        assert "x-subjects" not in answer.headers
        assert "x-subject-fields" not in answer.headers
    lines = {line["path"]: line for line in map(json.loads, site.log.read_text().splitlines())}
    assert lines["/api/people/7001"]["x_subjects"] == subject_hash(7001)
    assert lines["/api/people/7001"]["x_fields"] == "name,phone"
    assert lines["/api/people/23"]["x_subjects"] == "-"
    assert "7001" not in lines["/api/people/7001"]["x_subjects"]


def browse(url: str, address: str, rng: Random, visits: int) -> list[int]:
    """A person: pages with their assets and referers, a few profiles, short pauses; keeps
    the cookies it is given, as a browser does."""
    statuses = []
    with client(url, address) as person:
        for _ in range(visits):
            page = rng.choice(["/", "/about", f"/product/{rng.randint(1, 500)}"])
            statuses.append(person.get(page).status_code)
            for asset in ("app.js", "site.css", "logo.svg"):
                statuses.append(person.get(f"/static/{asset}",
                                           headers={"referer": url + page}).status_code)
            for _ in range(rng.choice([0, 0, 1, 2])):
                profile = f"/user/{rng.randint(1, 400_000)}"
                statuses.append(person.get(profile, headers={"referer": url + page})
                                .status_code)
            time.sleep(rng.uniform(0.02, 0.1))
    return statuses


def test_a_person_is_never_refused(site: Site) -> None:
    statuses = browse(site.open_url, "127.0.0.6", Random(3), visits=25)
    assert set(statuses) <= {200, 404}, statuses
    with client(site.open_url, "127.0.0.6") as person:
        first = person.get("/about")
    assert "sg_client=" in first.headers.get("set-cookie", "")


def refused_until(url: str, address: str, want_refused: bool, limit: float) -> float:
    """Seconds until a request from `address` is (or is no longer) refused; fails past
    `limit`."""
    start = time.monotonic()
    with client(url, address, "python-requests/2.31") as probe:
        while True:
            refused = probe.get("/about").status_code in REFUSED
            if refused == want_refused:
                return time.monotonic() - start
            assert time.monotonic() - start < limit, "the decision never took effect"
            time.sleep(0.02)


def test_a_manual_allow_overrides_a_block_then_lapses(site: Site) -> None:
    with client(site.open_url, "127.0.0.7", "python-requests/2.31") as harvester:
        for n in range(300):
            if harvester.get(f"/user/{9000 + n}").status_code in REFUSED:
                break
        else:
            pytest.fail("the harvester was never refused")
    with site.admin() as admin:
        answer = admin.post("/v1/decisions", json={
            "actor": "ip:127.0.0.7", "action": "allow", "ttl": 2, "reason": "a partner"})
        assert answer.status_code == 201, answer.text
    assert refused_until(site.open_url, "127.0.0.7", False, 5) < 1.0
    # The allow lapses after its 2 s; the rules' block, still standing, applies again.
    assert refused_until(site.open_url, "127.0.0.7", True, 5) < 3.0


def test_a_manual_block_expires(site: Site) -> None:
    with site.admin() as admin:
        answer = admin.post("/v1/decisions", json={
            "actor": "ip:127.0.0.8", "action": "block", "ttl": 1, "reason": "test"})
        assert answer.status_code == 201, answer.text
    set_at = time.monotonic()
    with client(site.open_url, "127.0.0.8") as person:
        assert person.get("/about").status_code == 403
    assert refused_until(site.open_url, "127.0.0.8", False, 5) + (time.monotonic() - set_at) \
        < 2.5
    with client(site.open_url, "127.0.0.8") as person:
        assert person.get("/about").status_code == 200


def test_nginx_answers_as_configured_when_the_service_is_stopped(site: Site) -> None:
    site.service.stop()
    try:
        with client(site.open_url, "127.0.0.9") as person:
            answer = person.get("/user/12")
            assert answer.status_code == 200  # fail open: served as if unguarded
            assert "x-subjects" not in answer.headers
        with client(site.closed_url, "127.0.0.9") as person:
            answer = person.get("/user/12")
            assert answer.status_code == 503  # fail closed
            assert answer.headers["retry-after"] == "5"
    finally:
        site.service.start()
    with client(site.closed_url, "127.0.0.9") as person:
        assert person.get("/user/12").status_code == 200
