"""The policy model: rules, subject routes, allowlists and settings, validated by pydantic.

A policy is data (YAML); this module only says what shape it must have. Loading with line
numbers lives in `load.py`, the condition language in `expr.py`.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from scrapeguard.types import Action, ActorKind

_DURATION = re.compile(r"^(\d+)\s*(ms|s|m|h|d)$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | int | float) -> timedelta:
    """`90s`, `5m`, `1h`, `1d` (or a number of seconds) as a timedelta."""
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h, 1d)")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


DECISION_TTL: dict[Action, str] = {
    "allow": "1h", "throttle": "10m", "challenge": "1h", "decoy": "24h", "block": "24h",
}
"""Default lifetimes of live decisions by action (policy `settings.decision_ttl`)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


CampaignLink = Literal["enum", "thin", "ref"]
DEFAULT_LINKS: tuple[CampaignLink, ...] = ("enum", "thin")


class Rule(_Strict):
    """One detection: count by `kind` over fixed `window`s; act when `when` first holds."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    kind: ActorKind
    window: str = "1h"
    when: str
    action: Action
    score: Annotated[float, Field(ge=0, le=1)] = 0.8
    severity: str = "medium"
    technique: str = ""
    explain: str = ""
    doc: str = ""
    enabled: bool = True
    links: list[CampaignLink] = Field(default_factory=lambda: list(DEFAULT_LINKS))
    """Campaign rules: the campaign links they judge (`engines/campaigns.py`). A referral
    campaign (`ref`) counts every request of its members, so a rule written for harvests
    spread over clients (`enum`, `thin`) must not judge it, nor the other way round."""

    hop: str | None = None
    """A long window that slides: counted in `window / hop` phases `hop` apart, so any stretch
    of `window - hop` lies whole inside one of them (`30d` with `hop: 10d`: any 20 days). A
    fixed month would forget a crawl paced over its boundary; a phase that started before the
    crawl did sees all of it. Each phase costs one more counter set per actor."""

    @field_validator("window")
    @classmethod
    def _window_is_duration(cls, value: str) -> str:
        seconds = parse_duration(value).total_seconds()
        if seconds < 1:
            raise ValueError("window must be at least 1s")
        return value

    @model_validator(mode="after")
    def _hop_divides_window(self) -> Rule:
        if self.hop is not None:
            hop = parse_duration(self.hop).total_seconds()
            if hop < 1 or hop >= self.window_seconds or self.window_seconds % int(hop):
                raise ValueError(f"hop {self.hop!r} must be shorter than the window "
                                 f"{self.window!r} and divide it")
        return self

    @property
    def window_seconds(self) -> int:
        return int(parse_duration(self.window).total_seconds())

    @property
    def phases(self) -> tuple[int, ...]:
        """Offsets (seconds) of the window's phases: `(0,)` for a fixed window."""
        if self.hop is None:
            return (0,)
        hop = int(parse_duration(self.hop).total_seconds())
        return tuple(range(0, self.window_seconds, hop))


class Route(_Strict):
    """A personal-data route: which part of the request names a subject, what it exposes."""

    name: str
    path: str
    subject: str | None = None
    query: str | None = None
    fields: list[str] = Field(default_factory=list)
    records_per_hit: Annotated[int, Field(ge=1)] = 1
    miss_status: list[int] = Field(default_factory=lambda: [404, 410])
    miss_max_bytes: int | None = None
    kind: Literal["person", "item"] = "person"
    """Whose record a hit serves: a person's (counted as exposure) or a catalogue item's
    (products, listings, articles: a catalogue harvest, never a breach of people's data)."""

    @model_validator(mode="after")
    def _names_a_subject(self) -> Route:
        placeholders = re.findall(r"\{(\w+)\}", self.path)
        if self.subject is not None and self.subject not in placeholders:
            raise ValueError(
                f"subject {self.subject!r} is not a placeholder of path {self.path!r}"
            )
        if self.subject is None and self.query is None and self.records_per_hit == 1:
            raise ValueError("a route needs `subject`, `query`, or `records_per_hit` > 1")
        return self


