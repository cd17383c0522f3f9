"""Text from logs and requests made inert before a person or a program reads it.

A harvester writes its own user agent, paths, account names and ids, and those reach the
terminal, the HTML report and spreadsheets. Three things must never happen: log text read as
Rich markup (`[/]` raised `MarkupError` and lost the whole analysis; `[red]` restyled it),
terminal control sequences (ANSI colours, OSC titles and hyperlinks, a bare CR that rewrites
the line, bidirectional overrides that reorder what is shown) reaching a terminal, and a cell
a spreadsheet runs as a formula. Everything here escapes rather than drops, so what the log
said is still there to read.
"""

from __future__ import annotations

import json
import re

from rich.text import Text

_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0, DEL and C1: ESC, CSI, OSC, BEL, CR, newlines
    "\u200b-\u200f\u2028\u2029"  # zero-width and direction marks, line and paragraph breaks
    "\u202a-\u202e\u2066-\u2069"  # bidirectional embeddings, overrides and isolates
    "\ufeff\ufff9-\ufffb]"  # byte-order mark, interlinear annotations
)

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
"""Leading characters that make Excel, LibreOffice or Sheets evaluate a cell (OWASP)."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def inert(value: object) -> str:
    """`value` as text with every control and direction character written as an escape."""
    return _CONTROL.sub(_escape, str(value))


def inert_lines(value: object) -> str:
    """`inert`, but line breaks are kept: for text scrapeguard composes of several lines
    (a message, the evidence lines of a report), each of which may quote a log."""
    return "\n".join(inert(line) for line in str(value).split("\n"))


def text(value: object, style: str = "") -> Text:
    """Log text for Rich: never parsed as markup or emoji codes, controls escaped."""
    return Text(inert(value), style=style)


def labelled(label: str, style: str, message: object) -> Text:
    """`label: message` with the label styled and the message inert (errors, warnings)."""
    return Text.assemble((label, style), " ", inert(message))


def labelled_lines(label: str, style: str, message: object) -> Text:
    """`labelled`, but a message of several lines (the malformed-line report, a policy error
    with its context) keeps its own line breaks; every other control character, a CR and a
    Unicode line separator included, is still escaped, so log text quoted in the message can
    neither rewrite a line nor drive the terminal. For messages scrapeguard composes, not for
    a log line on its own (that is `labelled`: a line break in it is shown as `\\x0a`)."""
    return Text.assemble((label, style), " ", inert_lines(message))


_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]"
)
"""What `json.dumps(..., ensure_ascii=False)` leaves raw that a terminal acts on: DEL, the C1
controls (U+009B is a CSI) and the direction and zero-width marks (C0 it escapes itself)."""


def json_text(value: object) -> str:
    """`value` as one JSON text, UTF-8 kept readable but with every character a terminal or
    an editor would act on written as a `\\uXXXX` escape: `cat decisions.jsonl` shows what
    the log said, in the order it said it. Decoded, the value is unchanged."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}",
                            json.dumps(value, ensure_ascii=False))


def csv_cell_sql(column: str) -> str:
    """A DuckDB expression for `column` that a spreadsheet shows as text, never runs.

    A cell whose first character is in `FORMULA_LEADS` gets a leading apostrophe, which
    spreadsheets hide and programs reading the file must strip (docs/report.md says so).
    """
    leads = ", ".join("'" + c.replace("'", "''") + "'" for c in FORMULA_LEADS)
    return (f"CASE WHEN left({column}, 1) IN ({leads}) THEN '''' || {column} "
            f"ELSE {column} END")
