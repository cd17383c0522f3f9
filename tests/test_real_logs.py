"""A real Apache log (elastic/examples, May 2015): read whole, and real crawlers left alone.

Line 8899 is a user agent cut before its closing quote. We recover it — the request is
real and its fields are intact up to the cut — and count it as recovered, not malformed.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from logbuilder import GOOGLEBOT, Log
from realdata import ELASTIC, read_lines
from scrapeguard.analysis import Analysis, analyze

LOG = ELASTIC
GOOGLE = ipaddress.ip_network("66.249.64.0/19")


@pytest.fixture(scope="module")
def result() -> Analysis:
    return analyze([str(LOG)])


def _googlebot_lines() -> tuple[set[str], int]:
    """Independently of scrapeguard: addresses in Google's range claiming Googlebot."""
    inside: set[str] = set()
    count = 0
    for line in read_lines(LOG):
        ip = line.split(" ", 1)[0]
        if "Googlebot" in line and ipaddress.ip_address(ip) in GOOGLE:
            inside.add(ip)
            count += 1
    return inside, count


def test_every_line_is_an_event(result: Analysis) -> None:
    assert result.load.lines == 10_000
    assert result.load.events == 10_000
    assert result.load.malformed == 0
    assert result.load.recovered == 1
    sample = result.load.recovered_samples[0]
    assert sample.line == 8899
    assert sample.file.endswith("access.log.gz")


def test_genuine_googlebot_is_never_acted_on(result: Analysis) -> None:
    inside, count = _googlebot_lines()
    assert len(inside) >= 3
    acted = {d.actor for d in result.decisions}
    assert not acted & {f"ip:{ip}" for ip in inside}
    assert result.enrich.allowlisted_requests["verified Googlebot"] == count


def test_a_googlebot_claim_outside_googles_range_is_judged_on_behaviour(tmp_path: Path) -> None:
    """A claim from outside Google's ranges is unverified, not allowlisted: the same profile
    harvest is acted on from there and left alone from Google's own addresses. The claim
    alone is no evidence (search engines also fetch from company addresses outside the lists)."""
    impostor = "203.0.113.66"
    log = Log()
    for n in range(300):
        log.hit(10 + 6 * n, impostor, f"/user/{1000 + 7 * n}", ua=GOOGLEBOT)
        log.hit(11 + 6 * n, "66.249.66.1", f"/user/{1000 + 7 * n}", ua=GOOGLEBOT)
    policy = Path(__file__).parent / "data" / "sample_policy.yaml"  # declares /user/{id}
    result = analyze([str(log.write(tmp_path / "impostor.log"))], policy=str(policy))
    decided = {d.actor: d for d in result.decisions}
    assert f"ip:{impostor}" in decided
    assert result.enrich.allowlisted_requests == {"verified Googlebot": 300}
    assert not any(actor.startswith("ip:66.249.") for actor in decided)
