"""The nginx side: `/v1/decide` for `auth_request`, the challenge page, and pass redemption.

nginx's auth subrequest carries the original request's headers, plus what the example config
adds: `X-Original-Method`, `X-Original-URI`, `X-Forwarded-For: $proxy_add_x_forwarded_for`
and, optionally, `X-Original-User`. The client address is resolved as the middleware resolves
it (`Guard.client`): X-Forwarded-For is believed only from a trusted proxy, which nginx on
loopback is by default. The answer is 204 to let the request through, or 403 with
`X-Scrapeguard-Action` (throttle, challenge, block) that nginx maps to 429, the challenge page
or 403 (auth_request itself passes only 2xx, 401 and 403). A client without the guard's signed
cookie gets one in `X-Scrapeguard-Cookie`, which nginx sets on its answer.

The decision's store lookup runs in one worker thread, for all the requests that arrived
while the previous lookup was out (`batch.py`): deciding inline on the event loop held the
loop for every round trip to Redis, so concurrent requests queued one by one behind it. A
stalled Redis still cannot hold a request long: every call gives up after `budget` seconds
(the engine then stops asking the store for a second, `back_off`), and a batch that overruns
the guard's `wait_limit` answers as an outage.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from scrapeguard.enforce.base import Reply, Seen
from scrapeguard.enforce.exchange import engine_headers, parse_cookies
from scrapeguard.enforce.page import safe_next
from scrapeguard.service.state import Service

ACTION_HEADER = "x-scrapeguard-action"
COOKIE_HEADER = "x-scrapeguard-cookie"
ACTION_HEADER_RAW = ACTION_HEADER.encode()
COOKIE_HEADER_RAW = COOKIE_HEADER.encode()
_NGINX_HEADERS = frozenset({"x-original-method", "x-original-uri", "x-original-user"})
SHAPE_HEADER = "x-scrapeguard-shape"
TLS_HEADER = "x-scrapeguard-tls"
SHAPE_HEADER_RAW = SHAPE_HEADER.encode()
TLS_HEADER_RAW = TLS_HEADER.encode()
MAX_FORM = 4096


_FIRST = frozenset({"x-original-method", "x-original-uri", "x-original-user", "user-agent",
                    "referer"})


def seen_from(service: Service, request: Request) -> Seen:
    """The original request, as nginx described it in the subrequest's headers."""
    return seen_from_scope(service, request.scope)


def seen_from_scope(service: Service, scope: Scope) -> Seen:
    """`seen_from` on the ASGI scope itself: one pass over the raw headers, no Request or
    Headers object (the decision endpoint is asked once per request nginx serves)."""
    guard = service.guard
    cookie = xff = None
    pairs = []
    first: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "cookie":
            cookie = value if cookie is None else f"{cookie}; {value}"
        elif name == "x-forwarded-for":
            xff = value if xff is None else f"{xff}, {value}"
        if name in _FIRST and name not in first:
            first[name] = value
        if name not in _NGINX_HEADERS:
            pairs.append((name, value))
    client = scope.get("client")
    peer = client[0] if client else None
    trusted = peer is not None and guard.proxies.is_trusted(peer)
    cookies = parse_cookies(cookie)
    session = guard.session(cookies, None)
    hdr, tls = guard.stack(peer, first.get("user-agent"), pairs, False)
    return Seen(
        ip=guard.client(peer, xff),
        method=first.get("x-original-method") or "GET",
        path=first.get("x-original-uri") or "/",
        started=guard.clock(),
        ua=first.get("user-agent"),
        referer=first.get("referer"),
        account=(first.get("x-original-user") or None) if trusted else None,
        session=session.session,
        headers=engine_headers(pairs),
        cookies=cookies,
        session_since=session.since,
        set_cookie=session.set_cookie,
        hdr=hdr,
        tls=tls,
    )


