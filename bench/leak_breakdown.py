"""Where the records above the first-sight floor leaked: by harvester, by cause, by actor.

    python bench/leak_breakdown.py SIM_DIR DECISIONS.jsonl [--actors 8]

`eval` says how many records each harvester took before it was contained and how many of
those no detector could have refused (the floor, docs/metrics.md). This says what the rest
were: each record above the floor is charged to the first uncontained event that received it,
and that event is described by

- which of its keys had been seen before (address, network, account, session): what a rule
  could have waited on;
- the first later decision on any of its keys (kind, rules, how long after, and how many
  requests that key had made by then), or none.

Then, per harvester, the actors (account, else session, else address) that leaked most above
the floor, with the requests they made before their first refusal.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scrapeguard.decisions import Decision, read_decisions
from scrapeguard.scoring.data import load_labelled
from scrapeguard.scoring.score import KEY_COLUMNS, _first_sight, _new_stack

IDENTITY_KEYS = ("k_ip", "k_net", "k_account", "k_session")


def _decision_table(con: Any, decisions: Sequence[Decision]) -> None:
    """Earliest acting decision per key, with the decision's actor kind and rules."""
    best: dict[str, tuple[Any, str, str]] = {}
    for d in decisions:
        if d.action == "allow":
            continue
        members = d.members or []
        since = d.members_first_action_ts or [d.first_action_ts] * len(members)
        rules = "+".join(sorted(d.rules))
        for key, ts in [(d.actor, d.first_action_ts), *zip(members, since, strict=True)]:
            via = d.kind if key == d.actor else f"{d.kind} member"
            if key not in best or ts < best[key][0]:
                best[key] = (ts, via, rules)
    con.execute("CREATE OR REPLACE TEMP TABLE _dkr(key VARCHAR, t TIMESTAMPTZ, via VARCHAR, "
                "rules VARCHAR)")
    if best:
        con.executemany("INSERT INTO _dkr VALUES (?, ?, ?, ?)",
                        [(k, *v) for k, v in best.items()])


def _events(con: Any) -> None:
    joins = "\n".join(f"LEFT JOIN _dkr d{i} ON d{i}.key = s.{c}"
                      for i, c in enumerate(KEY_COLUMNS))
    cols = ", ".join(f"d{i}.t AS t{i}, d{i}.via AS via{i}, d{i}.rules AS rules{i}"
                     for i in range(len(KEY_COLUMNS)))
    seen = ", ".join(
        f"(s.{c} IS NOT NULL AND row_number() OVER (PARTITION BY s.{c} ORDER BY s.ts, s.line) > 1)"
        f" AS seen_{c[2:]}" for c in IDENTITY_KEYS)
    nth = ", ".join(f"row_number() OVER (PARTITION BY s.{c} ORDER BY s.ts, s.line) AS n_{c[2:]}"
                    for c in KEY_COLUMNS)
    least = ", ".join(f"d{i}.t" for i in range(len(KEY_COLUMNS)))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _ev AS
        SELECT s.*, coalesce(least({least}) <= s.ts, FALSE) AS contained,
               {_first_sight()} AS first_sight,
               {_first_sight()} AND {_new_stack()} AS first_sight_stacks,
               {seen}, {nth}, {cols}
        FROM scored s {joins}
    """)


def _next_refusal(con: Any) -> None:
    """Per uncontained event: the first decision after it on any of its keys."""
    picks = " UNION ALL ".join(
        f"SELECT line, '{c[2:]}' AS key_kind, s.{c} AS key, t{i} AS t, via{i} AS via, "
        f"rules{i} AS rules FROM _ev s WHERE t{i} > ts AND NOT contained"
        for i, c in enumerate(KEY_COLUMNS))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _next AS
        SELECT line, arg_min(key_kind, t) AS key_kind, arg_min(key, t) AS key,
               min(t) AS t, arg_min(via, t) AS via, arg_min(rules, t) AS rules
        FROM ({picks}) GROUP BY line
    """)


