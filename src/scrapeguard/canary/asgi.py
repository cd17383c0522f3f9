"""`CanaryASGI`: the injector wrapped around an ASGI app, inside `ScrapeGuardMiddleware`.

```python
site = CanaryASGI(app, Injector(book), lists=["/api/reviews"], profile="/user/{id}")
app = ScrapeGuardMiddleware(site, decoy=site.decoy, account=...)
```

The middleware puts its verdict in `scope["scrapeguard"]` before the app runs; its keys name the
actor (`account:x`, else `ip:…|fp:…`). List routes get canaries mixed into their JSON lists;
`/user/<canary id>` answers only for actors the canary was served to, everyone else reaches
the app, which has no such person and says 404. `decoy` is the middleware's decoy hook: it runs
the app and swaps every record of the answer for a canary. Without the middleware, the actor
comes from the `identity` hook, or the peer address and user agent (no proxy resolution).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scrapeguard.canary.inject import MAX_BODY, Injector, dump_json, find_list, route
from scrapeguard.canary.keys import CanaryError, actor_from_keys, group_keys
from scrapeguard.events import fingerprint

SUBJECTS_HEADER = "x-subjects"
PRIVATE = (b"x-subjects", b"x-subject-fields")
"""The app's private headers naming whose data an answer carries (see enforce.exchange)."""

Identity = tuple[str, tuple[str, ...]]
"""(the actor key canaries are assigned by, the group keys servings are also recorded under)"""


def scope_identity(scope: Scope) -> Identity:
    """From the middleware's verdict, else from the peer address and user agent."""
    verdict = scope.get("scrapeguard")
    keys = getattr(verdict, "keys", None)
    if not keys:
        client = scope.get("client")
        keys = {"ip": client[0] if client else "?",
                "fp": fingerprint(Headers(scope=scope).get("user-agent"))}
    return actor_from_keys(keys), group_keys(keys, getattr(verdict, "actor", None))


class CanaryASGI:
    """Mixes canaries into `lists` routes (JSON list at `list_key`) and serves `profile`."""

    def __init__(self, app: ASGIApp, injector: Injector, *, lists: Sequence[str] = (),
                 list_key: str | None = None, profile: str | None = "/user/{id}",
                 identity: Callable[[Scope], Identity] | None = None) -> None:
        self.app = app
        self.injector = injector
        self.lists = [route(p) for p in lists]
        self.list_key = list_key
        self.profile = route(profile) if profile else None
        if self.profile is not None and len(self.profile.groupindex) != 1:
            raise CanaryError(f"profile route {profile!r} needs exactly one {{placeholder}}")
        self.identity = identity or scope_identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._serve(scope, receive, send, decoy=False)

    def decoy(self, scope: Scope) -> ASGIApp:
        """The middleware's `decoy` hook: the same routes, every record a canary."""

        async def decoyed(scope: Scope, receive: Receive, send: Send) -> None:
            await self._serve(scope, receive, send, decoy=True)

        return decoyed

    async def _serve(self, scope: Scope, receive: Receive, send: Send, decoy: bool) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        actor, groups = self.identity(scope)
        context = path + ("?" + scope["query_string"].decode("latin-1")
                          if scope.get("query_string") else "")
        hit = self.profile.match(path) if self.profile else None
        if hit:
            found = await anyio.to_thread.run_sync(self.injector.profile, hit.group(1), actor,
                                                   groups)
            if found is not None:
                await _send_json(send, 200, found)
                return
            if decoy:
                await self._rewrite(scope, receive, send, lambda body: self.injector.swap_one(
                    body, actor, context, groups), decoy)
                return
        elif any(p.match(path) for p in self.lists):
            change = self.injector.swap if decoy else self.injector.mix

            def edit(body: Any) -> Any:
                items = find_list(body, self.list_key)
                if items is not None:
                    items[:] = change(items, actor, context, groups)
                return body

            await self._rewrite(scope, receive, send, edit, decoy)
            return
        if decoy:  # a route we cannot fake: its answer goes out only if it names nobody
            await self._rewrite(scope, receive, send, None, decoy)
            return
        await self.app(scope, receive, send)

    async def _rewrite(self, scope: Scope, receive: Receive, send: Send,
                       edit: Callable[[Any], Any] | None, decoy: bool) -> None:
        """Run the app, hold its answer, and pass a 200 JSON body through `edit` (in a worker
        thread: it writes the serving log); with no `edit` (a decoyed route that has no canary
        stand-in), an answer that names people becomes a 404. A decoy answer leaves without
        the private subject headers: the middleware strips them only from answers it watches,
        and it does not watch decoys."""
        start: Message | None = None
        chunks: list[bytes] = []

        async def hold(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                ready, start = start, None
                await _finish(send, ready, b"".join(chunks), edit, decoy)

        await self.app(scope, receive, hold)
        if start is not None:  # the app ended without a final body message
            await _finish(send, start, b"".join(chunks), edit, decoy)


async def _finish(send: Send, start: Message, body: bytes, edit: Callable[[Any], Any] | None,
                  decoy: bool) -> None:
    headers = Headers(raw=start.get("headers", []))
    if edit is None:
        if headers.get(SUBJECTS_HEADER, "").strip():
            await _send_json(send, 404, {"error": "not found"})
            return
    elif start["status"] == 200 and "json" in headers.get("content-type", "") and \
            len(body) <= MAX_BODY:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if data is not None:
            data = await anyio.to_thread.run_sync(edit, data)
            body = dump_json(data)
    dropped = {b"content-length", *(PRIVATE if decoy else ())}
    raw = [(k, v) for k, v in start.get("headers", []) if k.lower() not in dropped]
    raw.append((b"content-length", str(len(body)).encode()))
    await send({**start, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, data: Any) -> None:
    body = dump_json(data)
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
