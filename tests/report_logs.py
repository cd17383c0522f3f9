"""Small logs for the report tests, whose harvests are known line by line.

A person; a sequential enumerator of `/user/{n}`; one account spread over thirty addresses;
and a contact-importer that looks up phone numbers on a route the policy declares. Every
harvester's subjects are kept here as they were written, so the tests can compare the report
and `report affected` with the log itself rather than with the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from logbuilder import Log

ENUMERATOR = "203.0.113.7"
SPREAD_ACCOUNT = "u_889"
PHONE_HARVESTER = "203.0.113.50"
HOSTILE_UA = "Mozilla/5.0 <script>alert(1)</script>"
"""The enumerator's agent: a report that quotes it must escape it."""

POLICY = """\
extends: default
routes:
  - name: contacts
    path: /api/contacts/lookup
    query: phone
    fields: [phone, name]
"""


@dataclass
class Harvests:
    """What each harvester received (status 200), by the actor text a decision would use."""

    received: dict[str, set[str]] = field(default_factory=dict)
    phones: set[str] = field(default_factory=set)


def write_log(directory: Path) -> tuple[Path, Path, Harvests]:
    """(log, policy, harvests) in `directory`."""
    log = Log()
    harvests = Harvests()
    log.person()
    ids = harvests.received.setdefault(f"ip:{ENUMERATOR}", set())
    for i in range(120):
        uid = 60_000 + i
        log.hit(300 + 3 * i, ENUMERATOR, f"/user/{uid}", ua=HOSTILE_UA, size=2100 + i)
        ids.add(str(uid))
    spread = harvests.received.setdefault(f"account:{SPREAD_ACCOUNT}", set())
    for i in range(150):
        uid = 70_000 + (i * 7919) % 29_989
        log.hit(900 + 11 * i, f"192.0.2.{1 + i % 30}", f"/api/users/{uid}", user=SPREAD_ACCOUNT)
        spread.add(str(uid))
    phones = harvests.received.setdefault(f"ip:{PHONE_HARVESTER}", set())
    for i in range(90):
        phone = f"+861380013{i:04d}"
        found = i % 3 != 2
        log.hit(2400 + 2 * i, PHONE_HARVESTER, f"/api/contacts/lookup?phone={phone}",
                status=200 if found else 404, size=310 if found else 40)
        harvests.phones.add(phone)
        if found:
            phones.add(phone)
    policy = directory / "policy.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    return log.write(directory / "access.log"), policy, harvests
