"""Networks beyond /24 (`netinfo.py`): the autonomous system and announced prefix from an ASN
database the operator supplies, and hosting lists, as keys both engines count alike.

The database is built here with an MMDB writer (the `mmdb-writer` test extra), in GeoLite2-ASN's
record shape; nothing is fetched.
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import ibis
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet
from typer.testing import CliRunner

from logbuilder import FIREFOX, Log
from scrapeguard.analysis import analyze
from scrapeguard.cli import app
from scrapeguard.decisions import format_ts
from scrapeguard.engines.networks import address_table
from scrapeguard.engines.replay import replay
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.errors import PolicyError
from scrapeguard.netinfo import NetworkDataError, NetworkDirectory, directory, sources
from scrapeguard.policy.load import check_policy, load_policy

DATA = Path(__file__).parent / "data"
FLEET_AS = 64500
"""A provider whose /20 a fleet rents one address per /24 of."""


def build_asn_db(path: Path, *, database_type: str = "GeoLite2-ASN") -> Path:
    writer = MMDBWriter(ip_version=6, database_type=database_type, ipv4_compatible=True)
    for network, number, org in (("198.18.0.0/20", FLEET_AS, "Example Hosting"),
                                 ("198.51.100.0/22", 64501, "Example Homes"),
                                 ("2001:db8::/32", 64502, "Example Six")):
        writer.insert_network(IPSet([network]), {"autonomous_system_number": number,
                                                 "autonomous_system_organization": org})
    writer.to_db_file(str(path))
    return path


@pytest.fixture
def asn_db(tmp_path: Path) -> Path:
    return build_asn_db(tmp_path / "asn.mmdb")


def test_lookup_gives_the_system_and_its_prefix(asn_db: Path) -> None:
    found = NetworkDirectory(asn_db)
    fleet = found.lookup("198.18.7.10")
    assert (fleet.asn, fleet.org, fleet.prefix) == ("AS64500", "Example Hosting", "198.18.0.0/20")
    assert found.lookup("2001:db8::7").keys() == {"asn": "AS64502", "prefix": "2001:db8::/32"}
    assert found.lookup("192.0.2.1").keys() == {}, "an address the database lacks adds no key"
    assert found.lookup("unknown").keys() == {}


def test_hosting_lists_flag_and_stand_in_for_a_prefix(asn_db: Path, tmp_path: Path) -> None:
    cloud = tmp_path / "cloud.txt"
    cloud.write_text("# a provider's published ranges\n203.0.113.0/24\n198.18.4.0/22  # rented\n"
                     "2001:db8:1::/48\n", encoding="utf-8")
    found = NetworkDirectory(asn_db, [cloud])
    assert found.lookup("203.0.113.9").keys() == {"prefix": "203.0.113.0/24"}
    assert found.lookup("203.0.113.9").hosting == "cloud"
    inside = found.lookup("198.18.5.1")
    assert (inside.prefix, inside.hosting) == ("198.18.0.0/20", "cloud"), \
        "the announced prefix wins; the listing still flags the address"
    assert found.lookup("2001:db8:1::5").hosting == "cloud"
    assert found.lookup("198.18.8.1").hosting is None


def test_a_bad_hosting_list_names_its_lines(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("203.0.113.0/24\nnot a network\n10.0.0.0/33\n", encoding="utf-8")
    with pytest.raises(NetworkDataError,
                       match=r"bad.txt:2: not a CIDR network on 2 lines \(lines 2, 3\)"):
        NetworkDirectory(None, [bad])
    with pytest.raises(NetworkDataError, match="cannot read hosting list"):
        NetworkDirectory(None, [tmp_path / "absent.txt"])


def test_missing_corrupt_or_wrong_databases_are_refused(tmp_path: Path) -> None:
    with pytest.raises(NetworkDataError, match="ASN database not found"):
        NetworkDirectory(tmp_path / "absent.mmdb")
    corrupt = tmp_path / "corrupt.mmdb"
    corrupt.write_bytes(b"\x00garbage" * 64)
    with pytest.raises(NetworkDataError, match="not a readable MaxMind-format database"):
        NetworkDirectory(corrupt)
    city = tmp_path / "city.mmdb"
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-City")
    writer.insert_network(IPSet(["192.0.2.0/24"]), {"city": {"names": {"en": "Nowhere"}}})
    writer.to_db_file(str(city))
    with pytest.raises(NetworkDataError, match="not an ASN database"):
        NetworkDirectory(city)


def test_sources_prefer_the_given_files_to_the_environment() -> None:
    env = {"SCRAPEGUARD_ASN_DB": "/env.mmdb", "SCRAPEGUARD_HOSTING": "/a.txt:/b.txt"}
    assert sources(None, [], env) == ("/env.mmdb", ("/a.txt", "/b.txt"))
    assert sources("/given.mmdb", ["/c.txt"], env) == ("/given.mmdb", ("/c.txt",))
    assert sources(None, [], {}) == (None, ())


def test_batch_addresses_get_what_lookup_gives(asn_db: Path, tmp_path: Path) -> None:
    cloud = tmp_path / "cloud.txt"
    cloud.write_text("203.0.113.0/24\n", encoding="utf-8")
    policy = load_policy(None).model_copy(update={"networks": load_policy(None).networks
                                                  .model_copy(update={"asn_db": str(asn_db),
                                                                      "hosting": [str(cloud)]})})
    addresses = ["198.18.7.10", "198.51.100.3", "2001:db8::7", "203.0.113.9", "192.0.2.1", "x"]
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE events (ip VARCHAR NOT NULL)")
    con.executemany("INSERT INTO events VALUES (?)", [(ip,) for ip in addresses])
    rows = address_table(ibis.duckdb.from_connection(con), "events", policy).to_pyarrow()
    got = {r["ip_text"]: (r["net_asn"], r["net_prefix"], r["net_hosting"])
           for r in rows.to_pylist()}
    found = directory(str(asn_db), [str(cloud)])
    assert got == {ip: (found.lookup(ip).asn, found.lookup(ip).prefix, found.lookup(ip).hosting)
                   for ip in addresses}


def _policy(tmp_path: Path, asn_db: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text((DATA / "sample_policy.yaml").read_text(encoding="utf-8") + f"""
networks:
  asn_db: {asn_db}
