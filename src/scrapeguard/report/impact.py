"""The breach-impact report as data: what was taken, by whom, from whom, and when.

One dictionary holds everything; the JSON file is that dictionary and the HTML page is drawn
from it, so the two never disagree. Its keys are a contract for other tools (docs/report.md):
add, never rename. Figures come from the decisions (the engine's own counts) and from
aggregates over the decided actors' rows (`engines.inspect`); no subject id is read into it,
and evidence lines are masked unless the caller asks for them raw.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from scrapeguard import __version__
from scrapeguard.analysis import Analysis
from scrapeguard.decisions import Decision, format_ts
from scrapeguard.engines import inspect
from scrapeguard.policy.model import Policy
from scrapeguard.report.notify import notification
from scrapeguard.report.prose import summary_sentences
from scrapeguard.report.rank import by_harm
from scrapeguard.report.redact import Redactor

REPORT_VERSION = 1
BUCKETS = ((60, "minute"), (300, "5 minutes"), (900, "15 minutes"), (1800, "30 minutes"),
           (3600, "hour"), (3 * 3600, "3 hours"), (6 * 3600, "6 hours"),
           (12 * 3600, "12 hours"), (86400, "day"), (7 * 86400, "week"))
MAX_BUCKETS = 150
"""The timeline's resolution: the finest bucket that keeps the log's span within this many."""


def acting(decisions: list[Decision]) -> list[Decision]:
    """Decisions that act in the terminal's order (`by_harm`): the order of labels A1, A2, …"""
    return by_harm(decisions)


def bucket_for(first: datetime | None, last: datetime | None) -> tuple[int, str]:
    """(seconds, name) of the timeline bucket for a log spanning first..last."""
    seconds = (last - first).total_seconds() if first and last else 0.0
    for size, name in BUCKETS:
        if seconds / size <= MAX_BUCKETS:
            return size, name
    return BUCKETS[-1]


def build(analysis: Analysis, policy: Policy, *, unredacted: bool = False,
          evidence_lines: int = 6) -> dict[str, Any]:
    """The report for an analysis run with `keep_connection=True`."""
    con = analysis.connection
    if con is None:
        raise ValueError("the report needs analyze(..., keep_connection=True)")
    decided = acting(analysis.decisions)
    labels = [f"A{i + 1}" for i in range(len(decided))]
    rows = inspect.decided_rows(con, decided, policy)
    first, last = inspect.span(con)
    bucket_s, bucket_name = bucket_for(first, last)
    seen = inspect.exposure(rows)
    people_total, people_before = inspect.people(rows)
    per_actor_fields, all_fields = inspect.fields(con, rows, policy)
    redactor = None if unredacted else Redactor(policy)
    actors = [_actor(d, labels[i], seen.get(i, {}), policy) for i, d in enumerate(decided)]
    _attach(actors, per_actor_fields, "fields", "field")
    _attach(actors, inspect.routes(con, rows), "routes", "template")
    for line in inspect.evidence(con, rows, evidence_lines):
        actors[line["idx"]]["evidence"].append(_evidence(line, redactor))
    for a, b, shared in inspect.overlaps(rows):
        for one, other in ((a, b), (b, a)):
            actors[one]["related"].append(
                {"id": labels[other], "actor": decided[other].actor, "shared_requests": shared})
    items = inspect.catalogue_items(con, rows)
    catalogue_rules = _catalogue_rules(policy)
    for i, actor in enumerate(actors):
        actor["catalogue_items"] = items.get(i, 0)
        actor["catalogue_harvest"] = actor["records"] == 0 and bool(
            catalogue_rules & set(actor["rules"]))
    fields = sorted(all_fields, key=lambda r: (-r["records"], r["field"]))
    summary = _summary(actors, fields, people_total, people_before)
    summary["catalogue_harvests"] = sum(1 for a in actors if a["catalogue_harvest"])
    summary["catalogue_items_received"] = sum(a["catalogue_items"] for a in actors
                                              if a["catalogue_harvest"])
    used = {t for a in actors for t in a["routes"]}
    summary["unconfirmed_routes"] = [
        {"template": r.template, "ids": r.ids, "confidence": r.confidence,
         "evidence": list(r.evidence)}
        for r in analysis.enrich.routes.inferred_people() if r.template in used]
    report: dict[str, Any] = {
        "format": "scrapeguard.breach-report",
        "version": REPORT_VERSION,
        "generator": f"scrapeguard {__version__}",
        "generated_at": format_ts(datetime.now(UTC)),
        "redacted": not unredacted,
        "input": _input(analysis, first, last),
        "summary": summary,
        "fields": fields,
        "timeline": {"bucket_seconds": bucket_s, "bucket": bucket_name,
                     "points": _timeline(inspect.timeline(rows, bucket_s * 1000), labels,
                                         bucket_s)},
        "actors": actors,
    }
    report["summary"]["sentences"] = summary_sentences(report)
    report["notification"] = notification(report)
    report["notes"] = NOTES
    return report


NOTES = [
    "Records are counted as the engine counts them: distinct records per actor, a list page "
    "counting the records it shows. One person reached through two routes counts twice, so "
    "people figures are approximate upper bounds.",
    "'Before first action' means received before the first time any rule of the policy would "
    "have acted on that actor, had scrapeguard been live; what came after was preventable.",
    "Actors overlap: one harvester can be decided under its address, its account and a "
    "campaign. People figures are the union over all actors, never a sum.",
    "Subject ids are counted, not listed here; the command 'scrapeguard report affected' "
    "lists them on request, as a file that is itself personal data.",
]


