"""The tools most sites have, scored on the same traffic as scrapeguard.

- `rate_limit`: an address is blocked at the request that makes it exceed 60 requests in any
  60 seconds, like nginx `limit_req` — counting requests, not what they carried.
- `crawler_agents`: an address is blocked at its first request whose user agent matches the
  `crawler-user-agents` patterns, like GoAccess's crawler list.
"""

from __future__ import annotations

from typing import Any

import crawleruseragents

from scrapeguard.decisions import Decision

RATE = 60
PERIOD_SECONDS = 60


def rate_limit(con: Any) -> list[Decision]:
    """First request per address that is the 61st within a trailing 60 s."""
    rows = con.execute(f"""
        SELECT ip, min(ts) FROM (
            SELECT ip, ts, count(*) OVER (PARTITION BY ip ORDER BY ts
                RANGE BETWEEN INTERVAL {PERIOD_SECONDS} SECONDS PRECEDING AND CURRENT ROW) AS n
            FROM scored)
        WHERE n > {RATE} GROUP BY ip
    """).fetchall()
    return [_block(ip, ts, "rate-limit", f"more than {RATE} requests in {PERIOD_SECONDS} s")
            for ip, ts in rows]


def crawler_agents(con: Any) -> list[Decision]:
    """First request per address whose user agent is on the crawler list."""
    agents = [r[0] for r in con.execute("SELECT DISTINCT ua FROM scored WHERE ua IS NOT NULL")
              .fetchall()]
    listed = [ua for ua in agents if crawleruseragents.is_crawler(ua)]
    con.execute("CREATE OR REPLACE TEMP TABLE _listed(ua VARCHAR)")
    if listed:  # duckdb refuses an empty executemany
        con.executemany("INSERT INTO _listed VALUES (?)", [(ua,) for ua in listed])
    rows = con.execute(
        "SELECT ip, min(ts) FROM scored WHERE ua IN (SELECT ua FROM _listed) GROUP BY ip"
    ).fetchall()
    return [_block(ip, ts, "crawler-agent", "user agent on the crawler list") for ip, ts in rows]


def _block(ip: str, ts: Any, rule: str, reason: str) -> Decision:
    return Decision(actor=f"ip:{ip}", kind="ip", action="block", score=1.0, first_action_ts=ts,
                    requests=0, subjects=0, subjects_before_action=0, rules=[rule],
                    reasons=[reason])


BASELINES = {"per-IP rate limit": rate_limit, "crawler UA list": crawler_agents}
