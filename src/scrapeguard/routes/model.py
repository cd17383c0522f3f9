"""The route table: one row per (template, method group) with its class, evidence, confidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

RouteClass = Literal["page", "subresource", "api", "write", "preflight", "record"]
RecordKind = Literal["person", "item"]
MethodGroup = Literal["read", "write", "preflight"]

BY_EXTENSION = ("file extension",)
"""The evidence of a sub-resource known by its file extension alone."""

ROUTE_CLASSES: tuple[RouteClass, ...] = ("page", "subresource", "api", "write", "preflight",
                                         "record")
RECORD_KINDS: tuple[RecordKind, ...] = ("person", "item")


@dataclass(frozen=True)
class LearnedRoute:
    """What one template is on this site, and why scrapeguard thinks so."""

    template: str
    methods: MethodGroup
    klass: RouteClass
    kind: RecordKind | None
    requests: int
    clients: int
    ids: int
    evidence: tuple[str, ...]
    confidence: float
    declared: bool = False
    """True when the policy said so: declared routes always win and are confirmed."""

    @property
    def carries_people(self) -> bool:
        return self.klass == "record" and self.kind == "person"

    @property
    def carries_items(self) -> bool:
        return self.klass == "record" and self.kind == "item"


@dataclass
class RouteTable:
    """Every learned or declared route of one log, most requested first."""

    routes: list[LearnedRoute] = field(default_factory=list)

    def _templates(self, wanted: str) -> list[str]:
        return sorted({r.template for r in self.routes
                       if r.methods == "read" and _is(r, wanted)})

    @property
    def person_templates(self) -> list[str]:
        """Templates whose GET answers carry one person's record each (inferred, or declared
        as a class; routes declared under `routes:` are matched by their own pattern)."""
        return self._templates("person")

    @property
    def item_templates(self) -> list[str]:
        """Inferred templates whose GET answers carry one catalogue item each."""
        return self._templates("item")

    @property
    def subresource_templates(self) -> list[str]:
        """Templates without a file extension that a browser fetches like an asset (those
        with one are assets already, and a log has tens of thousands of them)."""
        return sorted({r.template for r in self.routes if r.methods == "read"
                       and r.klass == "subresource" and r.evidence[:1] != BY_EXTENSION})

    def inferred_people(self) -> list[LearnedRoute]:
        """Person routes assumed from behaviour, not declared: what `analyze` tells first."""
        return [r for r in self.routes if r.carries_people and not r.declared]


def _is(route: LearnedRoute, wanted: str) -> bool:
    if wanted == "subresource":
        return route.klass == "subresource"
    return route.klass == "record" and route.kind == wanted