rules:
  - id: lookup-misses-asn
    kind: asn
    window: 1h
    when: "misses >= 100 and miss_ratio >= 0.6 and networks >= 5"
    action: challenge
    explain: "{{networks}} networks of one autonomous system made {{misses}} missed lookups"
  - id: lookup-misses-prefix
    kind: prefix
    window: 1h
    when: "misses >= 100 and miss_ratio >= 0.6 and ips >= 5"
    action: challenge
""", encoding="utf-8")
    return path


def _fleet_log(tmp_path: Path) -> Path:
    """One address in each of eight /24s of one provider guessing phone numbers: no /24 holds
    five of them (`lookup-misses-network` stays quiet); the AS and its prefix hold them all."""
    log = Log()
    log.person(ip="198.51.100.20")
    rng = random.Random(7)
    for host in range(8):
        for n in range(20):
            found = n % 4 == 0
            log.hit(30 + 90 * n + host, f"198.18.{host}.{10 + host}",
                    f"/api/lookup?phone=%2B1555{rng.randrange(10**7):07d}",
                    status=200 if found else 404, size=350 if found else 40, ua=FIREFOX)
    return log.write(tmp_path / "fleet.log")


def test_both_engines_act_on_the_system_and_prefix(asn_db: Path, tmp_path: Path) -> None:
    policy, log = str(_policy(tmp_path, asn_db)), _fleet_log(tmp_path)
    batch = analyze([str(log)], policy=policy)
    engine = StreamEngine(policy, "memory://", calibration=batch.calibration, secret=b"test")

    def view(decisions: list) -> dict[str, tuple[str, str, tuple[str, ...]]]:
        return {d.actor: (d.action, format_ts(d.first_action_ts), tuple(sorted(d.rules)))
                for d in decisions if d.action != "allow"}

    batch_view, stream_view = view(batch.decisions), view(replay([str(log)], engine))
    assert batch_view == stream_view
    assert batch_view["asn:AS64500"][2] == ("lookup-misses-asn",)
    assert batch_view["prefix:198.18.0.0/20"][2] == ("lookup-misses-prefix",)
    assert not any(a.startswith("net:") for a in batch_view), "no /24 holds five of them"
    assert "ip:198.51.100.20" not in batch_view
    assert "asn:AS64501" not in batch_view


def test_without_a_database_the_keys_are_absent(tmp_path: Path) -> None:
    log = _fleet_log(tmp_path)
    batch = analyze([str(log)], policy=str(DATA / "sample_policy.yaml"))
    assert not [d for d in batch.decisions if d.actor.startswith(("asn:", "prefix:"))]


def test_policy_check_locates_a_missing_database(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("extends: default\nnetworks:\n  asn_db: /nonexistent/asn.mmdb\n",
                    encoding="utf-8")
    issues = check_policy(path)
    assert any("networks.asn_db" in str(i) and "not found" in str(i) for i in issues)
    with pytest.raises(PolicyError, match=r"policy.yaml:3.*ASN database not found"):
        load_policy(path)


def test_cli_asn_db_refuses_a_corrupt_file(tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.mmdb"
    corrupt.write_bytes(b"not a database")
    log = _fleet_log(tmp_path)
    result = CliRunner().invoke(app, ["analyze", str(log), "--asn-db", str(corrupt)])
    assert result.exit_code == 2
    assert "corrupt.mmdb: not a readable MaxMind-format database" in result.output
