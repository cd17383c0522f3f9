"""The referer host and the site's own hosts, the same in both engines (`referrals.py`)."""

from __future__ import annotations

import ibis

from scrapeguard.referrals import OwnHosts, referer_host, referer_host_expr

REFERERS = [
    "https://www.google.com/", "http://WWW.Example.COM:8080/a?b", "http://spam.example",
    "android-app://com.google.android.gm", "-", "", "/relative/path", "http://user@evil.example/",
    "https://blog.example/2016/02/a-post/", "http://\\xe4\\xe5-\\xec.\\xf0\\xf4/",
]


def test_batch_and_stream_read_the_same_host() -> None:
    table = ibis.memtable({"referer": REFERERS})
    batch = table.select(host=referer_host_expr(table.referer)).to_pandas()["host"].tolist()
    stream = [referer_host(r) for r in REFERERS]
    assert [None if h != h else h for h in batch] == stream  # NaN is pandas' null
    assert stream[:3] == ["google.com", "example.com", "spam.example"]
    assert stream[3:7] == [None, None, None, None]


def test_own_hosts_are_learned_from_asset_referers_and_bounded() -> None:
    own = OwnHosts(need=3, max_hosts=2)
    for n in range(3):
        own.saw("blog.example", f"192.0.2.{n}", linked_asset=n != 1)  # a page does not count
    assert not own.is_own("blog.example")
    own.saw("blog.example", "192.0.2.9", linked_asset=True)
    assert own.is_own("blog.example")
    own.saw("a.example", "192.0.2.1", linked_asset=True)
    own.saw("b.example", "192.0.2.1", linked_asset=True)  # over the cap: not tracked
    assert own.dropped == 1


def test_a_host_is_own_strictly_after_the_request_that_taught_it() -> None:
    """As the batch engine's `own_since_ms < ts_ms`: events of the millisecond the host was
    learned at (the teaching request included) still count it as foreign, so an access
    log's several lines of one second are judged alike by both engines."""
    own = OwnHosts(need=2)
    own.saw("blog.example", "192.0.2.1", linked_asset=True, ts_ms=1_000)
    own.saw("blog.example", "192.0.2.2", linked_asset=True, ts_ms=5_000)
    assert not own.is_own("blog.example", 5_000)
    assert not own.known(5_000)
    assert own.is_own("blog.example", 5_001)
    assert own.known(5_001)
