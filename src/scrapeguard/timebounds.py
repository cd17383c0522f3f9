"""`--since` / `--until`: an ISO 8601 time, or a duration back from now (`2h`, `30m`, `7d`).

A time without an offset is UTC, as the event contract reads times.
"""

from __future__ import annotations

from datetime import UTC, datetime

from scrapeguard.errors import SourceError
from scrapeguard.policy.model import parse_duration


def parse_bound(option: str, text: str, now: datetime | None = None) -> datetime:
    """The moment `text` names; an unreadable one is an error naming the option."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            return (now or datetime.now(UTC)) - parse_duration(value)
        except ValueError:
            raise SourceError(f"{option} {text!r}: give an ISO time (2026-12-06T21:00Z) or a "
                              f"duration back from now (90s, 30m, 2h, 7d)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
