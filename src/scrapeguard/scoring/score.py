"""Scoring decisions against labelled traffic (the metrics are defined in docs/metrics.md).

An event is *contained* when a decision with any action but `allow` on one of its keys — or
a decision whose `members` hold one of them — applied at or before the event's time. For
harvesters that is success (their later requests would have been refused); for people and
good bots it is harm (they were throttled, challenged or blocked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from scrapeguard.decisions import Decision

KEY_COLUMNS = ("k_ip", "k_net", "k_account", "k_session", "k_fp", "k_hdr", "k_tls")


@dataclass
class ScenarioScore:
    scenario: str
    label: str
    identities: int
    events: int
    contained_identities: int
    records: int
    """Distinct people's records the scenario received (harvested, for scrapers)."""
    leaked: int
    """Distinct records received in events no decision had yet contained."""
    median_minutes_to_containment: float | None
    first_sight: int = 0
    """Distinct records received in events whose address, network, account and session no
    earlier event had carried: no detector acting on those keys refuses them without
    refusing everyone it has never seen. A floor under `leaked`, the same for every tool."""
    first_sight_stacks: int = 0
    """The same floor with live client stacks: of those, the records whose header shape and
    TLS fingerprint agree with the browser they claim (or claim none). A stack that
    contradicts its claim can be refused on that request without refusing people."""

    @property
    def share_contained(self) -> float:
        return self.contained_identities / self.identities if self.identities else 0.0

    @property
    def leaked_share(self) -> float:
        return self.leaked / self.records if self.records else 0.0


@dataclass
class Scorecard:
    """One tool's scores on one traffic set."""

    tool: str
    scenarios: list[ScenarioScore]
    timeline: dict[str, list[tuple[str, int, int]]] = field(default_factory=dict)
    """scenario → (hour, cumulative records harvested, cumulative leaked)."""

    def _of(self, label: str) -> list[ScenarioScore]:
        return [s for s in self.scenarios if s.label == label]

    def _of_harvested(self, count: str) -> float:
        """A per-scenario record count, summed over harvesters, over what they harvested."""
        scrapers = self._of("scraper")
        harvested = sum(s.records for s in scrapers)
        return sum(getattr(s, count) for s in scrapers) / harvested if harvested else 0.0

    @property
    def scraper_leaked_share(self) -> float:
        return self._of_harvested("leaked")

    @property
    def scraper_first_sight_share(self) -> float:
        """The floor under `scraper_leaked_share`: records first seen with strangers."""
        return self._of_harvested("first_sight")

    @property
    def scraper_first_sight_stacks_share(self) -> float:
        """The floor with client stacks (`ScenarioScore.first_sight_stacks`)."""
        return self._of_harvested("first_sight_stacks")

    @property
    def people_affected_share(self) -> float:
        people = self._of("human")
        total = sum(s.identities for s in people)
        return sum(s.contained_identities for s in people) / total if total else 0.0

    @property
    def goodbots_affected_share(self) -> float:
        bots = self._of("goodbot")
        total = sum(s.identities for s in bots)
        return sum(s.contained_identities for s in bots) / total if total else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "scraper_records_leaked_share": self.scraper_leaked_share,
            "scraper_records_first_sight_share": self.scraper_first_sight_share,
            "scraper_records_first_sight_stacks_share": self.scraper_first_sight_stacks_share,
            "people_affected_share": self.people_affected_share,
            "goodbots_affected_share": self.goodbots_affected_share,
            "scenarios": [asdict(s) | {"share_contained": s.share_contained,
                                       "leaked_share": s.leaked_share} for s in self.scenarios],
            "timeline": self.timeline,
        }


