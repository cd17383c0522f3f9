"""What a canary is: one synthetic person, and the exact values that give it away in a dump.

A canary looks like any other record to a scraper; what makes it a canary is that every value
it carries (id, phone, review text) was derived from the operator's secret and planted only in
responses to known actors, so finding one in a leaked dataset points back at whoever received it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RECORD_FIELDS = ("id", "name", "phone", "comment")
"""The fields of the default served record, in order."""

STRONG_FIELDS = ("phone", "id", "comment")
"""Fields whose value alone identifies a canary. Names do not: a locale's name pool is small,
so a canary's name turns up among real people far too often to count on its own."""


@dataclass(frozen=True)
class Canary:
    """One synthetic person; `index` is its place in the book, the input of every derivation."""

    index: int
    id: str
    name: str
    phone: str
    """As served: the layout of the operator's range, e.g. `+86 170 0012 3456`."""
    phone_cc: str
    """Country calling code digits (`86`), or empty when the range gave none."""
    phone_nsn: str
    """National significant number digits: the part every formatting of the number keeps."""
    comment: str

    def record(self) -> dict[str, Any]:
        """The default shape a canary is served in: a plain dict of the record fields."""
        return {"id": self.id, "name": self.name, "phone": self.phone, "comment": self.comment}

    @property
    def phone_e164(self) -> str:
        """`+<cc><nsn>` when the country code is known, else the national digits."""
        return f"+{self.phone_cc}{self.phone_nsn}" if self.phone_cc else self.phone_nsn
