"""The malformed-line limit: a file mostly unreadable in its format is an error, not a result.

Reading a log in the wrong format yields few events and many malformed lines; an analysis of
what is left would look clean and be wrong. So a file of which more than a share of its lines
(5% by default on the command line) is malformed stops the load, saying which format was
tried, how many lines failed and where the first ones are.
"""

from __future__ import annotations

import re

from scrapeguard.errors import SourceError
from scrapeguard.sources.report import FileReport, LoadReport

DEFAULT = 0.05
_SHOWN = 5
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def parse_share(text: str) -> float:
    """`5%` or `0.05` as 0.05; a bare number above 1 is refused (was `5` meant as 5%?)."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise SourceError(f"--max-malformed {text!r}: give a fraction (0.05) or a percentage "
                          "(5%)") from None
    if not 0 <= value <= 1:
        raise SourceError(f"--max-malformed {text!r} is outside 0 … 1 (0% … 100%)")
    return value


def check_share(report: LoadReport, limit: float) -> None:
    """Raise SourceError naming every file whose malformed share is above `limit`."""
    bad = [f for f in report.files if f.lines and f.malformed / f.lines > limit]
    if bad:
        raise SourceError("\n".join(_describe(f, limit) for f in bad))


def _describe(f: FileReport, limit: float) -> str:
    out = [
        f"{f.name}: {f.malformed:,} of {f.lines:,} lines ({f.malformed / f.lines:.0%}) do not "
        f"parse as {f.format or 'any known format'}, more than the {limit:.0%} allowed"
    ]
    out += [f"  {_printable(note)}" for note in f.notes]
    if f.samples:
        out.append("  first failing lines:")
        out += [f"    {s.where()}: {s.reason}: {_printable(s.text)}" for s in f.samples[:_SHOWN]]
    out.append("  Name the format (--format), give the server's own (--log-format '<nginx "
               "log_format>' or --nginx-conf), or allow more (--max-malformed 20%).")
    return "\n".join(out)


def _printable(text: str) -> str:
    """Log text is attacker data: control characters are shown escaped, never sent raw."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
