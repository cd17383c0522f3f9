"""`ScrapeGuardMiddleware`: the live defence as a plain ASGI middleware (Starlette, FastAPI).

Per request: read who is asking (address through our own proxies only), ask the engine once,
and either refuse by sending a response or run the app while watching what it sends: status,
bytes, and the private `X-Subjects` headers, which are stripped on the way out. On a
networked store the engine is asked in a worker thread, for at most the guard's `budget`, so a
stalled Redis never holds the event loop (see `guard.py`). Once the last byte has gone, the
event goes to the record lane (`recorder.py`): a worker thread that keeps each client's events
in order and lets events that can expose people go before a flood of plain page hits. The
request's task waits for its event to be counted, without holding a thread or the client;
the connection is free for its next request as soon as the response has been sent.

Only what the app served is recorded: a refusal or a decoy is the middleware's own answer and
exposed nobody, and counting it (as exposure on a subject route, or as a miss) would skew
the counts the rules read.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import cast
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scrapeguard.enforce.base import (
    DECOY,
    Clock,
    Engine,
    Exposure,
    Reply,
    Seen,
    require_callables,
    takes_arguments,
)
from scrapeguard.enforce.exchange import engine_headers, items, parse_cookies
from scrapeguard.enforce.guard import (
    DEFAULT_BUDGET,
    DEFAULT_DIFFICULTY,
    DEFAULT_PASS_TTL,
    DEFAULT_THROTTLE,
    DEFAULT_TLS_HEADER,
    Guard,
)
from scrapeguard.enforce.page import PASS_PATH
from scrapeguard.enforce.recorder import Recorder
from scrapeguard.policy.model import Policy

ScopeHook = Callable[[Scope], str | None]
SubjectsHook = Callable[[Scope, int, Headers], Exposure | Sequence[str] | None]
DecoyHook = ASGIApp | Callable[[Scope], ASGIApp | Awaitable[ASGIApp]]

MAX_FORM = 4096
_SUBJECTS, _FIELDS = b"x-subjects", b"x-subject-fields"


class ScrapeGuardMiddleware:
    """Counts what each actor receives and throttles, challenges, decoys or blocks harvesters.

    `store` (`memory://`, `redis://host:port/db`) holds the engine's state and the throttle
    windows; `policy` is a Policy, a YAML path or None for the shipped pack. `trusted_proxies`
    (CIDRs, added to the policy's) are the only peers whose X-Forwarded-For is believed.
    Hooks get the ASGI scope: `account` and `session` name the actor (default: no account, and
    the guard's own signed `sg_client` cookie, see `client_cookie.py`: a cookie the client
    names itself is not a client), `subjects(scope, status, headers)` says whose data a
    response carried when the app sets no `X-Subjects` header, and `decoy` serves fakes: an
    ASGI app, or `decoy(scope)` returning one (or an awaitable of one). `engine` replaces the
    built one (then `store` is used for throttling and challenges only); `clock` stamps
    events, for tests that compress time. `budget` is how many seconds a request may wait on
    a networked store for its decision before `fail_open` applies. `tls_header` names the
    header in which the TLS terminator passes the client's TLS fingerprint (JA4 or JA3),
    believed only from `trusted_proxies` (`Guard.stack`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: str = "memory://",
        policy: Policy | str | Path | None = None,
        trusted_proxies: Iterable[str] = (),
        account: ScopeHook | None = None,
        session: ScopeHook | None = None,
        subjects: SubjectsHook | None = None,
        decoy: DecoyHook | None = None,
        challenge_secret: bytes | None = None,
        challenge_difficulty: tuple[int, int] = DEFAULT_DIFFICULTY,
        fail_open: bool = True,
        engine: Engine | None = None,
        secret: bytes | None = None,
        throttle_rate: str = DEFAULT_THROTTLE,
        pass_ttl: float = DEFAULT_PASS_TTL,
        clock: Clock | None = None,
        budget: float = DEFAULT_BUDGET,
        tls_header: str = DEFAULT_TLS_HEADER,
    ) -> None:
        require_callables(account=account, session=session, subjects=subjects, decoy=decoy,
                          clock=clock)
        self.app = app
        self.account = account
        self.session = session
        self.subjects = subjects
        self.decoy = decoy
        self._decoy_is_app = decoy is not None and takes_arguments(decoy, 3)
        self.guard = Guard(store=store, policy=policy, trusted_proxies=trusted_proxies,
                           challenge_secret=challenge_secret,
                           challenge_difficulty=challenge_difficulty, fail_open=fail_open,
                           engine=engine, secret=secret, throttle_rate=throttle_rate,
                           pass_ttl=pass_ttl, has_decoy=decoy is not None, clock=clock,
                           budget=budget, tls_header=tls_header)
        routine = getattr(self.guard.engine, "routine", None)
        self.recorder = Recorder(self.guard.record, routine if callable(routine) else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        seen = self._seen(scope)
        if seen.method == "POST" and scope["path"] == PASS_PATH:
            await _send_reply(send, self.guard.redeem(await _read_form(receive), seen))
            return
        verdict, outcome = await self.guard.judge_async(seen)
        scope["scrapeguard"] = verdict
        if isinstance(outcome, Reply):
            await _send_reply(send, outcome)  # our own answer: nothing of the app's was served
            return
        if outcome is DECOY:
            # The decoy's headers leave through the same filter: a hook that builds its answer
            # from the app's own code must not hand the client real people's ids.
            await (await self._decoy_app(scope))(scope, receive,
                                                 _Watch(send, scope, None, seen.set_cookie).send)
            return
        watch = _Watch(send, scope, self.subjects, seen.set_cookie)
        try:
            await self.app(scope, receive, watch.send)
        finally:
            account = seen.account
            if account is None and self.account is not None:
                account = self.account(scope)  # auth middleware inside may have set it now
            event = self.guard.event(seen, watch.status, watch.sent, watch.exposed,
                                     watch.fields, account)
            await self._record(event)

    def close(self) -> None:
        """Count what is still queued, then close the engine and store connections."""
        self.recorder.close()
        self.guard.close()

    async def _record(self, event: dict[str, object]) -> None:
        """Queue the event and wait until it is counted (asyncio; elsewhere, just queue it)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): nothing to wait with
            self.recorder.submit(event)
            return
        counted = loop.create_future()

        def done() -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(_settle, counted)

        self.recorder.submit(event, done)
        await counted

    def _seen(self, scope: Scope) -> Seen:
        ua = referer = cookie = xff = None
        pairs = []
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            pairs.append((name, value))
            if name == "user-agent":
                ua = value
            elif name == "referer":
                referer = value
            elif name == "cookie":
                cookie = value if cookie is None else f"{cookie}; {value}"
            elif name == "x-forwarded-for":
                xff = value if xff is None else f"{xff}, {value}"
        client = scope.get("client")
        cookies = parse_cookies(cookie)
        session = self.guard.session(cookies, self.session(scope) if self.session else None)
        path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string") or b""
        peer = client[0] if client else None
        hdr, tls = self.guard.stack(peer, ua, pairs, scope.get("scheme") == "https")
        return Seen(
            ip=self.guard.client(peer, xff),
            method=scope["method"],
            path=(path + b"?" + query if query else path).decode("latin-1"),
            started=self.guard.clock(),
            ua=ua,
            referer=referer,
            account=self.account(scope) if self.account else None,
            session=session.session,
            headers=engine_headers(pairs),
            cookies=cookies,
            session_since=session.since,
            set_cookie=session.set_cookie,
            hdr=hdr,
            tls=tls,
        )

    async def _decoy_app(self, scope: Scope) -> ASGIApp:
        assert self.decoy is not None  # DECOY is only returned when a hook exists
        if self._decoy_is_app:
            return cast(ASGIApp, self.decoy)
        made = cast(Callable[[Scope], ASGIApp | Awaitable[ASGIApp]], self.decoy)(scope)
        if inspect.isawaitable(made):
            return await made
        return made


class _Watch:
    """Wraps `send`: notes status and bytes, takes the private subject headers off."""

    def __init__(self, send: Send, scope: Scope, hook: SubjectsHook | None,
                 set_cookie: str | None = None) -> None:
        self._send = send
        self._cookie = set_cookie
        self._scope = scope
        self._hook = hook
        self.status = 500
        self.sent = 0
        self.exposed: list[str] | None = None
        self.fields: list[str] | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            headers = message.get("headers") or []
            if any(name.lower() in (_SUBJECTS, _FIELDS) for name, _ in headers):
                message = {**message, "headers": self._take(headers)}
            elif self._hook is not None:
                self._ask_hook(Headers(raw=list(headers)))
            if self._cookie:  # the guard's session cookie (`client_cookie.py`)
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"set-cookie", self._cookie.encode())]}
        elif message["type"] == "http.response.body":
            self.sent += len(message.get("body", b""))
        await self._send(message)

    def _take(self, headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        kept = []
        for name, value in headers:
            lowered = name.lower()
            if lowered == _SUBJECTS:
                self.exposed = [*(self.exposed or []), *items(value.decode("latin-1"))]
            elif lowered == _FIELDS:
                self.fields = [*(self.fields or []), *items(value.decode("latin-1"))]
            else:
                kept.append((name, value))
        return kept

    def _ask_hook(self, headers: Headers) -> None:
        assert self._hook is not None
        answer = self._hook(self._scope, self.status, headers)
        if isinstance(answer, Exposure):
            self.exposed, self.fields = list(answer.subjects), list(answer.fields) or None
        elif answer is not None:
            self.exposed = list(answer)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _send_reply(send: Send, reply: Reply) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.all_headers()]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _read_form(receive: Receive) -> dict[str, str]:
    """The posted challenge solution; a body past `MAX_FORM` bytes is cut, not buffered."""
    body = b""
    while len(body) <= MAX_FORM:
        message = await receive()
        if message["type"] != "http.request":
            break
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    return dict(parse_qsl(body[:MAX_FORM].decode("latin-1")))
