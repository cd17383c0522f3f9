"""Networks beyond /24: an address's autonomous system, its announced prefix, and whether the
operator lists it as a hosting network.

A fleet spread over many /24s of one provider, or over the addresses of one cloud, is one
actor at this level: `asn:AS64500` and `prefix:198.51.96.0/20` are key kinds beside `net:`.
They come from an offline MaxMind-format ASN database the operator supplies (GeoLite2-ASN,
or any MMDB whose records carry `autonomous_system_number`); the prefix is the network the
database records the AS for, which for GeoLite2-ASN is the announced prefix. No package on
PyPI ships a free, current ASN database that may be redistributed (docs/networks.md), so
without one these keys are simply absent, and the engines behave as before.

Hosting lists are plain files of CIDRs (one a line, `#` comments) the operator keeps, e.g. a
cloud provider's published ranges: an address inside one is flagged (`is_hosting`) for the
`hosting_*` features, and its listed network stands in for `prefix:` when the ASN database
does not know the address.

`NetworkDirectory.lookup` is the one definition: the live engines call it per request, the
batch engine per distinct address of a log (`engines/networks.py`).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from scrapeguard.errors import ScrapeGuardError
from scrapeguard.words import plural

ASN_DB_ENV = "SCRAPEGUARD_ASN_DB"
"""Path of the ASN database when neither `--asn-db` nor the policy's `networks.asn_db` says."""
HOSTING_ENV = "SCRAPEGUARD_HOSTING"
"""Hosting-network files (separated by the platform's path separator), likewise."""
CACHE = 262_144
"""Addresses whose answer a directory remembers: a live node sees the same clients again."""

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NetworkDataError(ScrapeGuardError):
    """An ASN database or hosting list is missing, unreadable, or not what it claims."""


@dataclass(frozen=True)
class NetInfo:
    """What the directory knows of one address; None where it knows nothing."""

    asn: str | None = None
    """`AS64500`."""
    org: str | None = None
    prefix: str | None = None
    """The network the AS is recorded for, else the hosting list's network."""
    hosting: str | None = None
    """The hosting list (its file name without suffix) the address is in."""

    def keys(self) -> dict[str, str]:
        """The actor keys (kind → value) this address adds to `ip` and `net`."""
        out = {}
        if self.asn is not None:
            out["asn"] = self.asn
        if self.prefix is not None:
            out["prefix"] = self.prefix
        return out


UNKNOWN = NetInfo()


class HostingList:
    """The operator's hosting networks, matched by prefix length: a handful of set look-ups
    per address whatever the list's size."""

    def __init__(self, files: Sequence[Path]) -> None:
        self.by_length: dict[tuple[int, int], dict[int, tuple[str, str]]] = {}
        for path in files:
            self._read(Path(path))
        # Most specific first, so the first hit is the narrowest listed network.
        self.lengths = sorted(self.by_length.items(), key=lambda kv: -kv[0][1])

    def _read(self, path: Path) -> None:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise NetworkDataError(f"{path}: cannot read hosting list: {exc.strerror}") from exc
        name = path.stem
        bad: list[int] = []
        for number, line in enumerate(text.splitlines(), start=1):
            entry = line.split("#", 1)[0].strip()
            if not entry:
                continue
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                bad.append(number)
                continue
            table = self.by_length.setdefault((network.version, network.prefixlen), {})
            table.setdefault(int(network.network_address), (str(network), name))
        if bad:
            raise NetworkDataError(
                f"{path}:{bad[0]}: not a CIDR network on {plural(len(bad), 'line')} "
                f"(lines {', '.join(map(str, bad[:10]))}{', …' if len(bad) > 10 else ''})")

    def find(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str] | None:
        """(network, list name) of the most specific listed network holding `addr`."""
        value, bits = int(addr), addr.max_prefixlen
        for (version, length), table in self.lengths:
            if version != addr.version:
                continue
            hit = table.get(value >> (bits - length) << (bits - length))
            if hit is not None:
                return hit
        return None

    def __bool__(self) -> bool:
        return bool(self.by_length)