async def decide(request: Request) -> Response:
    """---
    summary: Decide one request, for nginx auth_request (loopback or a private network only)
    parameters:
      - {in: header, name: X-Original-Method, schema: {type: string}}
      - {in: header, name: X-Original-URI, schema: {type: string}, description: path and query}
      - {in: header, name: X-Forwarded-For, schema: {type: string}}
      - {in: header, name: X-Original-User, schema: {type: string}, description: account}
    responses:
      204: {description: "let it through; X-Scrapeguard-Cookie may carry a client cookie"}
      403: {description: "refused; X-Scrapeguard-Action says throttle, challenge or block"}
    """
    service: Service = request.app.state.service
    status, headers = await decision(service, request.scope)
    return Response(status_code=status,
                    headers={name.decode("latin-1"): value.decode("latin-1")
                             for name, value in headers})


async def decision(service: Service, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]]]:
    """The status and raw headers of the answer to one decision request (see `decide`;
    `app.decide_first` sends them without building a Response)."""
    started = time.perf_counter()
    seen = seen_from_scope(service, scope)
    await service.settled(seen.ip)
    verdict, outcome = await service.decisions.decide(seen)
    headers: list[tuple[bytes, bytes]] = []
    if seen.set_cookie:
        headers.append((COOKIE_HEADER_RAW, seen.set_cookie.encode("latin-1")))
    # The request's header shape and trusted TLS fingerprint, for nginx to write into the
    # `scrapeguard` log line ($scrapeguard_shape, $scrapeguard_tls): the events counted later
    # then carry the very `hdr` and `tls` keys this decision looked up. nginx's log variables
    # cannot give the headers' order; this answer can.
    if seen.hdr:
        headers.append((SHAPE_HEADER_RAW, seen.hdr.encode("latin-1")))
    if seen.tls:
        headers.append((TLS_HEADER_RAW, seen.tls.encode("latin-1")))
    degraded = verdict is not None and verdict.degraded
    action: str
    if isinstance(outcome, Reply):
        action = verdict.action if verdict is not None and verdict.action != "allow" else "block"
        if outcome.status == 429:
            action = "throttle"
        headers.append((ACTION_HEADER_RAW, action.encode("latin-1")))
        headers.extend((k.encode("latin-1"), v.encode("latin-1"))
                       for k, v in outcome.headers if k == "retry-after")
        headers.append((b"content-length", b"0"))
        status = 403
    else:
        action = "allow"
        status = 204
    service.metrics.decided(action, degraded, time.perf_counter() - started)
    return status, headers


def _full(reply: Reply, seen: Seen) -> Response:
    headers = dict(reply.all_headers())
    headers.pop("content-length", None)
    response = Response(reply.body, status_code=reply.status, headers=headers)
    if seen.set_cookie and "set-cookie" not in headers:
        response.raw_headers.append((b"set-cookie", seen.set_cookie.encode("latin-1")))
    return response


async def challenge(request: Request) -> Response:
    """---
    summary: The challenge page for a request nginx was told to challenge
    responses:
      403: {description: the proof-of-work page (HTML)}
      303: {description: the client holds a pass now; back to the page it asked for}
    """
    service: Service = request.app.state.service
    seen = seen_from(service, request)
    _, outcome = await service.guard.judge_async(seen)
    if isinstance(outcome, Reply):
        return _full(outcome, seen)
    return Response(status_code=303, headers={"location": safe_next(seen.path)})


async def redeem(request: Request) -> Response:
    """---
    summary: Redeem a solved challenge (nginx routes /.scrapeguard/pass here)
    requestBody:
      content:
        application/x-www-form-urlencoded:
          schema: {type: object, properties: {seed: {type: string}, nonce: {type: string},
                   next: {type: string}}}
    responses:
      303: {description: a pass cookie, and back to the page}
      403: {description: the solution was refused}
    """
    service: Service = request.app.state.service
    seen = seen_from(service, request)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            break
    form = dict(parse_qsl(body[:MAX_FORM].decode("latin-1")))
    return _full(service.guard.redeem(form, seen), seen)