def _catalogue_rules(policy: Policy) -> set[str]:
    """Rules that count catalogue items: acting on them alone is a catalogue harvest."""
    from scrapeguard.policy.expr import parse

    return {r.id for r in policy.rules
            if parse(r.when).features & {"items", "item_requests"}}


def _actor(d: Decision, label: str, seen: dict[str, Any], policy: Policy) -> dict[str, Any]:
    rules = {r.id: r for r in policy.rules}
    techniques = list(dict.fromkeys(rules[r].technique for r in d.rules
                                    if r in rules and rules[r].technique))
    return {
        "id": label,
        "actor": d.actor,
        "kind": d.kind,
        "action": d.action,
        "score": round(d.score, 4),
        "rules": d.rules,
        "techniques": techniques,
        "reasons": d.reasons,
        "first_seen": _ts(seen.get("first_seen")),
        "last_seen": _ts(seen.get("last_seen")),
        "first_action_ts": format_ts(d.first_action_ts),
        "requests": d.requests,
        "records": d.subjects,
        "records_before_action": d.subjects_before_action,
        "records_preventable": d.subjects - d.subjects_before_action,
        "keys": {"ip": _n(seen.get("ips")), "account": _n(seen.get("accounts")),
                 "session": _n(seen.get("sessions"))},
        "member_count": len(d.members or []),
        "members": list(d.members or []),
        "fields": {},
        "routes": {},
        "related": [],
        "evidence": [],
    }


def _attach(actors: list[dict[str, Any]], rows: list[dict[str, Any]], key: str,
            name: str) -> None:
    grouped: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for row in rows:
        grouped[int(row["idx"])].append((str(row[name]), int(row["records"] or 0)))
    for idx, pairs in grouped.items():
        actors[idx][key] = dict(sorted(pairs, key=lambda p: (-p[1], p[0])))


def _evidence(line: dict[str, Any], redactor: Redactor | None) -> dict[str, Any]:
    path, referer = line["path"], line["referer"]
    if redactor is not None:
        path, referer = redactor.path(path), redactor.url(referer)
    ts = _ts(line["ts"]) or ""
    subjects = _n(line["subjects"])
    text = (f'{ts} {line["ip"]} {line["account"] or "-"} "{line["method"]} {path}" '
            f'{line["status"]} {line["bytes"] if line["bytes"] is not None else "-"} '
            f'"{referer or "-"}" "{line["ua"] or "-"}"')
    if subjects:
        text += f" ({subjects} subject{'s' if subjects != 1 else ''})"
    return {"ts": ts, "line": text}


def _summary(actors: list[dict[str, Any]], fields: list[dict[str, Any]], people: int,
             people_before: int) -> dict[str, Any]:
    firsts = [a["first_seen"] for a in actors if a["first_seen"]]
    lasts = [a["last_seen"] for a in actors if a["last_seen"]]
    actions = [a["first_action_ts"] for a in actors]
    return {
        "people_affected": people,
        "people_before_action": people_before,
        "people_preventable": people - people_before,
        "records_received": sum(a["records"] for a in actors),
        "records_before_action": sum(a["records_before_action"] for a in actors),
        "records_preventable": sum(a["records_preventable"] for a in actors),
        "actors": sum(1 for a in actors if a["kind"] != "campaign"),
        "campaigns": sum(1 for a in actors if a["kind"] == "campaign"),
        "actors_by_kind": dict(sorted(_count(a["kind"] for a in actors).items())),
        "fields": [f["field"] for f in fields if f["field"] != "unclassified"],
        "first_seen": min(firsts) if firsts else None,
        "last_seen": max(lasts) if lasts else None,
        "first_action": min(actions) if actions else None,
        "last_action": max(actions) if actions else None,
    }


def _timeline(points: list[dict[str, Any]], labels: list[str], bucket_s: int
              ) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    totals: dict[int, int] = defaultdict(int)
    starts: dict[int, str] = {}
    for p in points:
        totals[p["idx"]] += p["records"]
        if p["bucket"] not in starts:
            starts[p["bucket"]] = format_ts(
                datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=p["bucket"] * bucket_s))
        out.append({"id": labels[p["idx"]], "start": starts[p["bucket"]],
                    "requests": p["requests"], "records": p["records"],
                    "records_total": totals[p["idx"]]})
    return out


def _input(analysis: Analysis, first: datetime | None, last: datetime | None) -> dict[str, Any]:
    files = [{"file": f.name, "format": f.format, "events": f.events, "malformed": f.malformed}
             for f in analysis.load.files]
    return {
        "files": files,
        "events": analysis.totals.get("events", 0),
        "personal_data_requests": analysis.totals.get("subject_requests", 0),
        "distinct_records_served": analysis.totals.get("distinct_items", 0),
        "malformed_lines": sum(f["malformed"] for f in files),
        "first_event": _ts(first),
        "last_event": _ts(last),
    }


def _count(values: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return out


def _ts(value: Any) -> str | None:
    return format_ts(value) if isinstance(value, datetime) else None


def _n(value: Any) -> int:
    return 0 if value is None or value != value else int(value)
