"""Labelled synthetic traffic: the measuring stick of detection quality.

`simulate(out_dir)` writes a day (by default) of a shopping platform's traffic — people,
good bots and harvesters — as `events.jsonl` (the event contract), `access.log` (nginx
combined), `truth.tsv` (scenario, label and identity of every line) and `manifest.json`.
The site is described in `site.py`; each scenario is one module under `scenarios/`.
"""

from scrapeguard.simulate.run import SimulationReport, simulate
from scrapeguard.simulate.scenario import SCENARIOS, Context, Scenario, SimulationError, register

__all__ = [
    "SCENARIOS",
    "Context",
    "Scenario",
    "SimulationError",
    "SimulationReport",
    "register",
    "simulate",
]
