"""The batch methods stand in for `check` and `record` only where they do the same."""

from __future__ import annotations

from scrapeguard.engines.batching import batch_method
from scrapeguard.engines.stream import StreamEngine
from test_middleware_support import SECRET, SpyEngine, demo_policy


def test_the_stream_engine_batches_and_a_subclass_overriding_check_does_not() -> None:
    engine = StreamEngine(demo_policy(), "memory://", secret=SECRET)
    assert batch_method(engine, "check", "check_many") == engine.check_many
    assert batch_method(engine, "record", "record_many") == engine.record_many
    spy = SpyEngine(demo_policy(), "memory://", secret=SECRET)  # overrides check and record
    assert batch_method(spy, "check", "check_many") is None
    assert batch_method(spy, "record", "record_many") is None
    assert batch_method(object(), "check", "check_many") is None
