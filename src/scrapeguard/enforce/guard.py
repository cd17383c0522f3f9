"""The framework-neutral core both middlewares share: options, the engine, and the actions.

Everything that can be wrong with the options is found here, when the app starts, so a typo
in a store URL or a reversed difficulty range stops the deployment instead of the first
request. Per request the guard asks the engine once, maps the verdict to an action, and after
the response hands the engine the event; neither step lets an engine failure reach a
client.

On a networked store the decision may wait on Redis (the engine's lookup, a throttle window),
so it runs in a worker thread, and every Redis call it makes gives up after `budget` seconds;
the request is then answered as the store were down (`fail_open`), and the engine backs off,
so the requests after it do not each wait out the budget too. With `memory://` nothing can
stall, and the decision runs inline, where a thread hop would cost more than it does.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scrapeguard import clientshape
from scrapeguard.allowlist import TrustedProxies
from scrapeguard.enforce import actions
from scrapeguard.enforce.base import Clock, Enforcer, Engine, Outcome, Reply, Seen
from scrapeguard.enforce.client_cookie import ClientCookies, ClientSession
from scrapeguard.enforce.pow import MAX_BITS, PASS_COOKIE, Passes, Refusal
from scrapeguard.enforce.storage import WarnOnce, check_uri, limits_storage
from scrapeguard.engines.batching import batch_method
from scrapeguard.engines.verdict import Verdict
from scrapeguard.errors import ScrapeGuardError
from scrapeguard.policy.load import load_policy
from scrapeguard.policy.model import Policy
from scrapeguard.stores.keys import SECRET_ENV, SECRET_FILE_ENV, StateHasher, load_secret
from scrapeguard.types import Action

log = logging.getLogger("scrapeguard.enforce")

DEFAULT_THROTTLE = "1/5second"
DEFAULT_PASS_TTL = 3600.0
DEFAULT_BUDGET = 0.05
DEFAULT_TLS_HEADER = "x-ja4"
"""Where the TLS terminator passes the client's TLS fingerprint (HAProxy, nginx's JA4 module,
a CDN: each is configured to set it)."""
MAX_TLS = 256
"""Characters of the fingerprint header kept: a JA4 is 36, a JA3 string a few hundred."""
"""Seconds a request may wait for its decision on a networked store before failing open (or
closed): a Redis round trip on loopback or in one data centre takes well under a millisecond."""
JUDGE_THREADS = 32
THREAD_SLACK = 0.15
"""Seconds beyond the budget a request waits for a decision thread that started late."""
DEFAULT_DIFFICULTY = (12, 18)
"""Leading zero bits: 2^12 hashes take a browser well under a second, 2^18 a few seconds."""

_UNAVAILABLE = Reply(503, b"Service unavailable, try again shortly.\n",
                     headers=(("retry-after", "5"),))


def utc_now() -> datetime:
    return datetime.now(UTC)


class Guard:
    """Validated options, the engine and the actions; see `ScrapeGuardMiddleware` for each."""

    def __init__(
        self,
        *,
        store: str = "memory://",
        policy: Policy | str | Path | None = None,
        trusted_proxies: Iterable[str] = (),
        challenge_secret: bytes | None = None,
        challenge_difficulty: tuple[int, int] = DEFAULT_DIFFICULTY,
        fail_open: bool = True,
        engine: Engine | None = None,
        secret: bytes | None = None,
        throttle_rate: str = DEFAULT_THROTTLE,
        pass_ttl: float = DEFAULT_PASS_TTL,
        has_decoy: bool = False,
        clock: Clock | None = None,
        budget: float = DEFAULT_BUDGET,
        tls_header: str = DEFAULT_TLS_HEADER,
        calibration: str | Path | None = None,
    ) -> None:
        from limits import parse

        scheme = check_uri(store)
        low, high = challenge_difficulty
        if not 0 <= low <= high <= MAX_BITS:
            raise ScrapeGuardError(
                f"challenge_difficulty must be (min, max) with 0 <= min <= max <= {MAX_BITS}, "
                f"not {challenge_difficulty!r}"
            )
        if pass_ttl <= 0:
            raise ScrapeGuardError(f"pass_ttl must be positive, not {pass_ttl!r}")
        if not budget > 0:
            raise ScrapeGuardError(f"budget must be a positive number of seconds, not {budget!r}")
        try:
            rate = parse(throttle_rate)
        except ValueError as exc:
            raise ScrapeGuardError(f"throttle_rate {throttle_rate!r}: {exc}") from exc
        loaded = policy if isinstance(policy, Policy) else load_policy(policy)
        proxies = [*loaded.trusted_proxies, *trusted_proxies]
        try:
            self.proxies = TrustedProxies(proxies)
        except ValueError as exc:
            raise ScrapeGuardError(f"trusted_proxies: {exc}") from exc
        shared = secret or os.environ.get(SECRET_ENV) or os.environ.get(SECRET_FILE_ENV)
        state_secret = load_secret(secret)
        key = challenge_secret or state_secret
        if not (challenge_secret or shared) and scheme != "memory":
            log.warning("scrapeguard: no challenge_secret: passes issued by this node will "
                        "not be accepted by the others; give every node the same secret")
        if not tls_header or not tls_header.strip():
            raise ScrapeGuardError("tls_header must name a header, such as 'X-JA4'")
        self.tls_header = tls_header.strip().lower()
        self.fail_open = fail_open
        self.clock: Clock = clock or utc_now
        self.storage = limits_storage(store, timeout=budget)
        self._spent_health = WarnOnce("challenge storage", fail_open)
        self.passes = Passes(key, pass_ttl=pass_ttl, first_use=self._first_use,
                             fail_open=fail_open)
        self.client_cookies = ClientCookies(key)
        self._owns_engine = engine is None
        self.engine: Engine = engine or _stream_engine(loaded, store, fail_open, state_secret,
                                                       budget, calibration)
        toolkit = actions.Toolkit(storage=self.storage, clock=self.clock, fail_open=fail_open,
                                  throttle_rate=rate, passes=self.passes,
                                  difficulty=(low, high), has_decoy=has_decoy,
                                  state_key=StateHasher(state_secret))
        self.enforcers: dict[Action, Enforcer] = actions.build(toolkit)
        self._engine_health = WarnOnce("scrapeguard engine", fail_open)
        self.budget = budget
        self.over_budget = 0
        """Decisions not ready within `wait_limit` (answered as the store were down)."""
        self.networked = scheme != "memory"
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    def client(self, remote: str | None, xff: str | None) -> str:
        """The client address: the peer, or what our own proxies say they received it from."""
        if not remote:
            return "0.0.0.0"  # a unix socket or a test client with no peer: one shared bucket
        return self.proxies.resolve(remote, xff)

    def stack(self, remote: str | None, ua: str | None, pairs: list[tuple[str, str]],
              https: bool) -> tuple[str | None, str | None]:
        """The client stack: its header shape, and its TLS fingerprint from `tls_header`.

        The fingerprint is believed only from a trusted proxy, as X-Forwarded-For is: anyone
        else could write Chrome's JA4 into the header. Our own terminator also says the
        request came over TLS (its fingerprint header, or `X-Forwarded-Proto: https`), which
        decides whether Chromium owed us its client hints."""
        trusted = remote is not None and self.proxies.is_trusted(remote)
        tls = proto = None
        for name, value in pairs:
            if name == self.tls_header and tls is None:
                tls = value.strip()[:MAX_TLS] or None
            elif name == "x-forwarded-proto" and proto is None:
                proto = value.split(",")[-1].strip().lower()
        if not trusted:
            tls = proto = None
        secure = https or proto == "https" or tls is not None
        # The terminator's own header is no part of the client's shape.
        mine = [(name, value) for name, value in pairs if name != self.tls_header]
        return clientshape.shape(ua, mine, secure), tls

    def session(self, cookies: dict[str, str], named: str | None) -> ClientSession:
        """The session a request counts under: the app's own (a `session` hook's, which
        proves itself by its history, see `clients.py`), else the guard's signed cookie, issued
        here to a client that has none."""
        if named:
            return ClientSession(named, None)
        return self.client_cookies.session(cookies, self.clock().timestamp())

    def judge(self, seen: Seen) -> tuple[Verdict | None, Outcome]:
        """The engine's verdict and what to do about it (None lets the request through),
        within the budget; for callers that may block (a WSGI worker thread)."""
        if not self.networked:
            return self._with_cookie(seen, self.decide(seen))
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                JUDGE_THREADS, thread_name_prefix="scrapeguard-judge")
        future = self._pool.submit(self.decide, seen)
        try:
            return self._with_cookie(seen, future.result(timeout=self.wait_limit))
        except concurrent.futures.TimeoutError:
            return self._with_cookie(seen, self.too_slow(seen))

    async def judge_async(self, seen: Seen) -> tuple[Verdict | None, Outcome]:
        """`judge` for an event loop: the wait happens in a worker thread, never on the loop,
        and a thread still waiting past the limit is left to finish alone."""
        if not self.networked:
            return self._with_cookie(seen, self.decide(seen))
        import anyio
        import anyio.to_thread

        with anyio.move_on_after(self.wait_limit):
            decided = await anyio.to_thread.run_sync(self.decide, seen, abandon_on_cancel=True)
            return self._with_cookie(seen, decided)
        return self._with_cookie(seen, self.too_slow(seen))

    @staticmethod
    def _with_cookie(seen: Seen, decided: tuple[Verdict | None, Outcome]
                     ) -> tuple[Verdict | None, Outcome]:
        """A refusal still carries the guard's client cookie to a client that had none."""
        verdict, outcome = decided
        if isinstance(outcome, Reply) and seen.set_cookie:
            outcome = replace(outcome, headers=(*outcome.headers, ("set-cookie", seen.set_cookie)))
        return verdict, outcome

    @property
    def wait_limit(self) -> float:
        """How long a request waits for its decision at all. The store's own calls give up
        at `budget` (and the engine then backs off); this outer limit also covers a thread
        that starts late on a busy process, so it is wider: a loaded server must not fail
        open (and let harvesters through) only because its own threads queued for a while.
        """
        return max(4 * self.budget, self.budget + THREAD_SLACK)

    def too_slow(self, seen: Seen) -> tuple[Verdict | None, Outcome]:
        """The answer for a decision that overran `wait_limit`: what a store outage gets."""
        self.over_budget += 1
        verdict = Verdict(action="allow" if self.fail_open else "block", degraded=True)
        return verdict, None if self.fail_open else self.enforcers["block"](verdict, seen)

    def decide(self, seen: Seen) -> tuple[Verdict | None, Outcome]:
        """The verdict and action without a budget (it may wait on the store)."""
        return self.decide_many([seen])[0]

    def decide_many(self, seens: list[Seen]) -> list[tuple[Verdict | None, Outcome]]:
        """`decide` for several requests, with one store lookup when the engine can
        (`check_many`): the decision service batches the requests that arrive together."""
        check_many = batch_method(self.engine, "check", "check_many")
        try:
            requests = [seen.request() for seen in seens]
            verdicts = (check_many(requests) if check_many is not None
                        else [self.engine.check(request) for request in requests])
        except Exception as exc:  # the engine handles store outages; this is a bug or worse
            self._engine_health.failed(exc)
            return [(None, None if self.fail_open else _UNAVAILABLE)] * len(seens)
        self._engine_health.succeeded()
        return [self._act(verdict, seen) for verdict, seen in zip(verdicts, seens, strict=True)]

    @property
    def decides_async(self) -> bool:
        """Whether `decide_many_async` can decide on the event loop without blocking it."""
        return (batch_method(self.engine, "check", "check_many_async") is not None
                and bool(getattr(self.engine, "reads_async", False)))

    async def decide_many_async(self, seens: list[Seen]) -> list[tuple[Verdict | None,
                                                                      Outcome]]:
        """`decide_many` on the event loop, the store read awaited (only when
        `decides_async`). A refusal is acted on in a worker thread: a throttle counts in
        the rate limiter's store, which would block the loop."""
        import anyio.to_thread

        try:
            requests = [seen.request() for seen in seens]
            verdicts = await self.engine.check_many_async(  # type: ignore[attr-defined]
                requests)
        except Exception as exc:  # the engine handles store outages; this is a bug or worse
            self._engine_health.failed(exc)
            return [(None, None if self.fail_open else _UNAVAILABLE)] * len(seens)
        self._engine_health.succeeded()
        decided: list[tuple[Verdict | None, Outcome]] = []
        for verdict, seen in zip(verdicts, seens, strict=True):
            if verdict.allowlisted or verdict.action == "allow":
                decided.append((verdict, None))
            else:
                decided.append(await anyio.to_thread.run_sync(self._act, verdict, seen))
        return decided

    def _act(self, verdict: Verdict, seen: Seen) -> tuple[Verdict | None, Outcome]:
        if verdict.allowlisted or verdict.action == "allow":
            return verdict, None
        return verdict, self.enforcers[verdict.action](verdict, seen)

    def redeem(self, form: dict[str, str], seen: Seen) -> Reply:
        """Answer a posted solution: a pass cookie and a redirect back, or a refusal."""
        from scrapeguard.enforce.page import safe_next

        now = self.clock().timestamp()
        result = self.passes.redeem(form.get("seed", ""), form.get("nonce", ""), seen.ip,
                                    seen.ua, now)
        if isinstance(result, Refusal):
            log.info("scrapeguard: challenge solution from %s refused: %s", seen.ip,
                     result.value)
            return Reply(403, f"Challenge {result.value}.\n".encode())
        cookie = (f"{PASS_COOKIE}={result}; Max-Age={int(self.passes.pass_ttl)}; Path=/; "
                  "HttpOnly; SameSite=Lax")
        target = safe_next(form.get("next"))
        return Reply(303, b"", headers=(("location", target), ("set-cookie", cookie)))

    def event(self, seen: Seen, status: int, sent: int, subjects: list[str] | None,
              fields: list[str] | None, account: str | None) -> dict[str, Any]:
        """The contract event for one finished exchange (see docs/design.md, 'One contract')."""
        return {"ts": seen.started, "ip": seen.ip, "method": seen.method, "path": seen.path,
                "status": status, "bytes": sent, "ua": seen.ua, "referer": seen.referer,
                "account": account, "session": seen.session, "subjects": subjects,
                "fields": fields, "session_since": seen.session_since, "hdr": seen.hdr,
                "tls": seen.tls}

    def record(self, event: dict[str, Any]) -> None:
        """Feed the engine; after the response, so a failure here is logged and nothing else."""
        try:
            self.engine.record(event)
        except Exception as exc:
            self._engine_health.failed(exc)

    def close(self) -> None:
        """Release what the guard built (an engine passed in belongs to the caller)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._owns_engine:
            self.engine.close()
        client = getattr(self.storage, "storage", None)  # limits' Redis client, if any
        close = getattr(client, "close", None)
        if callable(close):
            close()

    def _first_use(self, seed_id: str, ttl: int) -> bool:
        from limits.errors import StorageError

        try:
            fresh = self.storage.incr(f"scrapeguard:spent:{seed_id}", ttl) == 1
        except StorageError as exc:
            self._spent_health.failed(exc)
            raise
        self._spent_health.succeeded()
        return fresh


def _stream_engine(policy: Policy, store: str, fail_open: bool, secret: bytes | None,
                   budget: float, calibration: str | Path | None = None) -> Engine:
    try:
        from scrapeguard.engines.stream import StreamEngine
    except ImportError as exc:  # pragma: no cover - only while the engine is missing
        raise ScrapeGuardError("the stream engine is not available") from exc
    options: dict[str, Any] = {"policy": policy, "store": store, "fail_open": fail_open,
                               "budget": budget}
    if secret is not None:
        options["secret"] = secret
    if calibration is not None:  # `scrapeguard calibrate`'s file (docs/live.md)
        options["calibration"] = calibration
    engine: Engine = StreamEngine(**options)
    return engine
