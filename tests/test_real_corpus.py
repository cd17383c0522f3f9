"""The real-log corpus: hand labels for every client address, and scrapeguard measured on them.

Each real log in tests/data/real/ has a `labels.tsv` (address, label, evidence) made by
reading the log, never from scrapeguard's output (tests/data/real/LABELS.md). The first tests
check that the labels are well formed and cover the log exactly. The second measures the
issue's bar for zero-configuration `analyze`: every scanner and harvester acted on, and at
most 0.1% (and at most 3 per log) of the addresses labelled people, apps, staff and
verified crawlers.
"""

from __future__ import annotations

import csv
import gzip
import ipaddress
from collections import Counter
from dataclasses import dataclass
from functools import cache

import pytest

from realdata import LOGS, REAL
from scrapeguard.analysis import Analysis, analyze

LABELS = ("person", "app", "staff", "verified crawler", "crawler", "scanner", "harvester",
          "unknown")
MUST_ACT = frozenset({"scanner", "harvester"})
MUST_SPARE = frozenset({"person", "app", "staff", "verified crawler"})
SPARE_SHARE = 0.001
SPARE_MAX = 3


@dataclass(frozen=True)
class Label:
    address: str
    label: str
    evidence: str


@cache
def labels(name: str) -> dict[str, Label]:
    """The log's labels by address; the header must be exactly `address label evidence`."""
    path = REAL / name / "labels.tsv"
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == ["address", "label", "evidence"], f"{path}: bad header {rows[0]}"
    out: dict[str, Label] = {}
    for number, row in enumerate(rows[1:], start=2):
        assert len(row) == 3, f"{path}:{number}: {len(row)} fields, want 3"
        assert row[0] not in out, f"{path}:{number}: {row[0]} labelled twice"
        out[row[0]] = Label(*row)
    return out


@cache
def log_addresses(name: str) -> frozenset[str]:
    """Client addresses of the log: the first field of every line, read independently."""
    with gzip.open(LOGS[name], "rt", encoding="utf-8", errors="replace") as f:
        return frozenset(line.split(" ", 1)[0] for line in f if line.strip())


def acted_on(result: Analysis, addresses: frozenset[str]) -> set[str]:
    """Addresses any decision but `allow` reaches: its own, its network's, or as a member."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    out: set[str] = set()
    for decision in result.decisions:
        if decision.action == "allow":
            continue
        for key in [decision.actor, *(decision.members or [])]:
            kind, _, value = key.partition(":")
            if kind == "ip":
                out.add(value)
            elif kind == "net":
                networks.append(ipaddress.ip_network(value, strict=False))
    if networks:
        out |= {a for a in addresses if any(ipaddress.ip_address(a) in n for n in networks)}
    return out & addresses


def table(name: str, acted: set[str]) -> str:
    """Addresses and acted-on counts by label, as printed and as in docs/real-logs.md."""
    by_label = Counter(x.label for x in labels(name).values())
    hit = Counter(labels(name)[a].label for a in acted)
    lines = [f"{name}: {len(labels(name))} addresses, {len(acted)} acted on",
             f"  {'label':<17}{'addresses':>10}{'acted on':>10}"]
    lines += [f"  {label:<17}{by_label[label]:>10}{hit[label]:>10}" for label in LABELS]
    return "\n".join(lines)


# ------------------------------------------------------------------ the labels


@pytest.mark.parametrize("name", sorted(LOGS))
def test_labels_are_well_formed(name: str) -> None:
    found = labels(name)
    bad = {x.address: x.label for x in found.values() if x.label not in LABELS}
    assert not bad, f"labels outside {LABELS}: {dict(list(bad.items())[:5])}"
    empty = [x.address for x in found.values() if not x.evidence.strip()]
    assert not empty, f"labels without evidence: {empty[:5]}"
    for address in found:
        ipaddress.ip_address(address)


@pytest.mark.parametrize("name", sorted(LOGS))
def test_every_address_of_the_log_is_labelled_and_no_other(name: str) -> None:
    labelled, seen = set(labels(name)), log_addresses(name)
    assert not seen - labelled, f"unlabelled: {sorted(seen - labelled)[:5]}"
    assert not labelled - seen, f"not in the log: {sorted(labelled - seen)[:5]}"


def test_every_label_is_used_somewhere() -> None:
    """The label set is the one LABELS.md defines, and each kind occurs in the corpus."""
    used = {x.label for name in LOGS for x in labels(name).values()}
    assert used == set(LABELS)


# ------------------------------------------------------------------ the bar


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "issue #10's bar for zero-configuration analyze is not met yet: the protected side is "
    "(no protected address acted on in any log), but 12 of 49 scanners on elastic-apache, "
    "239 of 1,731 on wordpress-blogs and 120 of 550 on telco-site, nearly all referer spam "
    "from single addresses or from real browsers, and 2 of 32 harvesters are not acted "
    "on; see docs/real-logs.md."))
@pytest.mark.parametrize("name", sorted(LOGS))
def test_analyze_meets_the_bar_on_the_real_log(name: str) -> None:
    result = analyze([str(LOGS[name])])
    acted = acted_on(result, log_addresses(name))
    print(table(name, acted))
    found = labels(name)
    missed = sorted(a for a, x in found.items() if x.label in MUST_ACT and a not in acted)
    spared = sum(1 for x in found.values() if x.label in MUST_SPARE)
    wrong = sorted(a for a in acted if found[a].label in MUST_SPARE)
    limit = min(SPARE_MAX, int(SPARE_SHARE * spared))
    assert not wrong or len(wrong) <= limit, (
        f"acted on {len(wrong)} of {spared} people/apps/staff/verified crawlers (limit "
        f"{limit}): " + "; ".join(f"{a} {found[a].label}: {found[a].evidence}" for a in wrong[:5]))
    assert not missed, (
        f"{len(missed)} scanners/harvesters not acted on, e.g. "
        + "; ".join(f"{a}: {found[a].evidence}" for a in missed[:5]))
