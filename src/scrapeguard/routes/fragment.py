"""The route table as a policy fragment to confirm and edit, loadable by `analyze --policy`.

Record routes become `routes:` entries (declared routes win over learning); the other classes
become `route_classes:`. Templates come from request paths, which attackers write: every
string is emitted as a JSON string (valid YAML, control characters escaped), and comments hold
only numbers and the project's own words.
"""

from __future__ import annotations

import json
import re

from scrapeguard.routes.model import BY_EXTENSION, LearnedRoute, RouteTable

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fragment(table: RouteTable, sources: list[str]) -> str:
    lines = [
        "# Routes scrapeguard learned from the log; confirm or edit each entry, then run",
        "# `scrapeguard analyze LOG --policy THIS_FILE`. Entries here are declared: they win",
        "# over what is learned. `kind: person` routes count as people's records; `kind: item`",
        "# routes (products, listings, articles) as catalogue records.",
        f"# sources: {_comment(', '.join(sources))}",
        "version: 1",
        "extends: default",
    ]
    records = [r for r in table.routes if r.klass == "record" and r.methods == "read"
               and not r.declared and "{" in r.template]
    lines.append("routes:" if records else "routes: []")
    used: set[str] = set()
    for route in records:
        lines += _record(route, used)
    others = [r for r in table.routes if r.klass not in ("record", "page") and not r.declared
              and r.evidence[:1] != BY_EXTENSION]
    lines.append("route_classes:" if others else "route_classes: []")
    for route in others:
        lines += [
            f"  - template: {json.dumps(route.template)}",
            f"    methods: {route.methods}",
            f"    class: {route.klass}",
            f"    # {_comment(_why(route))}",
        ]
    return "\n".join(lines) + "\n"


def _record(route: LearnedRoute, used: set[str]) -> list[str]:
    path, _, query = route.template.partition("?")
    count = 0

    def rename(_: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"{{id{count}}}"

    path = _PLACEHOLDER.sub(rename, path)
    name = re.sub(r"[^a-z0-9]+", "-", route.template.lower()).strip("-")[:60] or "route"
    while name in used:
        name += "-x"
    used.add(name)
    out = [f"  - name: {json.dumps(name)}", f"    path: {json.dumps(path)}"]
    if query:
        out.append(f"    query: {json.dumps(query.split('=')[0])}")
    elif count:
        out.append(f"    subject: id{count}")
    out += [f"    kind: {route.kind or 'person'}", f"    # {_comment(_why(route))}"]
    return out


def _why(route: LearnedRoute) -> str:
    return (f"{route.requests} requests, {route.clients} clients, confidence "
            f"{route.confidence:.2f}: " + "; ".join(route.evidence))


def _comment(text: str) -> str:
    return re.sub(r"[^\x20-\x7e]", "?", text)
