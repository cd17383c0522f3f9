"""`scrapeguard routes` as a library call: logs in, the route table out, no rule run."""

from __future__ import annotations

from collections.abc import Sequence

import ibis

from scrapeguard.engines import lookups
from scrapeguard.policy.model import Policy
from scrapeguard.routes.learn import learn
from scrapeguard.routes.model import RouteTable
from scrapeguard.sources import LoadReport, LogFormat, load_events


def learn_routes(inputs: Sequence[str], *, policy: Policy | str | None = None,
                 fmt: str | LogFormat | None = None, strict: bool = False,
                 max_malformed: float | None = None) -> tuple[RouteTable, LoadReport]:
    """Read logs and learn what each template is, as `analyze` does before its rules; a file
    mostly unreadable in its format is an error here too (`max_malformed`, as `analyze`).
    The format is chosen as `analyze` chooses it: the one given (a name or an nginx
    `log_format`), else the policy's `log_format`, else detected."""
    from scrapeguard.analysis import connect, policy_and_format

    policy, fmt = policy_and_format(policy, fmt)
    con = connect()
    try:
        load = load_events(con, inputs, fmt=fmt, strict=strict, max_malformed=max_malformed,
                           trusted_proxies=policy.trusted_proxies)
        backend = ibis.duckdb.from_connection(con)
        paths = lookups.paths(backend, backend.table("events"), policy)
        return learn(backend, "events", paths, policy), load
    finally:
        con.close()
