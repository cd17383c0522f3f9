"""Who is a client: the one definition both engines count `clients` and follow steps by.

A client is an identity an attacker cannot mint for free:

- an authenticated **account**;
- a **session that has a history**: first seen at least `SESSION_PROOF_SECONDS` before the
  request. Live, the middleware issues its own session cookie, signed with the guard's key and
  stamped with its issue time (`enforce/client_cookie.py`), so the history is in the cookie;
  in a log, or for a session the app names itself, the history is the session's earliest
  sighting (the batch engine: its first request in the log; the stream engine: the first
  time its store saw it).

Anything else — a request without either, or one whose session is new — is its **address**.
A cookie the client picks afresh for every request never shows a history, so a harvester
rotating cookies (and user agents) stays one client: its address. A real browser keeps the
cookie it was given, so after its first minute each browser behind a shared NAT is its own
client, and a school or an office of them is not counted, or blocked, as one.

`clients` (features.py) counts the proven clients in a window — accounts and sessions with a
history — and is at least 1: an address counts as a client of its own only when no proven one
was seen, so a browser's first minute under its address does not count it twice.

What a client *does* — its sequential steps, its campaign evidence — is followed by
`identity`: the account, else the address, never a session. A session's first request cannot
have a history, so following sessions would split every cookie-keeping harvester into its
address (first request) and its session (the rest), restarting its count; and sessions
collected ahead of use would each start afresh. An address keeps them all together; a
harvester hiding among a NAT's browsers could already do as much by sending no cookie.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

SESSION_PROOF_SECONDS = 60
"""A session proves itself by being at least this old. A browser returns its cookie from its
second request on; a harvester that sends a new cookie each time never gets there, and one
that collects cookies ahead of use pays a request and a minute's wait for each."""

SESSION_MEMORY_SECONDS = 86400
"""How long the stream engine remembers a session it saw without the guard's signature."""


def proven(session: str | None, since: datetime | None, ts: datetime) -> bool:
    """Whether a session counts as a client at `ts`, given its first sighting `since`."""
    return bool(session) and since is not None and (
        (ts - since).total_seconds() >= SESSION_PROOF_SECONDS)


def client(account: str | None, session: str | None, since: datetime | None,
           ts: datetime) -> str | None:
    """The proven client of a request (`account:…`, `session:…`), None when it has none."""
    if account:
        return f"account:{account}"
    if session and proven(session, since, ts):
        return f"session:{session}"
    return None


def identity(account: str | None, ip: str) -> str:
    """The key a client's steps and campaign evidence are followed by: `account:…`, else
    `ip:…` (see the module docstring)."""
    return f"account:{account}" if account else f"ip:{ip}"


def client_expr(account: Any, session: Any, first_ms: Any, ts_ms: Any) -> Any:
    """`client` as an Ibis expression over columns: `first_ms` is the session's first sighting
    and `ts_ms` the request's time, both in epoch milliseconds."""
    import ibis

    is_proven = session.notnull() & (session != "") & (
        ts_ms - first_ms >= SESSION_PROOF_SECONDS * 1000).fill_null(False)
    return ibis.cases(
        ((account.notnull() & (account != "")), "account:" + account),
        (is_proven, "session:" + session),
        else_=ibis.null().cast("string"),
    )


def identity_expr(account: Any, ip: Any) -> Any:
    """`identity` as an Ibis expression."""
    import ibis

    return ibis.ifelse(account.notnull() & (account != ""), "account:" + account, "ip:" + ip)
