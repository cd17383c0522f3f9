"""CrowdSec's own HTTP fixtures, a peer's test suite: scrapeguard flags the same sources.

Each fixture folder holds a log and `scenario.assert`, the alerts CrowdSec must raise. For the
fixtures that describe crawling, probing or bad user agents, scrapeguard must act (any action
but `allow`) on every source address CrowdSec expects, with the default rule pack.

Formats scrapeguard does not read (Envoy behind containerd, AWS ALB, Traefik JSON, Zoraxy,
BunkerWeb's prefixed lines) are converted to the event contract here, not skipped; nginx and
Apache logs are read as they are. The fixtures use loopback and private addresses, which
scrapeguard deliberately does not allowlist.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from realdata import CROWDSEC
from scrapeguard.analysis import analyze

HUB = CROWDSEC
"""Copied into the repository with its MIT licence: tests/data/real/crowdsec-hub/."""

Event = dict[str, Any]


def _event(ts: str, ip: str, method: str, path: str, status: int, ua: str | None,
           size: int = 0) -> Event:
    return {"ts": ts, "ip": ip, "method": method, "path": path, "status": status,
            "bytes": size, "ua": ua, "referer": None, "account": None, "session": None,
            "subjects": None, "fields": None}


def envoy(lines: Iterator[str]) -> Iterator[Event]:
    """containerd-wrapped Envoy access logs: `<time> stdout F {json}`."""
    for line in lines:
        record = json.loads(line.split(" ", 3)[3])
        ip = record["downstream_remote_address"].rsplit(":", 1)[0]
        yield _event(record["start_time"], ip, record["method"],
                     record["x-envoy-origin-path"], int(record["response_code"]),
                     record.get("user-agent"))


def aws_alb(lines: Iterator[str]) -> Iterator[Event]:
    """AWS ALB: space-separated, the request and user agent quoted."""
    for line in lines:
        parts = shlex.split(line)
        method, url, _ = parts[12].split(" ", 2)
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
        yield _event(parts[1], parts[3].rsplit(":", 1)[0], method, path, int(parts[8]),
                     parts[13], int(parts[11]))


def traefik_json(lines: Iterator[str]) -> Iterator[Event]:
    """Traefik's JSON access log."""
    for line in lines:
        record = json.loads(line)
        yield _event(record["StartUTC"][:23] + "Z", record["ClientHost"], record["RequestMethod"],
                     record["RequestPath"], int(record["DownstreamStatus"]),
                     record.get("request_User-Agent"), int(record.get("DownstreamContentSize", 0)))


_ZORAXY = re.compile(
    r"^\S+ \S+ \[(?P<ts>[^\]]+)\] .*?\[client: (?P<ip>[^\]]+)\] \[useragent: (?P<ua>[^\]]*)\] "
    r"(?P<method>\S+) (?P<path>\S+) (?P<status>\d+)"
)


