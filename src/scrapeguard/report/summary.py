"""The machine-readable summary of an analysis (`analyze --summary-json`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from scrapeguard.analysis import Analysis
from scrapeguard.report.rank import by_harm
from scrapeguard.types import ACTIONS


def summary(analysis: Analysis, *, top: int = 20) -> dict[str, Any]:
    """Counts and the top actors; never a subject id (those stay in the logs)."""
    acting = [d for d in analysis.decisions if d.action != "allow"]
    by_action = Counter(d.action for d in analysis.decisions)
    by_rule = Counter(rule for d in analysis.decisions for rule in d.rules)
    ranked = by_harm(acting)
    return {
        "input": analysis.load.to_json(),
        "totals": analysis.totals,
        "inferred_subject_templates": analysis.enrich.inferred_templates,
        "routes": [
            {"template": r.template, "methods": r.methods, "class": r.klass, "kind": r.kind,
             "requests": r.requests, "clients": r.clients, "ids": r.ids,
             "confidence": r.confidence, "declared": r.declared, "evidence": list(r.evidence)}
            for r in analysis.enrich.routes.routes if r.klass != "page" or r.declared
        ],
        "allowlisted_requests": analysis.enrich.allowlisted_requests,
        "calibration": {
            rule: {f"p{p.q:g}({p.feature})": value for p, value in values.items()}
            for rule, values in analysis.calibration.percentiles.items()
        },
        "decisions": {action: by_action.get(action, 0) for action in ACTIONS},
        "rules_fired": dict(sorted(by_rule.items())),
        "records_to_acting_actors": sum(d.subjects for d in acting),
        "records_before_action": sum(d.subjects_before_action for d in acting),
        "top_actors": [d.to_json() | {"members": len(d.members or [])} for d in ranked[:top]],
    }
