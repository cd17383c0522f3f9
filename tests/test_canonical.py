"""One spelling per path and address: `/user/%35` and `/user/005` are `/user/5`, and
`::ffff:1.2.3.4` and `001.002.003.004` are `1.2.3.4`, in both engines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from logbuilder import Log
from scrapeguard.allowlist import TrustedProxies
from scrapeguard.analysis import analyze
from scrapeguard.canonical import _canonical_ip, canonical_ip, canonical_path
from scrapeguard.decisions import Decision, format_ts
from scrapeguard.engines.replay import replay
from scrapeguard.engines.stream import StreamEngine
from scrapeguard.engines.verdict import Request

PATHS = {
    "/user/5": "/user/5",
    "/user/%35": "/user/5",
    "/user/005": "/user/5",
    "/user/%30%30%35/": "/user/5",
    "//user/./x/../5": "/user/5",
    "/user/0": "/user/0",
    "/user/000": "/user/0",
    "/find?phone=%30%30%37&x=%2f%41": "/find?phone=7&x=%2FA",
    "/%7Ejo/v1.5": "/~jo/v1.5",
    "/a%20b": "/a%20b",
    "*": "*",
}
ADDRESSES = {
    "1.2.3.4": "1.2.3.4",
    "::ffff:1.2.3.4": "1.2.3.4",
    "::FFFF:0102:0304": "1.2.3.4",
    "001.002.003.004": "1.2.3.4",
    "2001:DB8:0::0001": "2001:db8::1",
    "fe80::1%eth0": "fe80::1",
    "unknown": "unknown",
}


@pytest.mark.parametrize(("written", "canonical"), PATHS.items())
def test_paths_have_one_spelling(written: str, canonical: str) -> None:
    assert canonical_path(written) == canonical
    assert canonical_path(canonical) == canonical


@pytest.mark.parametrize(("written", "canonical"), ADDRESSES.items())
def test_addresses_have_one_spelling(written: str, canonical: str) -> None:
    assert canonical_ip(written) == canonical
    assert canonical_ip(canonical) == canonical


def _encoded(number: int) -> str:
    return "".join(f"%{ord(c):02X}" for c in str(number))


MIXED_PATHS: list[Callable[[int], str]] = [
    lambda n: f"/user/{n}", lambda n: f"/user/{_encoded(n)}", lambda n: f"/user/00{n}"]
MIXED_IPS = ["203.0.113.9", "::ffff:203.0.113.9", "203.000.113.009"]


def _enumeration(path: Path, mixed: bool) -> Path:
    """One client stepping through 90 neighbouring profiles, 2 s apart, spelt three ways when
    `mixed`."""
    log = Log()
    for i in range(90):
        number = 5000 + i
        style = i % 3 if mixed else 0
        log.hit(i * 2.0, MIXED_IPS[style], MIXED_PATHS[style](number))
    return log.write(path)


def _view(decisions: list[Decision]) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    return {d.actor: (d.action, format_ts(d.first_action_ts), tuple(sorted(d.rules)))
            for d in decisions if d.action != "allow" and d.kind in ("ip", "net")}


def test_spellings_count_as_one_person_and_one_client_in_both_engines(tmp_path: Path) -> None:
    seen, people = {}, {}
    for mixed in (False, True):
        log = _enumeration(tmp_path / f"mixed-{mixed}.log", mixed)
        batch = analyze([str(log)])
        engine = StreamEngine(None, "memory://", calibration=batch.calibration, secret=b"t")
        seen[mixed] = (_view(batch.decisions), _view(replay([str(log)], engine)))
        people[mixed] = {d.actor: d.subjects for d in batch.decisions}
    plain_batch, plain_stream = seen[False]
    assert "sequential-enumeration" in plain_batch["ip:203.0.113.9"][2]
    assert plain_batch == plain_stream
    assert seen[True] == seen[False]  # same actor, same rule, at the same request
    assert people[True]["ip:203.0.113.9"] == people[False]["ip:203.0.113.9"] == 90


def test_a_decision_applies_to_every_spelling_of_its_address(tmp_path: Path) -> None:
    log = _enumeration(tmp_path / "plain.log", mixed=False)
    batch = analyze([str(log)])
    engine = StreamEngine(None, "memory://", calibration=batch.calibration, secret=b"t")
    replay([str(log)], engine)
    for spelling in MIXED_IPS:
        verdict = engine.check(Request(ip=spelling, path="/user/1"))
        assert (verdict.action, verdict.actor) == ("block", "ip:203.0.113.9"), spelling


def test_the_middleware_resolves_addresses_to_their_one_spelling() -> None:
    proxies = TrustedProxies(["10.0.0.0/8"])
    assert proxies.resolve("::ffff:203.0.113.9", None) == "203.0.113.9"
    assert proxies.resolve("10.0.0.1", "203.000.113.009, 10.0.0.2") == "203.0.113.9"
    assert proxies.resolve("::ffff:10.0.0.1", "::ffff:203.0.113.9") == "203.0.113.9"


@given(st.text(alphabet=st.sampled_from("/.%0123456789aAfF?=&~-_\t%2E"), max_size=40))
def test_a_canonical_path_is_its_own_spelling_and_decodes_no_control(text: str) -> None:
    path = "/" + text
    once = canonical_path(path)
    assert canonical_path(once) == once
    assert not any(ord(c) < 0x20 for c in once) or "\t" in path


@pytest.mark.parametrize(("raw", "canonical"), [
    ("/%3%30", "/%2530"), ("/a%", "/a%25"), ("/%zz", "/%25zz"), ("/%25", "/%25"),
])
def test_a_percent_that_starts_no_escape_is_spelled_as_one(raw: str, canonical: str) -> None:
    """Decoding `%30` next to a stray `%3` must not form a new escape for the next pass."""
    assert canonical_path(raw) == canonical
    assert canonical_path(canonical) == canonical


def _network_by_ipaddress(text: str) -> str:
    """`network_of` computed through `ipaddress` alone, as before its IPv4 fast path."""
    import ipaddress

    try:
        parsed = ipaddress.ip_address(text)
    except ValueError:
        return text
    return str(ipaddress.ip_network(f"{parsed}/{24 if parsed.version == 4 else 64}",
                                    strict=False))


OCTET = st.integers(0, 255).map(str)
SPELLINGS = st.one_of(
    st.tuples(OCTET, OCTET, OCTET, OCTET).map(".".join),
    st.tuples(st.sampled_from(["", "0", "00", " "]), OCTET, st.sampled_from(["", " ", "%x"]))
    .map(lambda t: f"{t[0]}{t[1]}.2.3.{t[1]}{t[2]}"),
    st.text(alphabet="0123456789.:abcdefABCDEF% \x00", max_size=20),
)


@given(SPELLINGS)
def test_the_ipv4_fast_path_spells_and_networks_as_ipaddress_does(text: str) -> None:
    from scrapeguard.events import network_of

    # `_canonical_ip` is the `ipaddress` spelling the fast path stands in front of
    assert canonical_ip(text) == _canonical_ip(text)
    assert network_of(text) == _network_by_ipaddress(text)


def test_template_of_is_the_template_path_info_gives() -> None:
    """The decision's template (computed alone) is the one the record lane counts under."""
    from scrapeguard.engines.live_rows import Deriver
    from scrapeguard.policy.model import Policy

    deriver = Deriver(Policy.model_validate({"routes": [
        {"name": "people", "path": "/people/{id}", "subject": "id"},
        {"name": "find", "path": "/find", "query": "q"},
        {"name": "shop", "path": "/shop/{sku}", "kind": "item", "records_per_hit": 5}]}))
    paths = ["/", "/about", "/user/17", "/user/17/", "/people/9", "/people/9?tab=2",
             "/find?q=7", "/find?x=1", "/shop/ab-12", "/product/17/reviews?page=3",
             "/static/app.3f2a.js", "/u/%35", "/a/b/c/d/e/f", "/search?q=jo&page=2", "*"]
    for path in paths:
        assert deriver.template_of(path) == deriver.path_info(canonical_path(path)).template
