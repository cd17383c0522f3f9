"""The service's settings: one model, read from a YAML file and from `SCRAPEGUARD_*` variables.

Every setting has one name, used as the file's key and, upper-cased behind `SCRAPEGUARD_`, as
the environment variable (`store` → `SCRAPEGUARD_STORE`): a container sets what a file would.
The environment wins over the file, command-line options over both. Lists in the environment
are comma-separated. Errors name the file or variable and the setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scrapeguard.errors import ScrapeGuardError
from scrapeguard.words import plural

ENV_PREFIX = "SCRAPEGUARD_"
LOOPBACK = ("127.0.0.1/32", "::1/128")


class ServiceConfig(BaseModel):
    """What `scrapeguard serve` runs with; see docs/service.md for each setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    store: str = "memory://"
    policy: str | None = None
    calibration: str | None = None
    """`scrapeguard calibrate`'s file: percentiles and personal-data templates from history."""
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 7480
    events_udp: str = "127.0.0.1:7481"
    """host:port where nginx sends its JSON log lines over syslog; empty to listen nowhere."""
    admin_token: str | None = None
    """Bearer token for the admin endpoints; unset, they refuse every request."""
    ingest_token: str | None = None
    """Bearer token for `POST /v1/events`; unset, the admin token is asked."""
    trusted_proxies: tuple[str, ...] = LOOPBACK
    """Peers whose X-Forwarded-For is believed: nginx itself, and what stands before it."""
    fail_open: bool = True
    """When the store is down: let requests through (True) or refuse them."""
    budget: Annotated[float, Field(gt=0, le=5)] = 0.05
    """Seconds a decision may wait on the store before `fail_open` applies."""
    max_ingest_bytes: Annotated[int, Field(ge=1024)] = 8 * 1024 * 1024
    throttle_rate: str = "1/5second"
    dashboard: bool = True
    """Serve the operator's dashboard at /dashboard (it asks for the admin token)."""

    def env_names(self) -> dict[str, str]:
        return {name: ENV_PREFIX + name.upper() for name in type(self).model_fields}


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None,
                **overrides: Any) -> ServiceConfig:
    """Settings from `path` (YAML), then `SCRAPEGUARD_*` in `env`, then `overrides` (not None)."""
    values: dict[str, Any] = {}
    origin: dict[str, str] = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ScrapeGuardError(f"{path}: cannot read the service config: {exc}") from None
        if not isinstance(loaded, dict):
            raise ScrapeGuardError(f"{path}: the service config must be a mapping of settings")
        values.update(loaded)
        origin.update(dict.fromkeys(loaded, str(path)))
    environ = os.environ if env is None else env
    for name, field in ServiceConfig.model_fields.items():
        variable = ENV_PREFIX + name.upper()
        if variable in environ:
            raw = environ[variable]
            is_list = name == "trusted_proxies"
            values[name] = [p.strip() for p in raw.split(",") if p.strip()] if is_list else raw
            origin[name] = f"${variable}"
        del field
    for name, value in overrides.items():
        if value is not None:
            values[name] = value
            origin[name] = "the command line"
    try:
        return ServiceConfig.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            where = origin.get(name, "the config")
            problems.append(f"{where}: {name}: {error['msg']}")
        raise ScrapeGuardError(
            f"{plural(len(problems), 'bad setting')}: " + "; ".join(problems)) from None
