"""A request's route template: its path template plus the query key that names a record.

`/api/contacts/match?phone=%2B15550001` → `/api/contacts/match?phone={phone}`: real logs put
identifiers in query strings as often as in paths, and a phone-number enumeration through a
contact-matching endpoint must show as one route with many ids. Written once as an Ibis
expression (batch) and once in Python (stream), from the same patterns.
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir

from scrapeguard.routes.vocabulary import ID_QUERY_KEYS, QUERY_ID

_QUERY_ID = re.compile(QUERY_ID)
_KEY_RANK = {k: i for i, k in enumerate(ID_QUERY_KEYS)}


def query_key(path: ir.StringValue) -> ir.StringValue:
    """The id query key of a path, lower-cased; '' for none. The first listed key wins, so
    `?id=7&user=3` names a user even where `id` comes first in the request."""
    key = ibis.literal("")
    for name in reversed(ID_QUERY_KEYS):
        found = path.re_search(rf"(?i)[?&]{re.escape(name)}=[^&#]")
        key = ibis.ifelse(found, ibis.literal(name), key)
    return key


def query_value(path: ir.StringValue, name: ir.StringValue) -> ir.StringValue:
    """The value of query key `name` in `path` ('' when absent), as written in the log."""
    pattern = ibis.literal(r"(?i)[?&]") + name + ibis.literal(r"=([^&#]+)")
    return ibis.ifelse(name == "", ibis.literal(""), path.re_extract(pattern, 1))


def with_query(template: ir.StringValue, name: ir.StringValue) -> ir.StringValue:
    return ibis.ifelse(name == "", template, template + "?" + name + "={" + name + "}")


def query_key_py(path: str) -> str:
    """The Python twin of `query_key`."""
    found = [m.group(1).lower() for m in _QUERY_ID.finditer(path)]
    return min(found, key=_KEY_RANK.__getitem__) if found else ""


def query_value_py(path: str, name: str) -> str:
    """The Python twin of `query_value`."""
    if not name:
        return ""
    found = re.search(rf"(?i)[?&]{re.escape(name)}=([^&#]+)", path)
    return found.group(1) if found else ""


def with_query_py(template: str, name: str) -> str:
    return f"{template}?{name}={{{name}}}" if name else template