def score(con: Any, decisions: Sequence[Decision], tool: str) -> Scorecard:
    """Score one decisions file (ours or another tool's) on the loaded traffic."""
    _decision_keys(con, decisions)
    joins = "\n".join(f"LEFT JOIN _dk d{i} ON d{i}.key = s.{c}" for i, c in enumerate(KEY_COLUMNS))
    least = ", ".join(f"d{i}.t" for i in range(len(KEY_COLUMNS)))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _contained AS
        SELECT s.line, s.ts, s.scenario, s.label, s.identity, s.subjects,
               coalesce(least({least}) <= s.ts, FALSE) AS contained,
               {_first_sight()} AS first_sight,
               {_first_sight()} AND {_new_stack()} AS first_sight_stacks
        FROM scored s {joins}
    """)
    rows = con.execute("""
        WITH per_identity AS (
            SELECT scenario, label, identity, count(*) AS events,
                   bool_or(contained) AS contained,
                   date_diff('second', min(ts), min(ts) FILTER (WHERE contained)) / 60.0 AS ttc
            FROM _contained GROUP BY ALL),
        records AS (
            SELECT scenario, count(DISTINCT subject) AS records,
                   count(DISTINCT subject) FILTER (WHERE NOT contained) AS leaked,
                   count(DISTINCT subject) FILTER (WHERE first_sight) AS first_sight,
                   count(DISTINCT subject) FILTER (WHERE first_sight_stacks) AS stacks
            FROM (SELECT scenario, contained, first_sight, first_sight_stacks,
                         unnest(subjects) AS subject
                  FROM _contained)
            GROUP BY ALL)
        SELECT p.scenario, any_value(p.label), count(*), sum(p.events),
               count(*) FILTER (WHERE p.contained), coalesce(any_value(r.records), 0),
               coalesce(any_value(r.leaked), 0), median(p.ttc),
               coalesce(any_value(r.first_sight), 0), coalesce(any_value(r.stacks), 0)
        FROM per_identity p LEFT JOIN records r USING (scenario)
        GROUP BY p.scenario ORDER BY any_value(p.label), p.scenario
    """).fetchall()
    scenarios = [
        ScenarioScore(scenario, label, int(identities), int(events), int(contained),
                      int(records), int(leaked), None if ttc is None else float(ttc),
                      int(first_sight), int(stacks))
        for scenario, label, identities, events, contained, records, leaked, ttc, first_sight,
        stacks in rows
    ]
    return Scorecard(tool, scenarios, _timeline(con))


def _first_sight() -> str:
    """SQL: this event is the first to carry each of its address, network, account and
    session keys (a missing account or session is no key to have seen)."""
    def first(column: str) -> str:
        return f"row_number() OVER (PARTITION BY s.{column} ORDER BY s.ts, s.line) = 1"
    return " AND ".join(f"(s.{c} IS NULL OR {first(c)})"
                        for c in ("k_ip", "k_net", "k_account", "k_session"))


def _new_stack() -> str:
    """SQL: neither of the event's client stacks contradicts the browser its agent claims.
    A contradiction is refusable on the request that shows it, first sighting or not
    (`browser-claim-foreign-headers` acts on one), and no browser's own stack contradicts
    itself; a browser's stack is shared with people, never a key to refuse."""
    return "NOT s.hdr_bad AND NOT s.tls_bad"


def _decision_keys(con: Any, decisions: Sequence[Decision]) -> None:
    """Earliest acting time per key: the actor itself, and every member it lists from the
    time the decision first applied to that member."""
    earliest: dict[str, Any] = {}
    for decision in decisions:
        if decision.action == "allow":
            continue
        members = decision.members or []
        since = decision.members_first_action_ts or [decision.first_action_ts] * len(members)
        for key, ts in [(decision.actor, decision.first_action_ts), *zip(members, since,
                                                                         strict=True)]:
            if key not in earliest or ts < earliest[key]:
                earliest[key] = ts
    con.execute("CREATE OR REPLACE TEMP TABLE _dk(key VARCHAR, t TIMESTAMPTZ)")
    if earliest:  # duckdb refuses an empty executemany
        con.executemany("INSERT INTO _dk VALUES (?, ?)", list(earliest.items()))


def _timeline(con: Any) -> dict[str, list[tuple[str, int, int]]]:
    """Cumulative distinct records per scraper scenario by hour, all and uncontained."""
    rows = con.execute("""
        WITH items AS (
            SELECT scenario, unnest(subjects) AS subject, ts, contained
            FROM _contained WHERE label = 'scraper'),
        firsts AS (
            SELECT scenario, subject, min(ts) AS t_all,
                   min(ts) FILTER (WHERE NOT contained) AS t_leak
            FROM items GROUP BY ALL)
        SELECT scenario, strftime(date_trunc('hour', t_all), '%Y-%m-%dT%H:00Z') AS hour,
               count(*) AS n_all, 0 AS n_leak FROM firsts GROUP BY ALL
        UNION ALL
        SELECT scenario, strftime(date_trunc('hour', t_leak), '%Y-%m-%dT%H:00Z'), 0, count(*)
        FROM firsts WHERE t_leak IS NOT NULL GROUP BY ALL
        ORDER BY 1, 2
    """).fetchall()
    series: dict[str, dict[str, list[int]]] = {}
    for scenario, hour, n_all, n_leak in rows:
        bucket = series.setdefault(scenario, {}).setdefault(hour, [0, 0])
        bucket[0] += int(n_all)
        bucket[1] += int(n_leak)
    out: dict[str, list[tuple[str, int, int]]] = {}
    for scenario, hours in series.items():
        total = leaked = 0
        out[scenario] = []
        for hour in sorted(hours):
            total += hours[hour][0]
            leaked += hours[hour][1]
            out[scenario].append((hour, total, leaked))
    return out
