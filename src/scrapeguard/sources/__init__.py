"""Sources: log files in, a DuckDB table of events out (see `load_events`).

Formats register themselves in `REGISTRY` on import; adding one is one module and one
`register` call. Importing this package registers the built-in formats.
"""

from __future__ import annotations

from scrapeguard.sources import (  # noqa: F401  (registers the built-in formats)
    clf,
    jsonaccess,
    jsonl,
    servers,
    w3c,
)
from scrapeguard.sources.base import REGISTRY, LogFormat, get_format, register
from scrapeguard.sources.loader import load_events
from scrapeguard.sources.report import FileReport, LoadReport, Sample

__all__ = [
    "REGISTRY",
    "FileReport",
    "LoadReport",
    "LogFormat",
    "Sample",
    "get_format",
    "load_events",
    "register",
]
