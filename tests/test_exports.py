"""Exports: decisions loaded by the real tools that enforce them — nginx parses the include,
nft checks the set, CrowdSec's Local API stores the decisions and hands them to a bouncer —
each with the decision's expiry."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scrapeguard.cli import app
from scrapeguard.decisions import format_ts
from scrapeguard.errors import SourceError
from scrapeguard.exports import crowdsec, nftables, nginx
from scrapeguard.exports.source import read_bans
from scrapeguard.policy.load import load_policy

NOW = datetime.now(UTC).replace(microsecond=0)
TTL = load_policy(None).settings.decision_ttl_seconds()


def _decision(actor: str, action: str, first: datetime, rules: list[str],
              expires: datetime | None = None, **extra: object) -> dict[str, object]:
    record: dict[str, object] = {
        "actor": actor, "kind": actor.split(":", 1)[0], "action": action, "score": 0.9,
        "first_action_ts": format_ts(first), "requests": 100, "subjects": 50,
        "subjects_before_action": 20, "rules": rules, "reasons": ["…"], **extra}
    if expires is not None:
        record["expires_ts"] = format_ts(expires)
    return record


@pytest.fixture
def decisions(tmp_path: Path) -> Path:
    """From analyze (expiry = first action + the policy's TTL) and from a watch journal
    (expires_ts), with an expired one, a person allowed, a campaign's members, IPv6."""
    rows = [
        _decision("ip:203.0.113.7", "block", NOW - timedelta(hours=1), ["fast-crawl"]),
        _decision("ip:203.0.113.8", "throttle", NOW - timedelta(hours=2), ["probing"]),
        _decision("net:198.51.100.0/24", "challenge", NOW - timedelta(minutes=5),
                  ["lookup-misses-network"], expires=NOW + timedelta(minutes=55)),
        _decision("ip:198.51.100.9", "block", NOW - timedelta(minutes=1), ["trap-hit"]),
        _decision("ip:2001:db8::5", "block", NOW, ["attack-payload"],
                  expires=NOW + timedelta(hours=3)),
        _decision("ip:192.0.2.50", "allow", NOW, ["staff"]),
        _decision("campaign:enum:/user/{id}", "block", NOW - timedelta(minutes=30),
                  ["spread-campaign"], members=["ip:192.0.2.10", "account:bob"],
                  members_first_action_ts=[format_ts(NOW - timedelta(minutes=10)),
                                           format_ts(NOW)]),
    ]
    path = tmp_path / "decisions.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_bans_carry_expiry_and_skip_expired(decisions: Path) -> None:
    bans = {b.value: b for b in read_bans([decisions], TTL, now=NOW)}
    assert set(bans) == {"203.0.113.7", "198.51.100.0/24", "198.51.100.9", "2001:db8::5",
                         "192.0.2.10"}  # the throttle lapsed 10 min after 2 h ago
    assert bans["203.0.113.7"].expires == NOW - timedelta(hours=1) + timedelta(
        seconds=TTL["block"])
    assert bans["198.51.100.0/24"].seconds_left(NOW) == 55 * 60
    assert bans["192.0.2.10"].expires == NOW - timedelta(minutes=10) + timedelta(
        seconds=TTL["block"])
    with_expired = read_bans([decisions], TTL, now=NOW, include_expired=True)
    assert "203.0.113.8" in {b.value for b in with_expired}


def test_a_value_that_is_no_address_is_refused_with_its_actor(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(_decision("ip:1.2.3.4; deny all", "block", NOW, ["x"])) + "\n")
    with pytest.raises(SourceError, match="is not an address"):
        read_bans([path], TTL, now=NOW)
    path.write_text("\n{broken\n")
    with pytest.raises(SourceError, match=r"d\.jsonl:2: not a decision"):
        read_bans([path], TTL, now=NOW)


def _nginx_bin() -> str:
    found = os.environ.get("NGINX_BIN") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx missing: .ci/run must install it (need_nginx)")
        pytest.skip("nginx is not installed")
    return found


@pytest.mark.nginx
def test_nginx_loads_the_geo_include(decisions: Path, tmp_path: Path) -> None:
    include = tmp_path / "scrapeguard-geo.conf"
    result = CliRunner().invoke(app, ["export", "nginx", str(decisions), "--out", str(include)])
    assert result.exit_code == 0, result.output
    content = include.read_text()
    assert "203.0.113.7 block;  # until" in content
    assert "203.0.113.8" not in content
    assert "198.51.100.0/24 challenge;" in content
    assert "2001:db8::5 block;" in content
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    geo $scrapeguard_action {{ default ""; include {include}; }}
    server {{
        listen 127.0.0.1:8999;
        if ($scrapeguard_action = block) {{ return 403; }}
        if ($scrapeguard_action ~ ^(throttle|challenge|decoy)$) {{ return 429; }}
        location / {{ return 200; }}
    }}
}}
""")
    checked = subprocess.run([_nginx_bin(), "-t", "-p", str(tmp_path), "-c", str(conf)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


@pytest.mark.nftables
def test_nftables_set_checked_by_nft(decisions: Path, tmp_path: Path) -> None:
    bans = read_bans([decisions], TTL, now=NOW, min_action="block")
    text = nftables.render(bans, NOW)
    seconds = (NOW - timedelta(hours=1) + timedelta(seconds=TTL["block"]) - NOW).seconds
    assert f"203.0.113.7 timeout {seconds}s" in text
    assert "198.51.100.0/24" not in text  # a challenge: not for a firewall by default
    assert "2001:db8::5 timeout 10800s" in text
    ruleset = tmp_path / "scrapeguard.nft"
    ruleset.write_text(text)
    nft = shutil.which("nft") or "/usr/sbin/nft"
    if not Path(nft).exists():
        if os.environ.get("CI"):
            pytest.fail("nft missing: .ci/run must install it (need_nft)")
        pytest.skip("nft (Debian's nftables) is not installed")
    probe = subprocess.run(["unshare", "-rn", nft, "-c", "-f", "/dev/null"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        pytest.skip(f"no user namespace for `nft -c` on this machine: {probe.stderr.strip()}")
    checked = subprocess.run(["unshare", "-rn", nft, "-c", "-f", str(ruleset)],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr + text


def test_nftables_overlap_left_to_the_network(decisions: Path) -> None:
    """198.51.100.9 lies in 198.51.100.0/24: an interval set refuses both."""
    bans = read_bans([decisions], TTL, now=NOW, min_action="challenge")
    text = nftables.render(bans, NOW)
    assert "198.51.100.0/24 timeout" in text
    assert "198.51.100.9 " not in text
    assert nginx.render(bans, NOW).count("198.51.100.9 block;") == 1  # nginx: longest match


# -- CrowdSec ---------------------------------------------------------------------------


@dataclass
class Lapi:
    url: str
    credentials: Path
    bouncer_key: str
    config: Path

    def decisions(self) -> list[dict[str, object]]:
        import urllib.request

        request = urllib.request.Request(self.url + "/v1/decisions",
                                         headers={"X-Api-Key": self.bouncer_key})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null") or []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lapi(tmp_path: Path) -> Iterator[Lapi]:
    """Debian's crowdsec as a Local API only (`-no-cs`), on a free loopback port, with its
    own configuration and database in the test's directory; a machine and a bouncer added
    with cscli, as an operator would."""
    binary, cscli = shutil.which("crowdsec"), shutil.which("cscli")
    if not binary or not cscli:
        if os.environ.get("CI"):
            pytest.fail("crowdsec missing: .ci/run must install it (need_crowdsec)")
        pytest.skip("crowdsec is not installed (apt-get install crowdsec)")
    home, port = tmp_path / "crowdsec", _free_port()
    (home / "data").mkdir(parents=True)
    (home / "hub").mkdir()
    (home / "hub" / ".index.json").write_text("{}")
    (home / "simulation.yaml").write_text("simulation: off\n")
    (home / "local_api_credentials.yaml").write_text("")
    (home / "profiles.yaml").write_text(
        "name: default_ip_remediation\nfilters:\n - Alert.Remediation == true && "
        "Alert.GetScope() == \"Ip\"\ndecisions:\n - type: ban\n   duration: 4h\n"
        "on_success: break\n")
    config = home / "config.yaml"
    config.write_text(f"""
