"""What enrichment learnt about a log, kept apart from `enrich.py` so that the summary, the
report and an analysis of an empty log can hold it without importing Ibis."""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapeguard.routes.model import RouteTable


@dataclass
class EnrichStats:
    """What enrichment learnt about the log, for the summary and the report."""

    inferred_templates: list[str]
    allowlisted_requests: dict[str, int]
    routes: RouteTable = field(default_factory=RouteTable)
    """What each template is (`scrapeguard routes`), learned before any rule ran."""