def breakdown(data: Path, decisions: Path, actors: int) -> None:
    con = load_labelled(data)
    _decision_table(con, list(read_decisions(decisions)))
    _events(con)
    _next_refusal(con)
    # Each record of a harvester: leaked? on the floor? and its first uncontained event.
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _rec AS
        SELECT scenario, subject, bool_or(NOT contained) AS leaked,
               bool_or(first_sight) AS floor, bool_or(first_sight_stacks) AS floor_stacks,
               arg_min(line, ts) FILTER (WHERE NOT contained) AS line
        FROM (SELECT scenario, unnest(subjects) AS subject, contained, first_sight,
                     first_sight_stacks, line, ts FROM _ev WHERE label = 'scraper')
        GROUP BY ALL
    """)
    total = con.execute("SELECT count(*) FROM _rec").fetchone()[0]
    pt = 100.0 / total if total else 0.0
    print(f"harvested {total:,} records (distinct per harvester, summed)")
    print(f"{'harvester':18} {'leaked':>8} {'floor':>8} {'stacks':>8} {'above':>8} {'pts':>6}")
    for row in con.execute("""
        SELECT scenario, count(*) FILTER (WHERE leaked), count(*) FILTER (WHERE floor),
               count(*) FILTER (WHERE floor_stacks),
               count(*) FILTER (WHERE leaked AND NOT floor)
        FROM _rec GROUP BY ALL ORDER BY 5 DESC""").fetchall():
        print(f"{row[0]:18} {row[1]:>8,} {row[2]:>8,} {row[3]:>8,} {row[4]:>8,} "
              f"{row[4] * pt:>6.2f}")
    print("\nabove the floor, by cause (first uncontained event that received the record)")
    print(f"{'harvester':18} {'seen before':24} {'first later refusal':44} {'records':>8} "
          f"{'pts':>6} {'median wait':>11}")
    for row in con.execute("""
        SELECT r.scenario,
               concat_ws('+', CASE WHEN e.seen_ip THEN 'ip' END,
                         CASE WHEN e.seen_net THEN 'net' END,
                         CASE WHEN e.seen_account THEN 'account' END,
                         CASE WHEN e.seen_session THEN 'session' END) AS seen,
               coalesce(n.key_kind || ' via ' || n.via || ': ' || n.rules, 'never') AS cause,
               count(*) AS records,
               median(date_diff('second', e.ts, n.t)) / 60.0 AS wait_min
        FROM _rec r JOIN _ev e USING (line) LEFT JOIN _next n USING (line)
        WHERE r.leaked AND NOT r.floor
        GROUP BY ALL HAVING count(*) * 1000 >= (SELECT count(*) FROM _rec)
        ORDER BY records DESC""").fetchall():
        wait = "" if row[4] is None else f"{row[4]:.0f} min"
        print(f"{row[0]:18} {row[1] or '-':24} {row[2][:44]:44} {row[3]:>8,} "
              f"{row[3] * pt:>6.2f} {wait:>11}")
    print("\npeople and good bots acted on: the first decision that reached each")
    least = " ".join(f"WHEN t{i} = t THEN '{c[2:]} via ' || via{i} || ': ' || rules{i}"
                     for i, c in enumerate(KEY_COLUMNS))
    for row in con.execute(f"""
        WITH hit AS (
            SELECT *, least({", ".join(f"t{i}" for i in range(len(KEY_COLUMNS)))}) AS t
            FROM _ev WHERE label <> 'scraper' AND contained),
        first AS (SELECT scenario, identity, arg_min(CASE {least} END, ts) AS why
                  FROM hit GROUP BY ALL)
        SELECT scenario, why, count(*) FROM first GROUP BY ALL ORDER BY 3 DESC""").fetchall():
        print(f"{row[0]:18} {row[1][:70]:70} {row[2]:>5}")
    print(f"\nper actor (account, else session, else address), top {actors} per harvester: "
          "records above the floor, its requests before its first refusal")
    for row in con.execute(f"""
        WITH a AS (
            SELECT r.scenario, coalesce(e.k_account, e.k_session, e.k_ip) AS actor,
                   count(*) AS records
            FROM _rec r JOIN _ev e USING (line) WHERE r.leaked AND NOT r.floor GROUP BY ALL),
        refused AS (
            SELECT coalesce(k_account, k_session, k_ip) AS actor,
                   count(*) AS requests, count(*) FILTER (WHERE NOT contained) AS before,
                   min(ts) FILTER (WHERE contained) AS t_refused, min(ts) AS t_first
            FROM _ev WHERE label = 'scraper' GROUP BY ALL),
        ranked AS (
            SELECT a.*, row_number() OVER (PARTITION BY scenario ORDER BY records DESC) AS n
            FROM a)
        SELECT scenario, actor, records, requests, before,
               date_diff('second', t_first, t_refused) / 60.0
        FROM ranked JOIN refused USING (actor) WHERE n <= {actors}
        ORDER BY scenario, records DESC""").fetchall():
        wait = "never" if row[5] is None else f"{row[5]:.0f} min"
        print(f"{row[0]:18} {row[1][:40]:40} {row[2]:>7,} rec  {row[4]:>6,}/{row[3]:<6,} req "
              f"uncontained, refused after {wait}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("decisions", type=Path)
    parser.add_argument("--actors", type=int, default=8)
    args = parser.parse_args(argv)
    breakdown(args.data, args.decisions, args.actors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
