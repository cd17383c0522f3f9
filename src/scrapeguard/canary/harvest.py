"""What a harvester does to the records it took, for drills and tests: reformat and resell.

Leaked data rarely keeps the site's layout. These functions render a record the way dumps
seen in the wild do — phones with or without the country code (`+86`, `0086`, `86`, cut to
`6`), in groups, with dashes or parentheses, in full-width digits; ids with prefixes; names
re-cased; text re-spaced — so drills measure the tracer against what it will really meet.
Real-looking people come from Faker in the book's locale, with ids outside the canary range.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from scrapeguard.canary.mint import faker_for
from scrapeguard.canary.model import Canary

PHONE_STYLES = (
    "{plus}{cc} {a} {b} {c}", "+{cc}{nsn}", "00{cc}{nsn}", "00{cc}-{a}-{b}-{c}", "{nsn}",
    "{a}-{b}-{c}", "({a}) {b} {c}", "{cc} {nsn}", "{cc}{nsn}", "{cut}{nsn}",
    "+{cc} ({a}) {b}-{c}", "{wide}", "tel:{plus}{cc}{nsn}", "0{nsn}",
)
ID_STYLES = ("{id}", "U{id}", "uid:{id}", "/user/{id}", "ID-{id}", "user_{id}")
REAL_IDS = (100_000_000, 899_999_999)
"""Ids of the simulated site's real people: outside the range the drill mints canaries in."""


def format_phone(cc: str, nsn: str, rng: random.Random) -> str:
    """One of the layouts a reseller might have turned the number into."""
    style = rng.choice(PHONE_STYLES)
    third = len(nsn) // 3
    a, b, c = nsn[:third], nsn[third:2 * third], nsn[2 * third:]
    wide = "".join(chr(ord(d) + 0xFEE0) for d in nsn)  # full-width digits
    return style.format(plus="+", cc=cc, nsn=nsn, a=a, b=b, c=c, cut=cc[-1:] if cc else "",
                        wide=wide)


def canary_row(canary: Canary, rng: random.Random) -> dict[str, str]:
    """A canary as one row of a resold dump."""
    name = canary.name
    if rng.random() < 0.3:
        name = name.upper() if name.isascii() else " ".join(name)
    comment = canary.comment if rng.random() < 0.7 else "  ".join(canary.comment.split())
    return {"uid": rng.choice(ID_STYLES).format(id=canary.id), "nick": name,
            "mobile": format_phone(canary.phone_cc, canary.phone_nsn, rng), "review": comment}


@dataclass(frozen=True)
class Person:
    """A real-looking record of the simulated site, in the same fields as a served canary."""

    id: str
    name: str
    phone: str
    comment: str

    def row(self, rng: random.Random) -> dict[str, str]:
        return {"uid": rng.choice(ID_STYLES).format(id=self.id), "nick": self.name,
                "mobile": self.phone, "review": self.comment}


def people(locale: str, count: int, seed: int) -> list[Person]:
    """`count` Faker people of the locale, with Faker's own phone numbers (not canary ranges)."""
    fake: Any = faker_for(locale)
    fake.seed_instance(seed)
    rng = random.Random(seed)
    return [Person(id=str(rng.randint(*REAL_IDS)), name=fake.name(), phone=fake.phone_number(),
                   comment=fake.paragraph(nb_sentences=2)) for _ in range(count)]
