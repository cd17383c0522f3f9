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

from scrapeguard.routes.vocabulary import QUERY_ID

_QUERY_ID = re.compile(QUERY_ID)


def query_key(path: ir.StringValue) -> ir.StringValue:
    """The first query key of a path that names a record, lower-cased; '' for none."""
    return path.re_extract(QUERY_ID, 1).lower()


def query_value(path: ir.StringValue, name: ir.StringValue) -> ir.StringValue:
    """The value of query key `name` in `path` ('' when absent), as written in the log."""
    pattern = ibis.literal(r"(?i)[?&]") + name + ibis.literal(r"=([^&#]+)")
    return ibis.ifelse(name == "", ibis.literal(""), path.re_extract(pattern, 1))


def with_query(template: ir.StringValue, name: ir.StringValue) -> ir.StringValue:
    return ibis.ifelse(name == "", template, template + "?" + name + "={" + name + "}")


def query_key_py(path: str) -> str:
    """The Python twin of `query_key`."""
    found = _QUERY_ID.search(path)
    return found.group(1).lower() if found else ""


def query_value_py(path: str, name: str) -> str:
    """The Python twin of `query_value`."""
    if not name:
        return ""
    found = re.search(rf"(?i)[?&]{re.escape(name)}=([^&#]+)", path)
    return found.group(1) if found else ""


def with_query_py(template: str, name: str) -> str:
    return f"{template}?{name}={{{name}}}" if name else template
