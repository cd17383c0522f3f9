"""Replay logs through the stream engine in event-time order, as if they were live.

The conformance test uses it to hold the two engines to the same decisions; `watch` and the
demo use the same loop on tailed or simulated traffic.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from scrapeguard.analysis import connect
from scrapeguard.decisions import Decision
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.sources import load_events

BATCH_ROWS = 50_000


def events(inputs: Sequence[str], *, fmt: str | None = None) -> Iterator[dict[str, Any]]:
    """Contract events from logs, ordered by time then by position in the input."""
    con = connect()
    load_events(con, inputs, fmt=fmt)
    cursor = con.execute(
        "SELECT * FROM (SELECT row_number() OVER () AS _eid, * FROM events) ORDER BY ts, _eid"
    )
    names = [d[0] for d in cursor.description]
    while batch := cursor.fetchmany(BATCH_ROWS):
        for row in batch:
            record = dict(zip(names, row, strict=True))
            del record["_eid"]
            yield record


def replay(
    inputs: Sequence[str], engine: StreamEngine, *, fmt: str | None = None
) -> list[Decision]:
    """Every decision the engine reached over the logs."""
    for event in events(inputs, fmt=fmt):
        engine.record(event)
    return engine.decisions()
