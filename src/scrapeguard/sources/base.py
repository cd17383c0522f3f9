"""What a log format is, and the registry that names them.

A format is SQL, not a Python loop: it turns a relation of raw lines into event columns inside
DuckDB, so ten million lines never pass through the interpreter. Every format's SELECT yields
the columns of `EVENT_SQL_TYPES` in order, then bookkeeping columns that the loader reads:

- `_kind`: 0 an event, 1 an event recovered from a damaged line, 2 a malformed line, and, over
  quote-split pieces only, 3 deferred: the fast path could not be sure of the line, `path`
  holds it, and the loader parses it again with the same format over whole lines;
- `_why`: for kinds 1 and 2, a short reason a person can act on;
- `_line`: the line's text, for samples (unused columns cost nothing: DuckDB prunes them).

Formats may add more `_`-prefixed columns for their own `detect_filter`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

from scrapeguard.errors import SourceError

Reader = Literal["quotes", "lines"]
"""How a format wants a file read on its fast path: split at every `"`, or one line per row."""


@dataclass(frozen=True)
class Relation:
    """Something to SELECT from: `sql` is a FROM item with one VARCHAR `line`.

    With `columns` set, the rows also hold the line split at every double quote into
    c0 … c{columns-1} (missing pieces NULL, empty pieces ''); a line of more pieces has every
    piece NULL, so a format's fast path defers it to whole-line parsing.
    """

    sql: str
    columns: int | None = None

    def line_sql(self) -> str:
        """SQL for the whole line."""
        return "line"


@dataclass(frozen=True)
class ParseOptions:
    """Per-load settings a format may use.

    With `resolve_xff`, a format that logs X-Forwarded-For calls the SQL macro
    `_sg_client(peer, xff)` (see `sources.xff`) to pick the client address.
    """

    resolve_xff: bool = False


class LogFormat(ABC):
    """One log format: a name, how detection recognises it, and its SQL."""

    name: ClassVar[str]
    description: ClassVar[str]
    reader: ClassVar[Reader] = "lines"
    priority: ClassVar[int] = 0
    """Breaks ties in detection: the richer format wins (combined over common)."""
    detect_filter: ClassVar[str] = "_kind = 0"
    """SQL over the SELECT's columns: true for sample lines that are typical of this format."""
    recovered_reason: ClassVar[str] = "recovered"
    """What `_kind = 1` means for this format, for the report's reason counts."""
    context_prefix: ClassVar[bytes | None] = None
    """Lines starting with this set how the lines after them are read (W3C's `#Fields:`).
    A line Python had to repair is parsed on its own, so the last such line before it goes
    with it (see `repair.Repairs`)."""

    @abstractmethod
    def select(self, rel: Relation, opts: ParseOptions) -> str:
        """A SELECT over `rel` producing event columns, `_kind`, `_why` and `_line`."""


REGISTRY: dict[str, LogFormat] = {}
"""Formats by name, in registration order (which is also detection order)."""


def register(fmt: LogFormat) -> LogFormat:
    """Add a format; adding one touches its own module and this call only."""
    if fmt.name in REGISTRY:
        raise ValueError(f"log format {fmt.name!r} is registered twice")
    REGISTRY[fmt.name] = fmt
    return fmt


def get_format(name: str) -> LogFormat:
    """The registered format called `name`, or a SourceError that lists the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise SourceError(f"unknown log format {name!r}; known formats: {known}") from None


def sql_str(text: str) -> str:
    """A SQL string literal (DuckDB keeps backslashes literal; only quotes are doubled)."""
    return "'" + text.replace("'", "''") + "'"


SHORT_SPLIT = 64
"""Text up to this many bytes is split without counting its pieces: its list is at most
2 KB, and counting first would double the cost of the split for most log lines."""


def split_upto(text: str, sep: str, most: int, short: int = SHORT_SPLIT) -> str:
    """SQL: `text` split at `sep` when that gives at most `most` pieces or `text` is at most
    `short` bytes long, else NULL; pass `short=0` to get NULL whenever there are more pieces.

    A list costs 32 bytes per piece (a list entry and a string header) however short the
    piece, and DuckDB builds it for a vector of 2,048 lines at once: a line of 6 KB of spaces
    split at spaces takes 190 KB, a vector of such lines 400 MB in each thread. Every
    consumer wants a known number of pieces, so a longer text of more is not split at all
    (the consumer sees NULL and takes its regular-expression path). Counting costs one copy
    of the text, so memory stays linear in the line whatever it holds."""
    if len(sep.encode()) != 1:
        raise ValueError("split_upto counts pieces by bytes: one-byte separators only")
    count = f"strlen({text}) - strlen(replace({text}, {sql_str(sep)}, ''))"
    return (f"CASE WHEN strlen({text}) <= {short} OR {count} < {most} "
            f"THEN string_split({text}, {sql_str(sep)}) END")


BAD_OFFSET_RE = (
    r"[0-9]:[0-9]{2}(?:[.,][0-9]+)? ?[+-]"
    r"(?:(?:1[5-9]|[2-9][0-9])(?::?[0-9]{2})?|[0-9]{2}:?[6-9][0-9])\]?$"
)
"""A time ending in a UTC offset no place uses (over ±14:59, or minutes over 59): DuckDB
reads `+99:00` as four days ahead rather than refusing it."""


def bad_offset(text: str) -> str:
    """SQL: true when the time `text` ends in an impossible UTC offset (see BAD_OFFSET_RE)."""
    return f"regexp_matches({text}, {sql_str(BAD_OFFSET_RE)})"
