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

from scrapeguard.enforce.base import Reply, Seen
from scrapeguard.enforce.exchange import engine_headers, parse_cookies
from scrapeguard.enforce.page import safe_next
from scrapeguard.service.state import Service

ACTION_HEADER = "x-scrapeguard-action"
COOKIE_HEADER = "x-scrapeguard-cookie"
_NGINX_HEADERS = frozenset({"x-original-method", "x-original-uri", "x-original-user"})
SHAPE_HEADER = "x-scrapeguard-shape"
TLS_HEADER = "x-scrapeguard-tls"
MAX_FORM = 4096


def seen_from(service: Service, request: Request) -> Seen:
    """The original request, as nginx described it in the subrequest's headers."""
    guard = service.guard
    cookie = xff = None
    pairs = []
    for raw_name, raw_value in request.headers.raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name == "cookie":
            cookie = value if cookie is None else f"{cookie}; {value}"
        elif name == "x-forwarded-for":
            xff = value if xff is None else f"{xff}, {value}"
        if name not in _NGINX_HEADERS:
            pairs.append((name, value))
    headers = request.headers
    peer = request.client.host if request.client else None
    trusted = peer is not None and guard.proxies.is_trusted(peer)
    cookies = parse_cookies(cookie)
    session = guard.session(cookies, None)
    hdr, tls = guard.stack(peer, headers.get("user-agent"), pairs, False)
    return Seen(
        ip=guard.client(peer, xff),
        method=headers.get("x-original-method") or "GET",
        path=headers.get("x-original-uri") or "/",
        started=guard.clock(),
        ua=headers.get("user-agent"),
        referer=headers.get("referer"),
        account=(headers.get("x-original-user") or None) if trusted else None,
        session=session.session,
        headers=engine_headers(pairs),
        cookies=cookies,
        session_since=session.since,
        set_cookie=session.set_cookie,
        hdr=hdr,
        tls=tls,
    )


def _stack_headers(seen: Seen) -> dict[str, str]:
    """The request's header shape and trusted TLS fingerprint, for nginx to write into the
    `scrapeguard` log line (`$scrapeguard_shape`, `$scrapeguard_tls`): the events counted
    later then carry the very `hdr` and `tls` keys this decision looked up. nginx's log
    variables cannot give the headers' order; this answer can."""
    out = {SHAPE_HEADER: seen.hdr} if seen.hdr else {}
    if seen.tls:
        out[TLS_HEADER] = seen.tls
    return out


def _cookie_headers(seen: Seen) -> dict[str, str]:
    return {COOKIE_HEADER: seen.set_cookie} if seen.set_cookie else {}


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
    started = time.perf_counter()
    seen = seen_from(service, request)
    await service.settled(seen.ip)
    verdict, outcome = await service.decisions.decide(seen)
    headers = {**_cookie_headers(seen), **_stack_headers(seen)}
    degraded = "true" if verdict is not None and verdict.degraded else "false"
    action: str
    if isinstance(outcome, Reply):
        action = verdict.action if verdict is not None and verdict.action != "allow" else "block"
        if outcome.status == 429:
            action = "throttle"
        headers[ACTION_HEADER] = action
        headers.update((k, v) for k, v in outcome.headers if k == "retry-after")
        response = Response(status_code=403, headers=headers)
    else:
        action = "allow"
        response = Response(status_code=204, headers=headers)
    service.metrics.decisions.labels(action=action, degraded=degraded).inc()
    service.metrics.decide_seconds.observe(time.perf_counter() - started)
    return response


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
