"""Every scenario module in this package, imported so that each registers itself.

Adding a scenario is adding a module here that defines a class decorated with `@register`.
"""

from __future__ import annotations

import importlib
import pkgutil

from scrapeguard.simulate.scenario import SCENARIOS, Scenario

for _module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["SCENARIOS", "Scenario"]
