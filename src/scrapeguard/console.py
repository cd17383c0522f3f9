"""Where the CLI's tables and paragraphs go: a terminal as Rich draws it, anything else trimmed.

Rich pads every line of a table or grid to the console's width. On a terminal that is
invisible; in a pipe, a file or a `diff` of two runs it is a column of trailing spaces on
every line.
"""

from __future__ import annotations

import io
import sys
from typing import IO, Any, TextIO, cast

from rich.console import Console


class TrimmedLines(io.TextIOBase):
    """A text stream that drops the spaces each line ends with before passing it on."""

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._partial = ""

    def write(self, chunk: str) -> int:
        lines = (self._partial + chunk).split("\n")
        self._partial = lines.pop()
        if lines:
            self._target.write("".join(line.rstrip(" ") + "\n" for line in lines))
        return len(chunk)

    def flush(self) -> None:
        if self._partial:
            self._target.write(self._partial)
            self._partial = ""
        self._target.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._target, "encoding", None) or "utf-8"


def output_console(*, stderr: bool = False, **options: Any) -> Console:
    """A console on standard output (or error): Rich's own on a terminal, else one whose
    lines are trimmed (`TrimmedLines`)."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr, **options)
    return Console(file=cast(IO[str], TrimmedLines(stream)), **options)
