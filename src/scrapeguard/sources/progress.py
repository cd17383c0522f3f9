"""Progress in input bytes, including the inside of one long DuckDB query.

A single INSERT reads a whole file, so progress inside it comes from DuckDB's own estimate
(`query_progress`), polled from a helper thread while the query runs. DuckDB settings the
loader changes on the caller's connection are put back afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

Callback = Callable[[int, int], None]
_POLL_SECONDS = 0.1


@contextmanager
def setting(con: Any, name: str, value: str) -> Iterator[None]:
    """Set a DuckDB option for the duration of a block, then restore the caller's value."""
    old = con.execute("SELECT current_setting(?)", [name]).fetchone()[0]
    con.execute(f"SET {name} = {value}")
    try:
        yield
    finally:
        con.execute(f"SET {name} = {sql_value(old)}")


def sql_value(value: Any) -> str:
    """A setting's value as SQL (booleans come back from DuckDB as Python bools)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "'" + str(value).replace("'", "''") + "'"


class Meter:
    """Reports (bytes done, bytes total) to an optional callback."""

    def __init__(self, con: Any, callback: Callback | None, total: int) -> None:
        self.con = con
        self.callback = callback
        self.total = total
        self.done = 0
        self.shown = 0
        """The most ever reported: a file's parse runs several queries, and DuckDB's estimate
        starts again at 0% for each, so polled figures can step back."""
        self._saved: list[tuple[str, Any]] = []

    def __enter__(self) -> Meter:
        """Never let DuckDB draw its own bar into the caller's terminal; estimate progress
        (which DuckDB does only while its bar is enabled) when someone is listening."""
        wanted = [("enable_progress_bar_print", "false")]
        if self.callback is not None:
            wanted.append(("enable_progress_bar", "true"))
        for name, value in wanted:
            old = self.con.execute("SELECT current_setting(?)", [name]).fetchone()[0]
            self._saved.append((name, old))
            self.con.execute(f"SET {name} = {value}")
        self.report(0)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for name, old in self._saved:
            self.con.execute(f"SET {name} = {sql_value(old)}")

    def report(self, extra: int) -> None:
        if self.callback is not None:
            self.shown = max(self.shown, min(self.done + extra, self.total))
            self.callback(self.shown, self.total)

    @contextmanager
    def file(self, size: int) -> Iterator[Step]:
        """Progress within one input of `size` bytes."""
        step = Step(self, size)
        try:
            yield step
        finally:
            self.done += step.size
            self.report(0)


class Step:
    """One input: decompression covers the first half of a gzip file, parsing the rest."""

    def __init__(self, meter: Meter, size: int) -> None:
        self.meter = meter
        self.size = size
        self.gzip_bytes = 0

    def resize(self, size: int) -> None:
        """Stdin's size is known only once it has been spooled."""
        self.meter.total += size - self.size
        self.size = size

    def decompressing(self, consumed: int) -> None:
        self.gzip_bytes = consumed
        self.meter.report(min(consumed, self.size) // 2)

    @contextmanager
    def parsing(self, gzip: bool) -> Iterator[None]:
        """Poll DuckDB's estimate of the running query while the block runs."""
        base = self.size // 2 if gzip else 0
        share = self.size - base
        if self.meter.callback is None or share <= 0:
            yield
            return
        stop = threading.Event()
        failure: list[BaseException] = []

        def poll() -> None:
            while not stop.wait(_POLL_SECONDS):
                try:
                    percent = float(self.meter.con.query_progress())
                    if percent >= 0:
                        self.meter.report(base + int(share * min(percent, 100.0) / 100))
                except Exception as exc:  # a failing callback must not pass silently
                    failure.append(exc)
                    return

        thread = threading.Thread(target=poll, name="scrapeguard-progress", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
        if failure:
            raise failure[0]
