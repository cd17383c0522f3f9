"""The per-event derivation of the stream engine: the same rows the batch enrichment builds.

`engines/enrich.py` and `engines/lookups.py` compute these columns as dataframe expressions;
this module computes them for one event in Python, with the same patterns (`route_regex`,
`TEMPLATE_PASSES`), so the two engines count the same things. `tests/test_conformance.py`
replays logs through both and compares their decisions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from scrapeguard import uaclass
from scrapeguard.allowlist import Allowlister
from scrapeguard.engines.enrich import ERROR_STATUSES
from scrapeguard.engines.lookups import (
    REFERER_PATH,
    TEMPLATE_PASSES,
    TOOL_CLASSES,
    route_regex,
    static_pattern,
)
from scrapeguard.events import fingerprint, network_of
from scrapeguard.policy.model import Policy, Route
from scrapeguard.routes.templates import query_key_py, query_value_py, with_query_py


class PathInfo(NamedTuple):
    """Everything about an event that depends on its path alone."""

    static: bool
    template: str
    route_index: int | None
    """1-based declared route, 0 an inferred personal-data template, None neither."""
    item: str | None
    robots: bool
    trap: bool
    inferred: str
    """The path's inferred template, for comparing with a referer's (`referer_template`)."""
    catalogue: str | None = None
    """The catalogue item (product, listing) the path names, if it is an item route."""


@dataclass
class Row:
    """One (event, exposed item) row: the per-event columns features are built from."""

    item: str | None = None
    item_weight: int = 0
    lookup: str | None = None
    """The item again when the event named exactly one person (a profile, a lookup)."""
    numeric_id: int | None = None
    flags: dict[str, int] = field(default_factory=dict)


@dataclass
class EventRows:
    """An event's rows and the keys they are counted under."""

    ts: datetime
    ts_ms: int
    keys: dict[str, str | None]
    """Actor values by kind: ip, net, account, session, fp (no `kind:` prefix)."""
    identity: str
    template: str
    path: str
    page: str | None
    error_path: str | None
    ua: str | None
    hour: int
    rows: list[Row]
    allow_reason: str | None
    catalogue: str | None = None

    @property
    def is_lookup(self) -> bool:
        return bool(self.rows and self.rows[0].flags.get("is_subject_route"))


