"""What each dashboard page shows, gathered through the admin API's functions.

Blocking (the store is asked): the routes call these from a worker thread. Nothing here
ranks, validates or decides on its own; `admin.py` and the engine do, for the API and the
dashboard alike.
"""

from __future__ import annotations

from typing import Any

from scrapeguard.decisions import parse_ts
from scrapeguard.service import admin
from scrapeguard.service.dashboard.timeline import Timelines, bars, position
from scrapeguard.service.state import Service

CAMPAIGN = "campaign:"
UNJUDGED = 15


def overview(service: Service, timelines: Timelines) -> dict[str, Any]:
    rules = admin.rule_decisions(service)
    manual = service.engine.manual_decisions()
    overrides = {record["actor"]: record for record in manual}
    actors = [d for d in admin.ranked(rules) if d["kind"] != "campaign"]
    campaigns = [{**d, "members": _members(service, timelines, d["actor"])}
                 for d in admin.ranked(rules) if d["kind"] == "campaign"]
    judged = {d["actor"] for d in rules} | set(overrides)
    unjudged = [(actor, track) for actor, track in timelines.top(UNJUDGED + len(judged))
                if actor not in judged][:UNJUDGED]
    return {"actors": actors, "campaigns": campaigns, "manual": manual,
            "overrides": overrides, "unjudged": unjudged}


def _members(service: Service, timelines: Timelines, actor: str) -> list[str]:
    """A campaign's members that this process saw: `campaign:enum:/user/{id}` → link and
    template; the engine says which of the clients seen on the template are members."""
    campaign = actor.removeprefix(CAMPAIGN)
    template = campaign.partition(":")[2]
    return service.engine.campaign_members(campaign, timelines.clients_on(template))


def actor_page(service: Service, timelines: Timelines, name: str) -> dict[str, Any]:
    rules = [d for d in admin.rule_decisions(service) if d["actor"] == name]
    manual = [d for d in service.engine.manual_decisions() if d["actor"] == name]
    track = timelines.get(name)
    first_action = None
    if track is not None and rules:
        first = min(parse_ts(d["first_action_ts"]) for d in rules)
        first_action = position(track, first)
    members = _members(service, timelines, name) if name.startswith(CAMPAIGN) else []
    return {"name": name, "decisions": rules, "manual": manual, "track": track,
            "bars": bars(track) if track is not None else [],
            "first_action": first_action, "members": members}
