"""Compiled SQL kept between runs (`engines/sqlcache.py`): same expression, same key in every
process; a different literal, a different key; a kept query gives the rows Ibis gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import ibis
import pytest

from scrapeguard.engines import sqlcache

SRC = Path(__file__).resolve().parents[1] / "src"

BUILD = """
import ibis
t = ibis.table({"ip": "string", "ts_ms": "int64", "n": "int8"}, name="events")
def query(floor):
    kept = t.filter(t.ip.notnull() & (t.n > floor))
    w = ibis.cumulative_window(group_by=kept.ip, order_by=kept.ts_ms)
    return kept.mutate(total=kept.n.sum().over(w), seen=kept.ip.isin(("a", "b")))
"""


def _query(floor: int) -> ibis.Table:
    scope: dict[str, object] = {}
    exec(BUILD, scope)
    return scope["query"](floor)  # type: ignore[operator]


def test_the_key_is_the_same_in_another_process_and_changes_with_a_literal() -> None:
    here = sqlcache.digest(_query(3), "query")
    assert sqlcache.digest(_query(3), "query") == here  # rebuilt, not the same objects
    assert sqlcache.digest(_query(4), "query") != here
    assert sqlcache.digest(_query(3), "table:x") != here
    code = (BUILD + "from scrapeguard.engines import sqlcache\n"
            "print(sqlcache.digest(query(3), 'query'))")
    env = {**os.environ, "PYTHONPATH": str(SRC), "PYTHONHASHSEED": "12345"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert other == here  # string hashing is salted per process; the key must not be


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ibis.BaseBackend:
    monkeypatch.setenv("SCRAPEGUARD_CACHE_DIR", str(tmp_path / "sql"))
    monkeypatch.setattr(sqlcache, "_MEMORY", {})
    con = duckdb.connect()
    con.execute("CREATE TABLE events (ip VARCHAR, ts_ms BIGINT, n TINYINT)")
    con.execute("INSERT INTO events VALUES ('a', 1, 5), ('a', 2, 7), ('b', 3, 1), (NULL, 4, 9)")
    return ibis.duckdb.from_connection(con)


def _over(backend: ibis.BaseBackend, floor: int) -> ibis.Table:
    t = backend.table("events")
    kept = t.filter(t.ip.notnull() & (t.n > floor))
    w = ibis.cumulative_window(group_by=kept.ip, order_by=kept.ts_ms)
    return kept.mutate(total=kept.n.sum().over(w))


def test_kept_sql_gives_what_ibis_gives(backend: ibis.BaseBackend, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    expected = _over(backend, 0).order_by("ts_ms").to_pyarrow().to_pylist()
    first = sqlcache.materialize(backend, _over(backend, 0), "kept")
    assert first.order_by("ts_ms").to_pyarrow().to_pylist() == expected
    assert len(list((tmp_path / "sql").glob("*.sql"))) == 1
    monkeypatch.setattr(sqlcache, "_MEMORY", {})  # a new run: read back from disk
    again = sqlcache.materialize(backend, _over(backend, 0), "kept")
    assert again.order_by("ts_ms").to_pyarrow().to_pylist() == expected
    assert len(list((tmp_path / "sql").glob("*.sql"))) == 1
    rows = sqlcache.arrow(backend, _over(backend, 5).order_by("ts_ms")).to_pylist()
    assert rows == [{"ip": "a", "ts_ms": 2, "n": 7, "total": 7}]


def test_named_small_tables_are_cached_and_memtables_still_run(backend: ibis.BaseBackend,
                                                               tmp_path: Path) -> None:
    wanted = sqlcache.table_of(backend, "_wanted", {"ip": ["b"]}, {"ip": "string"})
    t = backend.table("events")
    assert sqlcache.arrow(backend, t.semi_join(wanted, "ip").select("ts_ms")).to_pylist() == [
        {"ts_ms": 3}]
    memtable = ibis.memtable({"ip": ["a"]})
    with pytest.raises(sqlcache.Uncacheable):
        sqlcache.digest(t.semi_join(memtable, "ip"), "query")
    assert len(sqlcache.arrow(backend, t.semi_join(memtable, "ip"))) == 2
    assert len(list((tmp_path / "sql").glob("*.sql"))) == 1


def test_an_empty_setting_keeps_nothing_on_disk(backend: ibis.BaseBackend, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPEGUARD_CACHE_DIR", "")
    assert sqlcache.cache_dir() is None
    assert len(sqlcache.arrow(backend, _over(backend, 0))) == 3
    assert not (tmp_path / "sql").exists()


def test_small_tables_arrive_the_same_as_json_or_arrow(backend: ibis.BaseBackend,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime

    ts = datetime.datetime(2026, 3, 2, 1, 2, 3, 456789, tzinfo=datetime.UTC)
    columns = {"a": ['x"y\\', None, "é"], "n": [1, None, 2**62], "f": [True, False, None],
               "t": [ts, ts, None]}
    schema = {"a": "string", "n": "int64", "f": "boolean", "t": "timestamp('UTC')"}
    as_json = sqlcache.arrow(backend, sqlcache.table_of(backend, "j", columns, schema))
    monkeypatch.setattr(sqlcache, "ARROW_ROWS", 1)
    as_arrow = sqlcache.arrow(backend, sqlcache.table_of(backend, "a", columns, schema))
    assert as_json.to_pydict() == as_arrow.to_pydict()
    assert as_json.column("t")[0].as_py() == ts
    assert as_json.column("n").to_pylist() == [1, None, 2**62]