class Deriver:
    """Derives `EventRows` from contract events under one policy and calibration."""

    def __init__(self, policy: Policy, subject_templates: Sequence[str] = (),
                 catalogue_templates: Sequence[str] = (),
                 asset_templates: Sequence[str] = ()) -> None:
        self.policy = policy
        self.subject_templates = frozenset(subject_templates)
        self.catalogue_templates = frozenset(catalogue_templates)
        self.asset_templates = frozenset(asset_templates)
        self.allower = Allowlister(policy)
        self.static = re.compile(static_pattern(policy))
        self.routes = [(route, re.compile(route_regex(route))) for route in policy.routes]
        self.traps = [re.compile("^" + re.escape(g).replace(r"\*", ".*") + "$")
                      for g in policy.traps]
        self._path = lru_cache(maxsize=100_000)(self._path_uncached)
        self._referer_template = lru_cache(maxsize=100_000)(referer_template)

    def derive(self, event: dict[str, Any]) -> EventRows:
        ts: datetime = event["ts"]
        ts_ms = int(ts.timestamp() * 1000)
        ip = str(event["ip"])
        path = event.get("path") or ""
        status = int(event.get("status") or 0)
        size = int(event.get("bytes") or 0)
        ua = event.get("ua")
        account, session = event.get("account"), event.get("session")
        subjects = event.get("subjects")
        info = self._path(path)
        static, template, route_index, path_item, robots, trap, inferred = info[:7]
        method = str(event.get("method") or "GET").upper()
        is_get, is_read = method == "GET", method != "OPTIONS"
        if route_index == 0 and not is_get:
            route_index = None  # only a GET answers with an inferred route's record
        catalogue = info.catalogue if is_get and subjects is None and status < 400 else None
        is_error = status in ERROR_STATUSES
        klass = uaclass.classify(ua)
        common = {
            "is_static": int(static),
            "has_referer": int(bool(event.get("referer")) and event.get("referer") != "-"),
            "is_robots": int(robots),
            "is_trap": int(trap),
            "is_error": int(is_error),
            "is_page": int(not static and is_read),
            "is_catalogue": int(catalogue is not None),
            "is_error_page": int(is_error and not static),
            "is_bot_ua": int(uaclass.is_crawler_class(klass)),
            "is_tool_ua": int(klass in TOOL_CLASSES),
            "one": 1,
        }
        rows = self._rows(subjects, route_index, path_item, status, size)
        single = bool(rows[0].flags.get("is_subject_route")) and (
            len(subjects) == 1 if subjects is not None else rows[0].item_weight <= 1)
        rows[0].flags["is_lookup"] = int(single)
        rows[0].flags["is_walk_step"] = int(
            single and self._referer_template(event.get("referer")) == inferred)
        for index, row in enumerate(rows):
            row.lookup = row.item if single else None
            first = index == 0
            row.flags = {**(common if first else dict.fromkeys(common, 0)), **row.flags}
            if not first:
                row.flags["is_subject_route"] = row.flags["is_miss"] = 0
                row.flags["is_lookup"] = row.flags["is_walk_step"] = 0
        return EventRows(
            ts=ts,
            ts_ms=ts_ms,
            keys={"ip": ip, "net": network_of(ip), "account": account, "session": session,
                  "fp": fingerprint(ua)},
            identity=account or session or ip,
            template=template,
            path=path,
            page=None if static or not is_read else path,
            error_path=path if is_error and not static else None,
            ua=ua,
            hour=ts.hour,
            rows=rows,
            allow_reason=self.allower.allows(ip, ua, account),
            catalogue=catalogue,
        )

    def _rows(self, subjects: list[str] | None, route_index: int | None,
              path_item: str | None, status: int, size: int) -> list[Row]:
        if subjects is not None:
            if not subjects:
                return [Row(flags={"is_subject_route": 1, "is_miss": 1})]
            return [Row(item=s, item_weight=1, flags={"is_subject_route": 1, "is_miss": 0})
                    for s in subjects]
        if route_index is None:
            return [Row(flags={"is_subject_route": 0, "is_miss": 0})]
        if route_index == 0:
            missed = status in (404, 410)
            weight = 1
        else:
            route = self.policy.routes[route_index - 1]
            missed = _route_missed(route, status, size, path_item)
            weight = route.records_per_hit
        item = None if missed or status >= 400 else path_item  # refusals expose nobody
        digits = re.search(r"(\d{1,18})\D*$", path_item or "")
        return [Row(item=item, item_weight=weight,
                    numeric_id=int(digits.group(1)) if digits else None,
                    flags={"is_subject_route": 1, "is_miss": int(missed)})]

    def template_of(self, path: str) -> str:
        """The route template a path belongs to (declared, else inferred)."""
        return self._path(path).template

    def _path_uncached(self, path: str) -> PathInfo:
        """What `lookups.paths` derives per distinct path, for one path; cached per path."""
        path_only = path.split("?")[0]
        static = bool(self.static.search(path_only.lower()))
        robots = path_only == "/robots.txt"
        trap = any(t.match(path_only) for t in self.traps)
        for index, (route, pattern) in enumerate(self.routes, 1):
            match = pattern.search(path_only)
            if match:
                item = _route_item(route, path, match)
                if route.kind == "item":
                    return PathInfo(static, route.path, None, None, robots, trap,
                                    infer_template(path_only), item)
                return PathInfo(static, route.path, index, item, robots, trap,
                                infer_template(path_only))
        bare = infer_template(path_only)
        query = query_key_py(path)
        template = with_query_py(bare, query)
        static = static or template in self.asset_templates
        record = path_only + (f"?{query}={query_value_py(path, query)}" if query else "")
        if template in self.subject_templates and not static:
            return PathInfo(static, template, 0, record, robots, trap, bare)
        if template in self.catalogue_templates and not static:
            return PathInfo(static, template, None, None, robots, trap, bare, record)
        return PathInfo(static, template, None, None, robots, trap, bare)


def _route_item(route: Route, path: str, match: re.Match[str]) -> str | None:
    if route.subject is not None:
        return f"{route.name}:{match.group(1)}"
    if route.query is not None:
        found = re.search(rf"[?&]{re.escape(route.query)}=([^&#]*)", path)
        return f"{route.name}:{found.group(1)}" if found and found.group(1) else None
    return f"{route.name}:{path}"


def _route_missed(route: Route, status: int, size: int, item: str | None) -> bool:
    missed = status in route.miss_status
    if route.miss_max_bytes is not None:
        missed = missed or size <= route.miss_max_bytes
    if route.subject is None and route.query is not None:
        missed = missed or item is None
    return missed


def referer_template(referer: str | None) -> str | None:
    """The inferred template of the page a referer names (`https://host/user/7?x` →
    `/user/{n}`); None for no referer or one that is not a URL."""
    found = REFERER_PATH.match(referer or "")
    return infer_template(found.group(1)) if found else None


def infer_template(path: str) -> str:
    """The Python twin of `lookups.infer_template`, pass for pass."""
    for pattern, replacement in TEMPLATE_PASSES:
        path = pattern.sub(replacement, path)
    return path
