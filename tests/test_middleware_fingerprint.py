"""Client stacks live: the middleware computes the header shape, believes a TLS fingerprint
header only from trusted proxies, and a fleet's stack decision refuses its new members at
their first request. Headers and JA4s are real captures (`captured.py`)."""

from __future__ import annotations

from typing import Any

from captured import Captured, captured
from scrapeguard import clientshape
from test_middleware_support import SECRET, SpyEngine, call, demo_policy, demo_site

PROXY = "10.0.0.5"
UNTRUSTED = "198.51.100.20"


def _spy() -> SpyEngine:
    return SpyEngine(demo_policy(), "memory://", secret=SECRET)


def _send(app: Any, request: Captured, path: str, *, peer: str = PROXY,
          client: str | None = None, ja4: str | None = None, scheme: str = "http") -> int:
    """`request`'s own headers, in its order, with what our proxy adds after them."""
    added = [("x-forwarded-for", client)] if client else []
    if ja4 is not None:
        added.append(("x-ja4", ja4))
    headers = [*request.headers, *added]
    return call(app, path, client=peer, headers=headers, exact=True, scheme=scheme).status


def test_a_fingerprint_header_from_an_untrusted_peer_is_ignored() -> None:
    """A client that reaches the app directly writes Chrome's JA4 into X-JA4: not believed,
    and not part of its shape either. From our proxy the same header is the fingerprint."""
    engine = _spy()
    app = demo_site(engine=engine, trusted_proxies=["10.0.0.0/8"])
    fleet, chromium = captured("python-requests-chrome-ua"), captured("chromium")
    _send(app, fleet, "/about", peer=UNTRUSTED, ja4=chromium.ja4)
    event, asked = engine.events[-1], engine.requests[-1]
    assert event["ip"] == UNTRUSTED
    assert event["tls"] is None
    assert asked.tls is None
    assert event["hdr"] == fleet.shape(secure=False)
    _send(app, fleet, "/about", peer=PROXY, client="203.0.113.70", ja4=fleet.ja4)
    event = engine.events[-1]
    assert event["ip"] == "203.0.113.70"
    assert event["tls"] == fleet.ja4
    # A trusted fingerprint says the request came over TLS: Chromium owed its hints.
    assert event["hdr"] == fleet.shape(secure=True)


def test_the_fingerprint_header_is_configurable() -> None:
    engine = _spy()
    app = demo_site(engine=engine, trusted_proxies=["10.0.0.0/8"], tls_header="X-TLS-FP")
    chromium = captured("chromium")
    headers = [*chromium.headers, ("x-forwarded-for", "203.0.113.71"), ("x-tls-fp", chromium.ja4),
               ("x-ja4", "t13d1812h1_85036bcba153_b26ce05bbdd6")]
    assert call(app, "/about", client=PROXY, headers=headers, exact=True).status == 200
    assert engine.events[-1]["tls"] == chromium.ja4


def test_a_fleet_sharing_one_stack_is_refused_at_each_new_members_first_request() -> None:
    """python-requests behind Chrome's agent from many residential addresses, one request
    each: every per-address bar sees one request. Once its stack has been seen from five
    networks (`client-stack-fleet`), a new address's very first request is refused — the
    first-sight floor falls. Real Chromium from as many addresses is never refused."""
    app = demo_site(trusted_proxies=["10.0.0.0/8"])
    fleet, chromium = captured("python-requests-chrome-ua"), captured("chromium")
    served_people = [_send(app, chromium, f"/product/{n}", client=f"100.{64 + n % 8}.{n}.1",
                           ja4=chromium.ja4) for n in range(40)]
    assert served_people == [200] * 40
    statuses = [_send(app, fleet, f"/product/{n}", client=f"100.{96 + n % 8}.{n}.2",
                      ja4=fleet.ja4) for n in range(40)]
    first_refused = statuses.index(403)
    assert 20 <= first_refused <= 21, statuses  # the 20th request from 5+ networks decides
    assert set(statuses[first_refused:]) == {403}
    # Each of those was the address's first request: refused by the stack, not the address.
    key = clientshape.hdr_key(fleet.shape(secure=True))
    verdict = app.guard.engine.check(_request(fleet, "100.127.200.3"))
    assert verdict.action == "block"
    assert verdict.actor == f"hdr:{key}"
    # The honest script on the same library, claiming no browser, is not reached.
    honest = captured("python-requests")
    assert _send(app, honest, "/product/1", client="100.127.200.4", ja4=honest.ja4) == 200


def _request(request: Captured, ip: str) -> Any:
    from scrapeguard.engines.verdict import Request

    return Request(ip=ip, path="/product/1", ua=request.ua, headers=request.headers,
                   hdr=request.shape(secure=True), tls=request.ja4)
