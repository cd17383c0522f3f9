"""A real Apache log (elastic/examples, May 2015): read whole, and real crawlers left alone.

Line 8899 is a user agent cut before its closing quote. We recover it — the request is
real and its fields are intact up to the cut — and count it as recovered, not malformed.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

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


def test_a_googlebot_claim_outside_googles_range_is_not_allowlisted(tmp_path: Path) -> None:
    """An impostor reading profiles is acted on; the same requests from Google are not."""
    impostor = "203.0.113.66"
    lines = [line for line in read_lines(LOG)
             if "Googlebot/2.1" in line and line.startswith("66.249.")][:40]
    forged = [re.sub(r"^\S+", impostor, line) for line in lines]
    profiles = [re.sub(r'"GET \S+', f'"GET /user/{1000 + 7 * n}', line)
                for n, line in enumerate(forged)]
    log = tmp_path / "impostor.log"
    log.write_text("\n".join(lines + profiles) + "\n", encoding="utf-8")
    policy = Path(__file__).parent / "data" / "sample_policy.yaml"  # declares /user/{id}
    decided = {d.actor: d for d in analyze([str(log)], policy=str(policy)).decisions}
    assert f"ip:{impostor}" in decided
    assert "unverified-bot-personal-data" in decided[f"ip:{impostor}"].rules
    assert not any(actor.startswith("ip:66.249.") for actor in decided)
