"""The report's figures in plain sentences, for readers who will not read a table first.

Written for a security lead and for a regulator: what was taken, from how many people, over
what period, by how many actors, and how much of it acting in time would have saved.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from scrapeguard.decisions import parse_ts
from scrapeguard.words import plural

KIND_WORDS = {"ip": "address", "net": "network", "asn": "autonomous system",
              "prefix": "announced prefix", "account": "account", "session": "session",
              "fp": "client fingerprint", "hdr": "header shape", "tls": "TLS fingerprint",
              "campaign": "campaign"}


def when(text: str | None) -> str:
    """`2026-03-02T08:10:40.000Z` → `2 Mar 2026 08:10 UTC`."""
    if not text:
        return "an unknown time"
    moment: datetime = parse_ts(text)
    return f"{moment.day} {moment:%b %Y %H:%M} UTC"


def join(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def percent(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "0%"


def summary_sentences(report: dict[str, Any]) -> list[str]:
    """The summary's paragraph, one sentence per item."""
    s = report["summary"]
    actors = report["actors"]
    if not actors:
        return ["No actor in these logs met any rule of the policy in force: scrapeguard "
                "found no bulk harvesting of personal data."]
    fields = s["fields"]
    counts = sorted(((n, k) for k, n in s["actors_by_kind"].items() if k != "campaign"),
                    reverse=True)
    kinds = [plural(n, KIND_WORDS.get(k, k)) for n, k in counts]
    out = [
        f"Between {when(s['first_seen'])} and {when(s['last_seen'])}, "
        f"{plural(len(actors), 'actor')} that the policy acts on received the personal "
        f"records of about {plural(s['people_affected'], 'person', 'people')}"
        + (f" ({join(fields)})." if fields else "."),
        f"They were seen as {join(kinds) or 'campaigns only'}"
        + (f", and {plural(s['campaigns'], 'campaign')} linking actors that acted as one"
           if s["campaigns"] and kinds else "")
        + "; one harvester often appears under several keys, so people are counted once "
        "over all of them.",
    ]
    top = actors[0]
    out.append(
        f"The largest, {top['id']} ({top['actor']}), received {top['records']:,} records in "
        f"{top['requests']:,} requests between {when(top['first_seen'])} and "
        f"{when(top['last_seen'])}."
    )
    out.append(
        f"Had scrapeguard been live, it would have acted on the first actor at "
        f"{when(s['first_action'])} and on the last at {when(s['last_action'])}: "
        f"{plural(s['people_preventable'], 'person', 'people')}'s records "
        f"({percent(s['people_preventable'], s['people_affected'])}) would have been "
        f"protected, and {plural(s['people_before_action'], 'person', 'people')}'s were taken "
        f"before any rule could act."
    )
    return out
