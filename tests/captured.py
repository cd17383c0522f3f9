"""The requests real clients sent, captured on loopback (`src/scrapeguard/simulate/captures/`,
which the simulator's client stacks read too; how they were made:
`tests/data/fingerprints/capture.py`): headers in the order received, and JA4."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from scrapeguard import clientshape

FINGERPRINTS = Path(__file__).parents[1] / "src" / "scrapeguard" / "simulate" / "captures"


@dataclass(frozen=True)
class Captured:
    """One captured request."""

    client: str
    request_line: str
    headers: tuple[tuple[str, str], ...]
    ja4: str

    @property
    def ua(self) -> str:
        return next(value for name, value in self.headers if name.lower() == "user-agent")

    def shape(self, *, secure: bool = True, ua: str | None = None) -> str:
        """The header shape, optionally under another user agent (a fleet's rotation)."""
        headers = self.headers if ua is None else tuple(
            (name, ua if name.lower() == "user-agent" else value) for name, value in self.headers)
        return clientshape.shape(ua or self.ua, headers, secure)


def captured(client: str, index: int = 0) -> Captured:
    """The `index`-th request `client` sent (Chromium's: its page, image, favicon)."""
    record = json.loads((FINGERPRINTS / f"{client}.json").read_text(encoding="utf-8"))
    request = record["requests"][index]
    return Captured(client, request["request_line"],
                    tuple((name, value) for name, value in request["headers"]), request["ja4"])


def all_requests(client: str) -> list[Captured]:
    record = json.loads((FINGERPRINTS / f"{client}.json").read_text(encoding="utf-8"))
    return [captured(client, i) for i in range(len(record["requests"]))]