def zoraxy(lines: Iterator[str]) -> Iterator[Event]:
    """Zoraxy's router log: bracketed fields, then `METHOD PATH STATUS`."""
    for line in lines:
        match = _ZORAXY.match(line)
        assert match, line
        ts = datetime.strptime(match["ts"][:26], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
        yield _event(ts.isoformat(), match["ip"], match["method"], match["path"],
                     int(match["status"]), match["ua"])


_BUNKERWEB = re.compile(
    r'^\S+ (?P<ip>\S+) - (?:\S+ )?- \[(?P<ts>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+)[^"]*" '
    r'(?P<status>\d+) (?P<size>\d+|-) "[^"]*" "(?P<ua>[^"]*)"'
)


def bunkerweb(lines: Iterator[str]) -> Iterator[Event]:
    """BunkerWeb: the host and a request id around the usual combined fields."""
    for line in lines:
        match = _BUNKERWEB.match(line)
        assert match, line
        ts = datetime.strptime(match["ts"], "%d/%b/%Y:%H:%M:%S %z")
        size = 0 if match["size"] == "-" else int(match["size"])
        yield _event(ts.isoformat(), match["ip"], match["method"], match["path"],
                     int(match["status"]), match["ua"], size)


Converter = Callable[[Iterator[str]], Iterator[Event]] | None

# fixture -> (behaviour, converter or None when scrapeguard reads the log as it is)
IN_SCOPE: dict[str, tuple[str, Converter]] = {
    "envoy-http-crawl-non_statics": ("crawl", envoy),
    "apache-http-probing": ("probing", None),
    "apache2-malformed": ("probing", None),
    "nginx-http-malformed": ("probing", None),
    "nginx-proxy-manager-malformed": ("probing", None),
    "http-dos-random-uri": ("probing: random missing paths", None),
    "nginx-bad-user-agent": ("bad user agent", None),
    "ipv6-postoverflow": ("bad user agent, IPv6", None),
    "aws-alb-http-bad-user-agent": ("bad user agent", aws_alb),
    "bunkerweb-bad-user-agent": ("bad user agent", bunkerweb),
    "envoy-http-bad-user-agent": ("bad user agent", envoy),
    "zoraxy-http-bad-user-agent": ("bad user agent", zoraxy),
    "traefik_base-http-scenario": ("bad user agent and probing", traefik_json),
}

EXPLOITS = (  # exploits of named vulnerabilities: a signature matter, not a harvest
    "CVE-2022-44877", "CVE-2022-46169", "CVE-2023-22515", "CVE-2023-22518", "CVE-2024-38475",
    "CVE-2025-0108", "apache-cve-2021-41773", "cve-2021-42013", "nginx-cve-2021-41773",
    "http-cve-probing", "spring4shell_cve-2022-22965", "thinkphp-cve-2018-20062",
    "nginx-http-backdoor", "nginx-http-w00twoot", "nginx-http-sqli-probing",
    "nginx-http-xss-probing", "nginx-http-path-traversal", "bunkerweb-http-path-traversal",
)
BRUTE_FORCE = (  # guessing passwords or card numbers on forms
    "apiscp-bf", "caddy-basic-auth-bf", "http-bf-wordpress-bf", "nginx-http-generic-bf",
    "http-magento-bf", "magento-ccs", "magento-ccs-by-as", "magento-ccs-by-country",
)
DENIAL = (  # volume of work or proxy abuse, not data taken
    "http-dos-bypass-cache", "http-dos-invalid-http-versions", "http-dos-switching-ua",
    "nginx-http-open-proxy",
)
SIGNATURES = (  # 2-8 requests to paths from CrowdSec's hand-kept lists of vulnerable software
    "http-admin-interface-probing", "sap-probing", "http-technology-probing",
    "http-wordpress-scan", "http-wordpress_wpconfig", "nginx-http-sensitive-files",
    "apache2-http-sensitive-files", "bunkerweb-http-sensitive-files",
    "litespeed-http-sensitive-files", "http-wordpress_user-enum",
)
OUT_OF_SCOPE: dict[str, str] = {
    **dict.fromkeys(EXPLOITS, "CVE exploit attempt"),
    **dict.fromkeys(BRUTE_FORCE, "login or card brute force"),
    **dict.fromkeys(DENIAL, "denial of service / open proxy"),
    **dict.fromkeys(SIGNATURES, "signature list of vulnerable paths"),
    "http-generic-test": "CrowdSec's own pipeline self-test",
    "base-upsun-generic-test": "CrowdSec's own pipeline self-test",
}


def expected_sources(fixture: Path) -> set[str]:
    text = (fixture / "scenario.assert").read_text()
    return set(re.findall(r'^"([^"]+)" in results\[\d+\]\.Overflow\.GetSources\(\)', text, re.M))


def fixture_log(fixture: Path) -> Path:
    config = (fixture / "config.yaml").read_text()
    match = re.search(r"^log_file:\s*(\S+)", config, re.M)
    assert match, f"{fixture}: no log_file in config.yaml"
    return fixture / match.group(1)


def test_every_alerting_fixture_is_classified() -> None:
    """A new fixture in the hub must be put in scope or given a reason to be out of it."""
    alerting = {p.parent.name for p in HUB.glob("*/scenario.assert")
                if expected_sources(p.parent)}
    unclassified = alerting - set(IN_SCOPE) - set(OUT_OF_SCOPE)
    assert unclassified == set()


@pytest.mark.parametrize("name", sorted(IN_SCOPE))
def test_scrapeguard_flags_what_crowdsec_expects(name: str, tmp_path: Path) -> None:
    fixture = HUB / name
    behaviour, convert = IN_SCOPE[name]
    log = fixture_log(fixture)
    if convert is not None:
        lines = (line for line in log.read_text().splitlines() if line.strip())
        converted = tmp_path / f"{name}.jsonl"
        converted.write_text("".join(json.dumps(e) + "\n" for e in convert(lines)))
        log = converted
    result = analyze([str(log)])
    acted = {d.actor for d in result.decisions if d.action != "allow"}
    expected = {f"ip:{ipaddress.ip_address(ip)}" for ip in expected_sources(fixture)}
    assert expected, f"{name}: the fixture expects no source"
    missing = expected - acted
    assert not missing, f"{name} ({behaviour}): not flagged {sorted(missing)}; got {acted}"