class RouteClassDecl(_Strict):
    """What a template is, as the operator confirms it (`scrapeguard routes --write`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    template: str
    methods: Literal["read", "write", "preflight"] = "read"
    klass: Literal["page", "subresource", "api", "write", "preflight", "record"] = Field(
        alias="class")
    kind: Literal["person", "item"] | None = None


class SearchEngine(_Strict):
    """A crawler that is allowed when its user agent and address both match."""

    name: str
    ua: str
    cidrs: list[str]


class Allowlist(_Strict):
    cidrs: list[str] = Field(default_factory=list)
    accounts: list[str] = Field(default_factory=list)
    search_engines: bool = True
    """Allow verified crawlers from the shipped, dated published ranges."""


class Networks(_Strict):
    """Where networks beyond /24 come from (`netinfo.py`): unset, `SCRAPEGUARD_ASN_DB` and
    `SCRAPEGUARD_HOSTING` say; `--asn-db` and `--hosting` override both."""

    asn_db: str | None = None
    """A MaxMind-format ASN database (GeoLite2-ASN or compatible): `asn:` and `prefix:` keys."""
    hosting: list[str] = Field(default_factory=list)
    """Files of hosting networks, one CIDR a line: the `hosting_*` features."""


class Settings(_Strict):
    infer_templates: bool = True
    min_template_ids: Annotated[int, Field(ge=2)] = 50
    """An inferred template counts as a subject route once this many distinct ids are seen."""
    seq_step: Annotated[int, Field(ge=1)] = 3
    """Ids within this distance of the actor's previous id on a route are a sequential step."""
    static_extensions: list[str] = Field(
        default_factory=lambda: [
            "css", "js", "mjs", "map", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp",
            "avif", "woff", "woff2", "ttf", "otf", "eot", "mp4", "webm", "mp3", "pdf",
        ]
    )
    campaign_min_members: Annotated[int, Field(ge=2)] = 3
    campaign_min_steps: Annotated[int, Field(ge=1)] = 3
    """Steps to a neighbouring id on one route before a client counts as enumerating..."""
    campaign_min_misses: Annotated[int, Field(ge=1)] = 12
    """...or lookups there that found nobody: people's contact syncs miss too, so more..."""
    campaign_evidence_ratio: Annotated[float, Field(gt=0, le=1)] = 0.8
    """...and either must be this share of its lookups there."""
    thin_min_lookups: Annotated[int, Field(ge=1)] = 3
    """Direct lookups from a client without an account (no asset, no other page, nothing
    else that day) before it joins the route's thin-client campaign. Two such lookups in a
    day are something people do now and then (two shared links opened from a warm cache);
    three are not."""
    thin_min_direct_lookups: Annotated[int, Field(ge=1)] = 2
    """...but a lookup that no link of this site led to (no referer, or another site's), on a
    site whose browsers load its assets, joins from this many: a client that arrived twice at
    people's records from outside and never loaded a thing. A person who goes from one
    record to another clicks a link on the first, which names it as referer; one who opens
    a second shared link renders it, and the browser asks for that person's picture, which
    no cache holds (docs/rules.md, spread-campaign)."""
    campaign_memory: str = "7d"
    """How long a live engine remembers a client as a member of a harvest campaign (`enum`,
    `thin`) after the last lookup that made it one. A botnet address that joined yesterday is
    refused from its first lookup today while the campaign's decision stands, not after the
    three it takes to join again; `analyze` covers a member from its joining on, for the rest
    of the log (docs/engine.md)."""
    decision_ttl: dict[Action, str] = Field(default_factory=dict)
    """How long a live decision stands, by its action, merged over `DECISION_TTL`: a
    throttle lapses soon, a block after a day; a client that keeps harvesting is decided on
    again. The stream engine's store drops the decision after it."""

    @field_validator("campaign_memory")
    @classmethod
    def _memory_is_duration(cls, value: str) -> str:
        if parse_duration(value).total_seconds() < 1:
            raise ValueError("campaign_memory must be at least 1s")
        return value

    def campaign_memory_seconds(self) -> int:
        return int(parse_duration(self.campaign_memory).total_seconds())

    @field_validator("decision_ttl")
    @classmethod
    def _ttls_are_durations(cls, value: dict[Action, str]) -> dict[Action, str]:
        for action, text in value.items():
            if parse_duration(text).total_seconds() < 1:
                raise ValueError(f"decision_ttl for {action} must be at least 1s")
        return value

    def decision_ttl_seconds(self) -> dict[Action, int]:
        """Seconds each action's decision stands, defaults filled in."""
        merged = {**DECISION_TTL, **self.decision_ttl}
        return {a: int(parse_duration(t).total_seconds()) for a, t in merged.items()}


class Policy(_Strict):
    version: int = 1
    extends: str | None = None
    """`default` to add to the shipped pack, null to replace it."""
    settings: Settings = Field(default_factory=Settings)
    allowlist: Allowlist = Field(default_factory=Allowlist)
    trusted_proxies: list[str] = Field(default_factory=list)
    networks: Networks = Field(default_factory=Networks)
    log_format: str | None = None
    """The nginx `log_format` the site's access logs are written with (`analyze` reads logs
    with it unless a format is given on the command line)."""
    traps: list[str] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    route_classes: list[RouteClassDecl] = Field(default_factory=list)
    """Templates the operator has classified; record routes are declared in `routes`."""
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> Policy:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} appears twice")
            seen.add(rule.id)
        return self

    def active_rules(self) -> list[Rule]:
        return [r for r in self.rules if r.enabled]
