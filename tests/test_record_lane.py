"""The record lane's order: each client's events in order, lookups first, routine hits shed at
the bound. The engine is replaced by a list, held up by a gate so a backlog can build."""

from __future__ import annotations

import threading
import time
from typing import Any

from scrapeguard.enforce.recorder import Recorder


def _event(ip: str, path: str) -> dict[str, Any]:
    return {"ip": ip, "path": path, "account": None, "session": None}


def _routine(event: dict[str, Any]) -> bool:
    return not str(event["path"]).startswith("/user/")


class _Gated:
    """Records events once the gate opens; the first one holds the worker until then."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.gate = threading.Event()

    def __call__(self, event: dict[str, Any]) -> None:
        self.gate.wait(10)
        self.seen.append((event["ip"], event["path"]))


def _held(lane: Recorder) -> None:
    """Wait until the worker has taken the first event and is held at the gate."""
    deadline = time.monotonic() + 5
    while lane.backlog:
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_lookups_go_before_a_backlog_of_page_hits_in_each_clients_order() -> None:
    engine = _Gated()
    lane = Recorder(engine, _routine)
    lane.submit(_event("10.0.0.1", "/first"))  # taken by the worker, which waits at the gate
    _held(lane)
    for n in range(50):
        lane.submit(_event(f"10.0.1.{n}", "/"))
    lane.submit(_event("203.0.113.7", "/about"))
    lane.submit(_event("203.0.113.7", "/user/1"))
    lane.submit(_event("203.0.113.7", "/user/2"))
    engine.gate.set()
    lane.close()
    enumerator = [path for ip, path in engine.seen if ip == "203.0.113.7"]
    assert enumerator == ["/about", "/user/1", "/user/2"]  # its own order kept
    order = [ip for ip, _ in engine.seen]
    assert order.index("203.0.113.7") == 1, order  # ahead of the fifty page hits
    assert len(engine.seen) == 54


def test_at_the_bound_page_hits_are_shed_and_lookups_kept() -> None:
    engine = _Gated()
    lane = Recorder(engine, _routine, limit=10)
    lane.submit(_event("10.0.0.1", "/first"))
    _held(lane)
    for n in range(20):
        lane.submit(_event(f"10.0.1.{n}", "/"))
    for n in range(5):
        lane.submit(_event("203.0.113.7", f"/user/{n}"))
    assert lane.backlog == 10
    engine.gate.set()
    lane.close()
    lookups = [path for ip, path in engine.seen if ip == "203.0.113.7"]
    assert lookups == [f"/user/{n}" for n in range(5)]
    assert lane.shed == 10 + 5  # the page hits past the bound, and five to make room for lookups
    assert len(engine.seen) == 1 + 10
