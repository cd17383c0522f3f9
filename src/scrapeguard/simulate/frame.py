"""A scenario's output: event columns plus the identity behind each row.

Scenarios build whole columns (numpy for numbers, Arrow for text) and hand back one `Frame`;
the runner merges all frames by time. Text columns are usually a small pool of per-person
values (an address, an agent, a session) spread over many rows with `take`, which is how a
million rows cost a few milliseconds instead of a million Python strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scrapeguard.simulate.draws import HOUR_MS, I64, Bools
from scrapeguard.simulate.render import Rendered

CODED = pa.dictionary(pa.int32(), pa.string())
"""Text that repeats (addresses, agents, sessions, referers): row codes into a pool."""

TABLE_SCHEMA = pa.schema([
    ("ts", pa.int64()), ("ip", CODED), ("method", CODED), ("path", pa.string()),
    ("status", pa.int32()), ("bytes", pa.int64()), ("ua", CODED), ("referer", CODED),
    ("account", CODED), ("session", CODED), ("subjects", pa.list_(pa.string())),
    ("fields", pa.list_(pa.string())), ("identity", CODED), ("hdr", CODED), ("tls", CODED),
])
"""Rows as the runner merges them: `ts` in ms from the start, `identity` the truth label,
`hdr` and `tls` the client stack where a scenario models one (null elsewhere). Sorting a
million rows by time then moves 4-byte codes, not the strings."""

Text: TypeAlias = str | Sequence[str | None] | pa.Array | None


def spread(pool: Sequence[str | None] | pa.Array, index: I64) -> pa.DictionaryArray:
    """Per-row text from a pool of per-person (or per-visit) values; index -1 gives null.
    Costs nothing per row: the result is the index column over the pool."""
    values = pool if isinstance(pool, pa.Array) else pa.array(pool, pa.string())
    if isinstance(values, pa.DictionaryArray):
        values = values.dictionary.take(values.indices)
    index = np.asarray(index, dtype=np.int64)
    mask = index < 0
    safe = np.where(mask, 0, index)
    if values.null_count:  # nulls live in the codes; a pool holds only text
        if len(safe):
            mask |= ~np.asarray(values.is_valid())[safe]
        values = pc.fill_null(values, "")
    codes = pa.array(safe.astype(np.int32), mask=mask if mask.any() else None)
    return pa.DictionaryArray.from_arrays(codes, values)


def column(value: Text, n: int) -> pa.DictionaryArray:
    """A coded text column of length n from one value (repeated) or a per-row sequence."""
    if isinstance(value, pa.DictionaryArray):
        return value
    if value is None or isinstance(value, str):
        return spread([value], np.zeros(n, dtype=np.int64))
    return spread(value, np.arange(n))


def decode(column: pa.Array) -> pa.Array:
    """Plain text from a coded column."""
    if isinstance(column, pa.DictionaryArray):
        return column.dictionary.take(column.indices)
    return column


@dataclass
class Frame:
    ts: I64
    ip: pa.Array
    method: pa.Array
    path: pa.Array
    status: np.ndarray
    bytes: I64
    ua: pa.Array
    referer: pa.Array
    account: pa.Array
    session: pa.Array
    subjects: pa.Array
    fields: pa.Array
    identity: pa.Array
    hdr: pa.Array | None = None
    """The header shape (`clientshape.shape`) and TLS fingerprint a live deployment would
    log; None where the scenario models no client stack."""
    tls: pa.Array | None = None

    @classmethod
    def of(cls, ts: I64, answer: Rendered, *, ip: Text, ua: Text, identity: Text,
           referer: Text = None, account: Text = None, session: Text = None,
           hdr: Text = None, tls: Text = None) -> Frame:
        """Requests at times `ts` as the site answered them, with who sent them."""
        n = len(ts)
        return cls(
            ts=np.asarray(ts, dtype=np.int64), ip=column(ip, n), method=column(answer.method, n),
            path=answer.path, status=answer.status, bytes=answer.bytes, ua=column(ua, n),
            referer=column(referer, n), account=column(account, n),
            session=column(session, n), subjects=answer.subjects, fields=answer.fields,
            identity=column(identity, n),
            hdr=None if hdr is None else column(hdr, n),
            tls=None if tls is None else column(tls, n),
        )

    def __len__(self) -> int:
        return len(self.ts)

    def stack(self, name: str) -> pa.Array:
        """The `hdr` or `tls` column, nulls where the scenario models no client stack."""
        value: pa.Array | None = getattr(self, name)
        return column(None, len(self)) if value is None else value

    def table(self) -> pa.Table:
        columns = [self.stack(f.name) if f.name in ("hdr", "tls") else getattr(self, f.name)
                   for f in fields(self)]
        return pa.Table.from_arrays(
            [pa.array(c) if isinstance(c, np.ndarray) else c for c in columns],
            schema=TABLE_SCHEMA,
        )

    def within(self, hours: float) -> pa.Table:
        """The rows inside the simulated window, as a table; clicks past the end never happen."""
        table = self.table()
        keep: Bools = (self.ts >= 0) & (self.ts < int(hours * HOUR_MS))
        return table if keep.all() else table.filter(pa.array(keep))


def concat(frames: Sequence[Frame]) -> Frame:
    """One frame from several (parts of one scenario)."""
    parts = [f for f in frames if len(f)] or list(frames[:1])

    def text(name: str) -> pa.Array:
        return pa.concat_arrays([getattr(p, name) for p in parts])

    return Frame(
        ts=np.concatenate([p.ts for p in parts]), ip=text("ip"), method=text("method"),
        path=text("path"), status=np.concatenate([p.status for p in parts]),
        bytes=np.concatenate([p.bytes for p in parts]), ua=text("ua"), referer=text("referer"),
        account=text("account"), session=text("session"), subjects=text("subjects"),
        fields=text("fields"), identity=text("identity"),
        hdr=None if all(p.hdr is None for p in parts)
        else pa.concat_arrays([p.stack("hdr") for p in parts]),
        tls=None if all(p.tls is None for p in parts)
        else pa.concat_arrays([p.stack("tls") for p in parts]),
    )


def urls(paths: pa.Array, origin: str) -> pa.Array:
    """Absolute URLs of paths on the site, as browsers send them in `Referer`."""
    return pc.binary_join_element_wise(origin, paths, "")
