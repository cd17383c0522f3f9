"""`simulate()`: run the scenarios, merge their events by time, write the labelled files.

The start is a fixed date, never the clock, and every draw comes from generators seeded by
the seed and the scenario's name, so one seed always gives the same bytes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scrapeguard.simulate import site, stacks
from scrapeguard.simulate.draws import HOUR_MS, stream
from scrapeguard.simulate.frame import decode
from scrapeguard.simulate.scenario import AccountBook, Context, Scenario, SimulationError
from scrapeguard.simulate.scenarios import SCENARIOS
from scrapeguard.simulate.write import Writer

START = datetime(2026, 3, 2, tzinfo=UTC)
"""Every run starts here (a Monday), so a seed fixes the output to the byte."""

OUTAGES_PER_DAY = 2
"""Short upstream failures (deploys, a database failover): everyone gets 502 meanwhile."""


@dataclass
class ScenarioCount:
    label: str
    events: int
    identities: int
    subjects: int
    """Distinct people whose records the scenario's requests received."""


@dataclass
class SimulationReport:
    out_dir: Path
    seed: int
    hours: float
    scale: float
    start: datetime
    events: int
    scenarios: dict[str, ScenarioCount] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def summary(self) -> list[str]:
        """What was written where and what each scenario made (events, identities, distinct
        people whose records it received), in lines under 80 columns for `scrapeguard
        simulate` and `python -m scrapeguard.simulate`."""
        name_width = max([len("scenario"), *map(len, self.scenarios)])
        lines = [
            f"wrote {self.events:,} events to {self.out_dir}:",
            "  events.jsonl, access.log and truth.tsv (line-aligned), manifest.json",
            f"seed {self.seed}, {self.hours:g} h from {self.start:%Y-%m-%dT%H:%MZ}, "
            f"scale {self.scale:g}",
            f"{'scenario':<{name_width}}  {'label':<8} {'events':>9} {'identities':>10} "
            f"{'subjects':>9}",
        ]
        lines += [f"{name:<{name_width}}  {c.label:<8} {c.events:>9,} {c.identities:>10,} "
                  f"{c.subjects:>9,}" for name, c in self.scenarios.items()]
        return lines


def _outages(seed: int, hours: float) -> tuple[tuple[int, int], ...]:
    rng = stream(seed, "site-outages")
    n = max(1, round(OUTAGES_PER_DAY * hours / 24))
    starts = np.sort(rng.integers(0, int(hours * HOUR_MS), n))
    lengths = rng.integers(40_000, 180_000, n)
    return tuple((int(s), int(s + d)) for s, d in zip(starts, lengths, strict=True))


GROUPS: dict[str, Callable[[type[Scenario]], bool]] = {
    "default": lambda cls: cls.default,
    "all": lambda cls: True,
}
"""Names that stand for several scenarios: `default` (the day's catalogue, what a run that
names none gets) and `all` (every registered one, the long campaigns too)."""


def _resolve(scenarios: Sequence[str | Scenario] | None) -> list[Scenario]:
    if scenarios is None:
        scenarios = ["default"]
    chosen: list[Scenario] = []
    for item in scenarios:
        if isinstance(item, Scenario):
            chosen.append(item)
        elif item in SCENARIOS:
            chosen.append(SCENARIOS[item]())
        elif item in GROUPS:
            chosen += [SCENARIOS[name]() for name in sorted(SCENARIOS)
                       if GROUPS[item](SCENARIOS[name])]
        else:
            raise SimulationError(
                f"unknown scenario {item!r}; known: {', '.join(sorted(SCENARIOS))}, "
                f"or {' / '.join(GROUPS)}")
    names = [s.name for s in chosen]
    if len(set(names)) != len(names):
        raise SimulationError(f"a scenario is listed twice: {names}")
    return chosen


