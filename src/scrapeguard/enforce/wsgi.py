"""`ScrapeGuardWSGI`: the same defence for WSGI apps (Flask, Django), with the same options.

Hooks get the WSGI environ instead of the ASGI scope. The client is `REMOTE_ADDR`, resolved
through `HTTP_X_FORWARDED_FOR` only when the peer is one of our proxies. The event goes to the
engine when the server closes the response iterable, i.e. once the body has been written, so
the client never waits for it; the worker thread does, for the length of one store call (a
WSGI worker is a thread already, and recording on it keeps events in completion order). On a
networked store the decision before the app runs waits at most `budget` seconds (see
`guard.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, cast
from urllib.parse import parse_qsl, quote
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

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
from scrapeguard.enforce.exchange import engine_headers, parse_cookies, take_subjects
from scrapeguard.enforce.guard import (
    DEFAULT_BUDGET,
    DEFAULT_DIFFICULTY,
    DEFAULT_PASS_TTL,
    DEFAULT_THROTTLE,
    DEFAULT_TLS_HEADER,
    Guard,
)
from scrapeguard.enforce.page import PASS_PATH
from scrapeguard.policy.model import Policy

EnvironHook = Callable[[WSGIEnvironment], str | None]
SubjectsHook = Callable[[WSGIEnvironment, int, list[tuple[str, str]]],
                        Exposure | Sequence[str] | None]
DecoyHook = WSGIApplication | Callable[[WSGIEnvironment], WSGIApplication]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]

MAX_FORM = 4096
_HTTP_REASONS = {303: "See Other", 403: "Forbidden", 429: "Too Many Requests",
                 503: "Service Unavailable"}


class ScrapeGuardWSGI:
    """The WSGI twin of `ScrapeGuardMiddleware`; see there for the options."""

    def __init__(
        self,
        app: WSGIApplication,
        *,
        store: str = "memory://",
        policy: Policy | str | Path | None = None,
        trusted_proxies: Iterable[str] = (),
        account: EnvironHook | None = None,
        session: EnvironHook | None = None,
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
        self._decoy_is_app = decoy is not None and takes_arguments(decoy, 2)
        self.guard = Guard(store=store, policy=policy, trusted_proxies=trusted_proxies,
                           challenge_secret=challenge_secret,
                           challenge_difficulty=challenge_difficulty, fail_open=fail_open,
                           engine=engine, secret=secret, throttle_rate=throttle_rate,
                           pass_ttl=pass_ttl, has_decoy=decoy is not None, clock=clock,
                           budget=budget, tls_header=tls_header)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        seen = self._seen(environ)
        if seen.method == "POST" and environ.get("PATH_INFO") == PASS_PATH:
            return _reply(start_response, self.guard.redeem(_read_form(environ), seen))
        verdict, outcome = self.guard.judge(seen)
        environ["scrapeguard"] = verdict
        if isinstance(outcome, Reply):
            return _reply(start_response, outcome)  # nothing of the app's was served: not counted
        if outcome is DECOY:
            assert self.decoy is not None  # DECOY is only returned when a hook exists
            if self._decoy_is_app:
                decoy = cast(WSGIApplication, self.decoy)
            else:
                decoy = cast(Callable[[WSGIEnvironment], WSGIApplication], self.decoy)(environ)
            return decoy(environ, start_response)
        state: dict[str, Any] = {"status": 500, "subjects": None, "fields": None}

        def watched(status: str, headers: list[tuple[str, str]],
                    exc_info: ExcInfo | None = None) -> Callable[[bytes], object]:
            state["status"] = code = int(status.split(" ", 1)[0])
            subjects, fields, kept = take_subjects(headers)
            if subjects is None and fields is None and self.subjects is not None:
                answer = self.subjects(environ, code, kept)
                if isinstance(answer, Exposure):
                    subjects, fields = list(answer.subjects), list(answer.fields) or None
                elif answer is not None:
                    subjects = list(answer)
            state["subjects"], state["fields"] = subjects, fields
            if seen.set_cookie:  # the guard's session cookie (`client_cookie.py`)
                kept = [*kept, ("Set-Cookie", seen.set_cookie)]
            return start_response(status, kept, exc_info)

        def finish(sent: int) -> None:
            account = seen.account
            if account is None and self.account is not None:
                account = self.account(environ)
            self.guard.record(self.guard.event(seen, state["status"], sent, state["subjects"],
                                               state["fields"], account))

        return _Recorded(self.app(environ, watched), finish)

    def close(self) -> None:
        """Close the engine and store connections this middleware opened."""
        self.guard.close()

    def _seen(self, environ: WSGIEnvironment) -> Seen:
        pairs = [(key[5:].replace("_", "-").lower(), str(value))
                 for key, value in environ.items() if key.startswith("HTTP_")]
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                pairs.append((key.replace("_", "-").lower(), str(environ[key])))
        cookies = parse_cookies(environ.get("HTTP_COOKIE"))
        session = self.guard.session(cookies, self.session(environ) if self.session else None)
        # WSGI keeps headers in `environ`, in the order the server inserted them: the order
        # received, for the servers in use (gunicorn, waitress, wsgiref).
        hdr, tls = self.guard.stack(environ.get("REMOTE_ADDR"), environ.get("HTTP_USER_AGENT"),
                                    pairs, environ.get("wsgi.url_scheme") == "https")
        return Seen(
            ip=self.guard.client(environ.get("REMOTE_ADDR"), environ.get("HTTP_X_FORWARDED_FOR")),
            method=environ.get("REQUEST_METHOD", "GET"),
            path=_path(environ),
            started=self.guard.clock(),
            ua=environ.get("HTTP_USER_AGENT"),
            referer=environ.get("HTTP_REFERER"),
            account=self.account(environ) if self.account else None,
            session=session.session,
            headers=engine_headers(pairs),
            cookies=cookies,
            session_since=session.since,
            set_cookie=session.set_cookie,
            hdr=hdr,
            tls=tls,
        )


class _Recorded:
    """The app's body, passed on chunk by chunk and counted; `close` records the event."""

    def __init__(self, body: Iterable[bytes], finish: Callable[[int], None]) -> None:
        self._body = body
        self._finish = finish
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._body:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if callable(close):
                close()
        finally:
            self._finish(self._sent)


def _path(environ: WSGIEnvironment) -> str:
    """The request target as sent (`REQUEST_URI`/`RAW_URI` where the server keeps it)."""
    raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if raw:
        return str(raw)
    path = quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""), safe="/;=,@:~")
    query = environ.get("QUERY_STRING")
    return f"{path}?{query}" if query else path


def _reply(start_response: StartResponse, reply: Reply) -> list[bytes]:
    start_response(f"{reply.status} {_HTTP_REASONS.get(reply.status, 'Error')}",
                   reply.all_headers())
    return [reply.body]


def _read_form(environ: WSGIEnvironment) -> dict[str, str]:
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_FORM)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    return dict(parse_qsl(body.decode("latin-1")))
