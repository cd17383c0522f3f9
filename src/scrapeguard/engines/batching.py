"""Whether an engine's batch method may stand in for its one-at-a-time method.

The decision service decides concurrent requests with one store lookup (`check_many`) and
counts events in store pipelines (`record_many`); the middleware and any caller of `check`
or `record` keep working one at a time. Kept apart from `stream.py`, which needs the live
extra, so the guard can import it always.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def batch_method(engine: object, single: str, many: str) -> Callable[..., Any] | None:
    """`engine.<many>` if it does what `<single>` does for each item: it is defined at or
    below the class that defines `<single>`. A subclass that overrides `check` or `record`
    alone (a test's spy, a site's wrapper) must keep being called, one item at a time."""
    mro = type(engine).__mro__
    single_owner = next((c for c in mro if single in c.__dict__), None)
    many_owner = next((c for c in mro if many in c.__dict__), None)
    if single_owner is None or many_owner is None or not issubclass(many_owner, single_owner):
        return None
    method: Callable[..., Any] = getattr(engine, many)
    return method