class NetworkDirectory:
    """An ASN database and hosting lists, opened once; `lookup` answers per address."""

    def __init__(self, asn_db: str | Path | None = None,
                 hosting: Sequence[str | Path] = ()) -> None:
        self.asn_db = Path(asn_db) if asn_db else None
        self.reader = _open_asn(self.asn_db) if self.asn_db else None
        self.hosting = HostingList([Path(p) for p in hosting])
        self.lookup = lru_cache(maxsize=CACHE)(self._lookup)

    @property
    def enabled(self) -> bool:
        return self.reader is not None or bool(self.hosting)

    def _lookup(self, ip: str) -> NetInfo:
        if not self.enabled:  # nothing to look in: no need to parse the address
            return UNKNOWN
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return UNKNOWN
        asn = org = prefix = None
        if self.reader is not None:
            record, length = self.reader.get_with_prefix_len(addr)
            number = record.get("autonomous_system_number") if isinstance(record, dict) else None
            if isinstance(number, int):
                asn = f"AS{number}"
                name = record.get("autonomous_system_organization")
                org = name if isinstance(name, str) else None
                # maxminddb gives the length in the address's own family (IPv4 in a v6 tree too)
                prefix = str(ipaddress.ip_network(f"{addr}/{length}", strict=False))
        listed = self.hosting.find(addr) if self.hosting else None
        hosting = listed[1] if listed else None
        if prefix is None and listed is not None:
            prefix = listed[0]
        if asn is None and prefix is None and hosting is None:
            return UNKNOWN
        return NetInfo(asn=asn, org=org, prefix=prefix, hosting=hosting)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()


def _open_asn(path: Path) -> Any:
    try:
        import maxminddb
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise NetworkDataError("reading an ASN database needs the `maxminddb` package: "
                               "pip install 'scrapeguard[networks]'") from exc
    if not path.is_file():
        raise NetworkDataError(f"{path}: ASN database not found")
    try:
        reader = maxminddb.open_database(str(path))
    except (maxminddb.InvalidDatabaseError, ValueError, OSError) as exc:
        raise NetworkDataError(f"{path}: not a readable MaxMind-format database: {exc}") from exc
    kind = str(reader.metadata().database_type)
    if "ASN" not in kind.upper() and not _has_asn_records(reader):
        reader.close()
        raise NetworkDataError(f"{path}: a {kind!r} database, not an ASN database "
                               "(records need `autonomous_system_number`)")
    return reader


def _has_asn_records(reader: Any) -> bool:
    for _, record in reader:
        return isinstance(record, dict) and "autonomous_system_number" in record
    return False


def sources(asn_db: str | None, hosting: Sequence[str],
            env: Mapping[str, str] | None = None) -> tuple[str | None, tuple[str, ...]]:
    """Where the directory's files are: the given ones (`--asn-db`, the policy's `networks`),
    else `SCRAPEGUARD_ASN_DB` / `SCRAPEGUARD_HOSTING`."""
    env = os.environ if env is None else env
    db = asn_db or env.get(ASN_DB_ENV) or None
    lists = tuple(hosting) or tuple(p for p in env.get(HOSTING_ENV, "").split(os.pathsep) if p)
    return db, lists


@lru_cache(maxsize=8)
def _directory(asn_db: str | None, hosting: tuple[str, ...],
               stamp: tuple[float, ...]) -> NetworkDirectory:
    return NetworkDirectory(asn_db, hosting)


def directory(asn_db: str | None = None, hosting: Sequence[str] = (),
              env: Mapping[str, str] | None = None) -> NetworkDirectory:
    """The directory for these sources, opened once per process (again when a file changes)."""
    db, lists = sources(asn_db, hosting, env)
    stamp = tuple(_mtime(p) for p in (db, *lists) if p)
    return _directory(db, lists, stamp)


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0


def for_policy(policy: Any) -> NetworkDirectory:
    """The directory a policy's `networks` names (or the environment does)."""
    return directory(policy.networks.asn_db, policy.networks.hosting)


def network_keys(found: NetworkDirectory, ip: str) -> dict[str, str]:
    """An address's network keys, as every engine names them: `net` (`events.network_of`),
    and `asn` and `prefix` where the directory knows the address."""
    from scrapeguard.events import network_of

    return {"net": network_of(ip), **found.lookup(ip).keys()}