def simulate(out_dir: Path, *, seed: int = 7, hours: float = 24, scale: float = 1.0,
             scenarios: Sequence[str | Scenario] | None = None,
             progress: Callable[[int, int], None] | None = None) -> SimulationReport:
    """Write labelled synthetic traffic into `out_dir`: `events.jsonl`, `access.log` and
    `truth.tsv` (line-aligned, sorted by time) and `manifest.json`.

    `scale` multiplies every volume (1.0 is about two million events a day); `scenarios`
    names the registered scenarios to run (default: all), or gives configured instances;
    `progress(done, total)` is called as events are written.
    """
    if not hours > 0 or not scale > 0:
        raise SimulationError("hours and scale must be positive")
    began = time.perf_counter()
    chosen = _resolve(scenarios)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outages = _outages(seed, hours)
    book = AccountBook.for_seed(seed)
    tables: list[pa.Table] = []
    which: list[np.ndarray] = []
    counts: dict[str, ScenarioCount] = {}
    for index, scenario in enumerate(chosen):
        ctx = Context(stream(seed, scenario.name), hours, scale, outages, book)
        table = stacks.dress(scenario.generate(ctx), scenario.client).within(hours)
        tables.append(table)
        which.append(np.full(table.num_rows, index, dtype=np.int32))
        counts[scenario.name] = ScenarioCount(
            label=scenario.label, events=table.num_rows,
            identities=pc.count_distinct(decode(table["identity"].combine_chunks())).as_py(),
            subjects=pc.count_distinct(pc.list_flatten(table["subjects"])).as_py(),
        )
    merged = pa.concat_tables(tables).unify_dictionaries().combine_chunks() if tables else None
    total = merged.num_rows if merged is not None else 0
    writer = Writer(out_dir, START, hours, [(s.name, s.label) for s in chosen])
    try:
        if merged is not None and total:
            order = np.argsort(merged["ts"].to_numpy(), kind="stable")
            writer.write(merged, order, np.concatenate(which),
                         (lambda done: progress(done, total)) if progress else (lambda _d: None))
    finally:
        writer.close()
    report = SimulationReport(out_dir=out_dir, seed=seed, hours=hours, scale=scale, start=START,
                              events=total, scenarios=counts,
                              seconds=time.perf_counter() - began)
    (out_dir / "manifest.json").write_text(
        json.dumps(manifest(report, chosen, outages), indent=2) + "\n", encoding="utf-8")
    return report


def manifest(report: SimulationReport, chosen: Sequence[Scenario],
             outages: Sequence[tuple[int, int]]) -> dict[str, Any]:
    """What the files hold and how they were made; no timing, so the file is deterministic."""
    def at(ms: int) -> str:
        moment = report.start + timedelta(milliseconds=ms)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    return {
        "generator": "scrapeguard.simulate",
        "seed": report.seed,
        "hours": report.hours,
        "scale": report.scale,
        "start": at(0),
        "end": at(int(report.hours * HOUR_MS)),
        "events": report.events,
        "files": {"events": "events.jsonl", "log": "access.log", "truth": "truth.tsv"},
        "labels": {
            "human": "people, whatever their device, network or appetite for profiles",
            "goodbot": "declared, verifiable crawlers and monitors the site wants",
            "scraper": "harvesters of personal data; one identity per campaign",
        },
        "scenarios": {
            s.name: {**asdict(report.scenarios[s.name]), "doc": " ".join((s.__doc__ or "").split()),
                     "params": asdict(s)}  # type: ignore[call-overload]
            for s in chosen
        },
        "site": {
            "origin": site.ORIGIN,
            "about": " ".join((site.__doc__ or "").split()),
            "people": site.PEOPLE,
            "products": site.PRODUCTS,
            "routes": [
                {"method": r.method, "template": r.template,
                 "fields": list(r.fields) if r.fields is not None else None, "about": r.doc}
                for r in site.ROUTES
            ],
            "outages": [{"start": at(s), "end": at(e)} for s, e in outages],
        },
    }
