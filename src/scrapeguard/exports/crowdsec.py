"""Push bans to CrowdSec's Local API, so the bouncers a site already runs enforce them.

scrapeguard logs in as a machine (a watcher: `cscli machines add scrapeguard --auto -f
creds.yaml` writes the credentials file this reads) and posts one alert per address or
network, scenario `scrapeguard/<rule>`, origin `scrapeguard`, its decision lasting until
the scrapeguard decision expires. Re-running is idempotent: a ban that CrowdSec already
holds from scrapeguard, of the same type and lasting at least as long, is not posted again.

Types: `block` and `decoy` become `ban`; `challenge` and `throttle` become `captcha`, the
milder remedy bouncers know.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from scrapeguard import __version__
from scrapeguard.decisions import format_ts
from scrapeguard.errors import ScrapeGuardError
from scrapeguard.exports.source import Ban

ORIGIN = "scrapeguard"
SCENARIO_PREFIX = "scrapeguard/"
TYPES = {"block": "ban", "decoy": "ban", "challenge": "captcha", "throttle": "captcha"}
SLACK_SECONDS = 60
"""A ban CrowdSec holds this close to ours in length is the same ban, not posted again."""
TIMEOUT = 10.0


class CrowdSecError(ScrapeGuardError):
    """The Local API refused, or could not be reached."""


@dataclass(frozen=True)
class Credentials:
    url: str
    login: str
    password: str

    @classmethod
    def from_file(cls, path: Path, url: str | None = None) -> Credentials:
        """CrowdSec's own credentials file (`url`, `login`, `password`), as `cscli machines
        add -f` writes it."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CrowdSecError(f"{path}: cannot read CrowdSec credentials: {exc}") from None
        if not isinstance(data, dict) or not all(
                isinstance(data.get(k), str) for k in ("login", "password")):
            raise CrowdSecError(f"{path}: CrowdSec credentials need `login` and `password`")
        chosen = url or data.get("url")
        if not isinstance(chosen, str) or not chosen:
            raise CrowdSecError(f"{path}: no `url` of the Local API (or give --url)")
        return cls(chosen.rstrip("/"), data["login"], data["password"])


@dataclass(frozen=True)
class PushResult:
    pushed: int
    unchanged: int


class LocalAPI:
    """The few Local API calls a watcher makes, over the standard library's HTTP."""

    def __init__(self, credentials: Credentials) -> None:
        self.base = credentials.url
        reply = self._call("POST", "/v1/watchers/login", {
            "machine_id": credentials.login, "password": credentials.password,
            "scenarios": []})
        self.token = str(reply["token"])

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("User-Agent", f"scrapeguard/{__version__}")
        if getattr(self, "token", None):
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise CrowdSecError(f"CrowdSec {method} {path}: HTTP {exc.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise CrowdSecError(f"CrowdSec Local API at {self.base} unreachable: {exc}") from None
        return json.loads(raw) if raw.strip() else None

    def standing(self) -> dict[str, tuple[str, int]]:
        """value → (type, seconds left) of the decisions scrapeguard posted that stand."""
        alerts = self._call("GET", "/v1/alerts?has_active_decision=true&limit=0") or []
        found: dict[str, tuple[str, int]] = {}
        for alert in alerts:
            for decision in alert.get("decisions") or []:
                if not str(decision.get("scenario", "")).startswith(SCENARIO_PREFIX):
                    continue
                left = duration_seconds(str(decision.get("duration", "0s")))
                value = str(decision.get("value"))
                if left > 0 and left > found.get(value, ("", 0))[1]:
                    found[value] = (str(decision.get("type")), left)
        return found

    def post(self, alerts: list[dict[str, Any]]) -> None:
        if alerts:
            self._call("POST", "/v1/alerts", alerts)


def push(bans: Sequence[Ban], credentials: Credentials, now: datetime) -> PushResult:
    api = LocalAPI(credentials)
    standing = api.standing()
    alerts, unchanged = [], 0
    for ban in bans:
        left, kind = ban.seconds_left(now), TYPES[ban.action]
        if left <= 0:
            continue
        held = standing.get(ban.value)
        if held and held[0] == kind and held[1] >= left - SLACK_SECONDS:
            unchanged += 1
            continue
        alerts.append(alert(ban, kind, left, now))
    api.post(alerts)
    return PushResult(len(alerts), unchanged)


def alert(ban: Ban, kind: str, seconds: int, now: datetime) -> dict[str, Any]:
    """One alert carrying one decision, as the Local API's `POST /v1/alerts` takes it."""
    scope = "Ip" if ban.network.num_addresses == 1 else "Range"
    scenario = SCENARIO_PREFIX + (ban.rules[0] if ban.rules else "decision")
    stamp = format_ts(now)
    source: dict[str, Any] = {"scope": scope, "value": ban.value}
    source["ip" if scope == "Ip" else "range"] = ban.value
    return {
        "scenario": scenario, "scenario_hash": "", "scenario_version": __version__,
        "message": f"scrapeguard {ban.action} {ban.value}: {', '.join(ban.rules)}",
        "events_count": 1, "start_at": stamp, "stop_at": stamp, "capacity": 0,
        "leakspeed": "0s", "simulated": False, "remediation": True, "events": [],
        "source": source,
        "decisions": [{"origin": ORIGIN, "type": kind, "scope": scope, "value": ban.value,
                       "duration": f"{seconds}s", "scenario": scenario}],
    }


_PART = re.compile(r"(-?[0-9.]+)(h|ms|m|s|us|µs|ns)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def duration_seconds(text: str) -> int:
    """A Go duration as CrowdSec prints it (`3h59m58.1s`) in whole seconds."""
    return int(sum(float(n) * _UNIT[u] for n, u in _PART.findall(text)))
