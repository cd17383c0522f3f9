"""Calibration: the numbers a site's own history fixes, so both engines use the same ones.

Percentile thresholds (`p99(subjects)`) and the inferred personal-data templates are measured
by the batch engine over past logs, saved as JSON, and loaded by the stream engine, which
cannot see the future of its own traffic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapeguard.errors import ScrapeGuardError
from scrapeguard.policy.expr import Percentile


@dataclass
class Calibration:
    percentiles: dict[str, dict[Percentile, float]] = field(default_factory=dict)
    """rule id → percentile → value measured on history."""
    subject_templates: list[str] = field(default_factory=list)
    catalogue_templates: list[str] = field(default_factory=list)
    """Inferred item routes (products, listings): records of things, counted apart."""
    asset_templates: list[str] = field(default_factory=list)
    """Templates without a file extension that browsers fetch as assets (thumbnails)."""

    def percentiles_for(self, rule_id: str) -> dict[Percentile, float]:
        return self.percentiles.get(rule_id, {})

    def to_json(self) -> dict[str, Any]:
        return {
            "percentiles": {
                rule: [{"feature": p.feature, "q": p.q, "value": v} for p, v in values.items()]
                for rule, values in self.percentiles.items()
            },
            "subject_templates": self.subject_templates,
            "catalogue_templates": self.catalogue_templates,
            "asset_templates": self.asset_templates,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Calibration:
        return cls(
            percentiles={
                rule: {Percentile(e["feature"], float(e["q"])): float(e["value"]) for e in values}
                for rule, values in data.get("percentiles", {}).items()
            },
            subject_templates=list(data.get("subject_templates", [])),
            catalogue_templates=list(data.get("catalogue_templates", [])),
            asset_templates=list(data.get("asset_templates", [])),
        )


def load_calibration(path: str | Path) -> Calibration:
    try:
        return Calibration.from_json(json.loads(Path(path).read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScrapeGuardError(f"{path}: not a calibration file: {exc}") from None


def save_calibration(calibration: Calibration, path: str | Path) -> None:
    Path(path).write_text(json.dumps(calibration.to_json(), indent=2) + "\n", encoding="utf-8")
