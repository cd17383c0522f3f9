"""Labelled traffic loaded for scoring: events, their truth labels, and every actor key.

A simulation directory holds `events.jsonl` and a line-aligned `truth.tsv` (scenario, label,
identity). Both are read in file order and joined by line number; each event gets the keys
any decision could name (ip, net, account, session, fp, and hdr and tls where the events
carry a client stack), so a decisions file from any tool can be scored against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson

from scrapeguard import clientshape
from scrapeguard.analysis import connect
from scrapeguard.errors import SourceError
from scrapeguard.events import fingerprint, network_of

TRUTH_TYPES = {"scenario": pa.string(), "label": pa.string(), "identity": pa.string()}
EVENT_TYPES = pa.schema([
    ("ts", pa.string()), ("ip", pa.string()), ("ua", pa.string()), ("account", pa.string()),
    ("session", pa.string()), ("subjects", pa.list_(pa.string())),
    ("hdr", pa.string()), ("tls", pa.string()),
])


def _read_in_order(path: Path) -> pa.Table:
    """The simulator's own JSON lines, read in file order (the truth file's order).

    Scoring reads them directly rather than through the log sources, which may reorder
    rows for speed; only the columns scoring needs are kept.
    """
    try:
        table = pajson.read_json(path, parse_options=pajson.ParseOptions(
            explicit_schema=EVENT_TYPES, unexpected_field_behavior="ignore"))
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path}: cannot read as JSON lines: {exc}") from None
    return table.select([f.name for f in EVENT_TYPES])


def load_labelled(data_dir: Path) -> Any:
    """A DuckDB connection with table `scored`: events, labels and actor keys, in log order."""
    events_path, truth_path = data_dir / "events.jsonl", data_dir / "truth.tsv"
    for path in (events_path, truth_path):
        if not path.exists():
            raise SourceError(f"{path}: missing (expected a `scrapeguard simulate` directory)")
    con = connect()
    events = _read_in_order(events_path)
    truth = pacsv.read_csv(truth_path, parse_options=pacsv.ParseOptions(delimiter="\t"),
                           convert_options=pacsv.ConvertOptions(column_types=TRUTH_TYPES))
    if truth.num_rows != events.num_rows:
        raise SourceError(f"{truth_path}: {truth.num_rows} labels for {events.num_rows} events; "
                          "the files are not line-aligned")
    con.register("_events_arrow", events.append_column("line", pa.array(
        range(events.num_rows), pa.int64())))
    con.register("_truth_arrow", truth.append_column("line", pa.array(
        range(truth.num_rows), pa.int64())))
    con.execute("CREATE TABLE events AS SELECT * EXCLUDE (ts), "
                "CAST(ts AS TIMESTAMPTZ) AS ts FROM _events_arrow")
    con.execute("CREATE TABLE truth AS SELECT * FROM _truth_arrow")
    _key_tables(con)
    con.execute("""
        CREATE TABLE scored AS
        SELECT e.line, e.ts, t.scenario, t.label, t.identity, e.subjects,
               'ip:' || e.ip AS k_ip, 'net:' || n.net AS k_net,
               'account:' || e.account AS k_account, 'session:' || e.session AS k_session,
               'fp:' || f.fp AS k_fp, 'hdr:' || k.hdr_id AS k_hdr, 'tls:' || k.tls_id AS k_tls,
               coalesce(k.hdr_bad, FALSE) AS hdr_bad, coalesce(k.tls_bad, FALSE) AS tls_bad,
               e.ip, e.ua
        FROM events e JOIN truth t USING (line)
        LEFT JOIN _nets n ON n.ip = e.ip
        LEFT JOIN _fps f ON f.ua = coalesce(e.ua, '')
        LEFT JOIN _stacks k ON k.ua = coalesce(e.ua, '') AND k.hdr = coalesce(e.hdr, '')
                           AND k.tls = coalesce(e.tls, '')
    """)
    return con


def _key_tables(con: Any) -> None:
    """Network and fingerprint per distinct address and agent, with the engine's functions."""
    ips = [r[0] for r in con.execute("SELECT DISTINCT ip FROM events").fetchall()]
    uas = [r[0] for r in con.execute("SELECT DISTINCT coalesce(ua, '') FROM events").fetchall()]
    con.execute("CREATE TABLE _nets(ip VARCHAR, net VARCHAR)")
    con.executemany("INSERT INTO _nets VALUES (?, ?)", [(ip, network_of(ip)) for ip in ips])
    con.execute("CREATE TABLE _fps(ua VARCHAR, fp VARCHAR)")
    con.executemany("INSERT INTO _fps VALUES (?, ?)", [(ua, fingerprint(ua)) for ua in uas])
    # Client stacks (`clientshape.py`): keys and whether they contradict the claimed browser.
    con.execute("CREATE TABLE _stacks(ua VARCHAR, hdr VARCHAR, tls VARCHAR, hdr_id VARCHAR, "
                "tls_id VARCHAR, hdr_bad BOOLEAN, tls_bad BOOLEAN)")
    stacks = con.execute("SELECT DISTINCT coalesce(ua, ''), coalesce(hdr, ''), coalesce(tls, '') "
                         "FROM events WHERE hdr IS NOT NULL OR tls IS NOT NULL").fetchall()
    rows = []
    for ua, hdr, tls in stacks:
        judged = clientshape.judge(ua or None, hdr or None, tls or None)
        rows.append((ua, hdr, tls, clientshape.hdr_key(hdr or None),
                     clientshape.tls_key(ua or None, tls or None), bool(judged.header),
                     bool(judged.tls)))
    if rows:
        con.executemany("INSERT INTO _stacks VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