common: {{daemonize: false, log_media: file, log_level: info, log_dir: {home}, working_dir: {home}}}
config_paths: {{config_dir: {home}, data_dir: {home}/data, simulation_path: {home}/simulation.yaml, hub_dir: {home}/hub, index_path: {home}/hub/.index.json, notification_dir: {home}/notifications, plugin_dir: /usr/lib/crowdsec/plugins}}
db_config: {{type: sqlite, db_path: {home}/data/crowdsec.db, log_level: info, use_wal: false}}
api:
  client: {{credentials_path: {home}/local_api_credentials.yaml}}
  server: {{log_level: info, listen_uri: "127.0.0.1:{port}", profiles_path: {home}/profiles.yaml, trusted_ips: [127.0.0.1]}}
prometheus: {{enabled: false}}
""")  # noqa: E501
    url = f"http://127.0.0.1:{port}"
    creds = home / "scrapeguard.yaml"
    subprocess.run([cscli, "-c", str(config), "machines", "add", "scrapeguard", "--auto",
                    "-f", str(creds), "--url", url], check=True, capture_output=True,
                   timeout=60, cwd=home)
    key = subprocess.run([cscli, "-c", str(config), "bouncers", "add", "test-bouncer", "-o",
                          "raw"], check=True, capture_output=True, text=True, timeout=60,
                         cwd=home).stdout.strip().splitlines()[-1]
    server = subprocess.Popen([binary, "-c", str(config), "-no-cs"], cwd=home,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, (home / "crowdsec_api.log").read_text()[-2000:] \
                    if (home / "crowdsec_api.log").exists() else "crowdsec exited"
                assert time.monotonic() < deadline, "crowdsec did not listen within 30 s"
                time.sleep(0.2)
        yield Lapi(url, creds, key, config)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.mark.crowdsec
def test_crowdsec_bouncer_reads_what_was_pushed(decisions: Path, lapi: Lapi) -> None:
    runner = CliRunner()
    pushed = runner.invoke(app, ["export", "crowdsec", str(decisions), "--credentials",
                                 str(lapi.credentials)])
    assert pushed.exit_code == 0, pushed.output
    assert "5 decisions posted, 0 already held" in pushed.output
    held = {str(d["value"]): d for d in lapi.decisions()}
    assert set(held) == {"203.0.113.7", "198.51.100.0/24", "198.51.100.9", "2001:db8::5",
                         "192.0.2.10"}
    assert held["203.0.113.7"]["type"] == "ban"
    assert held["198.51.100.0/24"]["type"] == "captcha"
    assert held["198.51.100.0/24"]["scope"] == "Range"
    assert all(d["origin"] == "scrapeguard" for d in held.values())
    assert held["203.0.113.7"]["scenario"] == "scrapeguard/fast-crawl"
    expected = {b.value: b.seconds_left(datetime.now(UTC))
                for b in read_bans([decisions], TTL)}
    for value, decision in held.items():
        left = crowdsec.duration_seconds(str(decision["duration"]))
        assert expected[value] - 120 <= left <= expected[value] + 1, (value, decision)

    again = runner.invoke(app, ["export", "crowdsec", str(decisions), "--credentials",
                                str(lapi.credentials)])
    assert again.exit_code == 0, again.output
    assert "0 decisions posted, 5 already held" in again.output
    assert len(lapi.decisions()) == 5


def test_crowdsec_unreachable_is_a_clear_error(decisions: Path, tmp_path: Path) -> None:
    creds = tmp_path / "creds.yaml"
    creds.write_text(f"url: http://127.0.0.1:{_free_port()}\nlogin: x\npassword: y\n")
    result = CliRunner().invoke(app, ["export", "crowdsec", str(decisions), "--credentials",
                                      str(creds)])
    assert result.exit_code == 2
    assert "unreachable" in result.output


def test_an_export_of_expired_decisions_only_says_why_it_is_empty(tmp_path: Path) -> None:
    """The README's log is from March: its decisions expired long ago, and an empty include
    with no word looked like a broken export."""
    old = datetime(2026, 3, 2, 1, 17, tzinfo=UTC)
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(_decision(actor, "block", old, ["fast-crawl"])) + "\n"
                            for actor in ("ip:203.0.113.7", "ip:203.0.113.8")))
    done = CliRunner().invoke(app, ["export", "nginx", str(path)])
    assert done.exit_code == 0, done.output
    assert "0 standing" in done.stdout
    assert done.stderr.startswith("note: nothing to export: all 2 bans in the decisions "
                                  "expired, the last at 2026-03-03 01:17 UTC")
    standing = tmp_path / "now.jsonl"
    standing.write_text(json.dumps(_decision("ip:203.0.113.9", "block", datetime.now(UTC),
                                             ["fast-crawl"])) + "\n")
    assert CliRunner().invoke(app, ["export", "nginx", str(standing)]).stderr == ""
