"""`CanaryWSGI`: the injector around a WSGI app (Flask, Django), inside `ScrapeGuardWSGI`.

The WSGI twin of `canary.asgi.CanaryASGI`, with the same options; hooks get the environ.
`ScrapeGuardWSGI` leaves its verdict in `environ["scrapeguard"]`, whose keys name the actor.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

from scrapeguard.canary.inject import MAX_BODY, Injector, dump_json, find_list, route
from scrapeguard.canary.keys import CanaryError, actor_from_keys, group_keys
from scrapeguard.events import fingerprint

Identity = tuple[str, tuple[str, ...]]
PRIVATE = ("x-subjects", "x-subject-fields")


def environ_identity(environ: WSGIEnvironment) -> Identity:
    """(actor key, group keys): from the middleware's verdict, else the peer and user agent."""
    verdict = environ.get("scrapeguard")
    keys = getattr(verdict, "keys", None)
    if not keys:
        keys = {"ip": environ.get("REMOTE_ADDR") or "?",
                "fp": fingerprint(environ.get("HTTP_USER_AGENT"))}
    return actor_from_keys(keys), group_keys(keys, getattr(verdict, "actor", None))


class CanaryWSGI:
    """Mixes canaries into `lists` routes and serves `profile`; `decoy` is the hook."""

    def __init__(self, app: WSGIApplication, injector: Injector, *, lists: Sequence[str] = (),
                 list_key: str | None = None, profile: str | None = "/user/{id}",
                 identity: Callable[[WSGIEnvironment], Identity] | None = None) -> None:
        self.app = app
        self.injector = injector
        self.lists = [route(p) for p in lists]
        self.list_key = list_key
        self.profile = route(profile) if profile else None
        if self.profile is not None and len(self.profile.groupindex) != 1:
            raise CanaryError(f"profile route {profile!r} needs exactly one {{placeholder}}")
        self.identity = identity or environ_identity

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self._serve(environ, start_response, decoy=False)

    def decoy(self, environ: WSGIEnvironment) -> WSGIApplication:
        """`ScrapeGuardWSGI`'s decoy hook: the same routes, every record a canary."""
        return lambda env, start: self._serve(env, start, decoy=True)

    def _serve(self, environ: WSGIEnvironment, start_response: StartResponse,
               decoy: bool) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET") != "GET":
            return self.app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        context = f"{path}?{query}" if query else path
        actor, groups = self.identity(environ)
        hit = self.profile.match(path) if self.profile else None
        if hit:
            found = self.injector.profile(hit.group(1), actor, groups)
            if found is not None:
                body = dump_json(found)
                start_response("200 OK", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body)))])
                return [body]
            if decoy:
                return self._rewrite(environ, start_response,
                                     lambda data: self.injector.swap_one(data, actor, context,
                                                                         groups), decoy)
        elif any(p.match(path) for p in self.lists):
            change = self.injector.swap if decoy else self.injector.mix

            def edit(data: Any) -> Any:
                items = find_list(data, self.list_key)
                if items is not None:
                    items[:] = change(items, actor, context, groups)
                return data

            return self._rewrite(environ, start_response, edit, decoy)
        if decoy:  # a route we cannot fake: its answer goes out only if it names nobody
            return self._rewrite(environ, start_response, None, decoy)
        return self.app(environ, start_response)

    def _rewrite(self, environ: WSGIEnvironment, start_response: StartResponse,
                 edit: Callable[[Any], Any] | None, decoy: bool) -> Iterable[bytes]:
        """As `CanaryASGI._rewrite`: edit a 200 JSON body; without `edit`, an answer naming
        people becomes a 404; decoys leave without the private subject headers."""
        held: dict[str, Any] = {}
        chunks: list[bytes] = []

        def hold(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            held["status"], held["headers"] = status, headers
            return chunks.append

        answer = self.app(environ, hold)
        try:
            chunks.extend(answer)
        finally:
            close = getattr(answer, "close", None)
            if callable(close):
                close()
        body = b"".join(chunks)
        dropped = {"content-length", *(PRIVATE if decoy else ())}
        headers = [(k, v) for k, v in held["headers"] if k.lower() not in dropped]
        kind = next((v for k, v in headers if k.lower() == "content-type"), "")
        names = any(k.lower() == "x-subjects" and v.strip() for k, v in held["headers"])
        if edit is None and names:
            body = dump_json({"error": "not found"})
            start_response("404 Not Found", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(body)))])
            return [body]
        if edit and held["status"].startswith("200") and "json" in kind and \
                len(body) <= MAX_BODY:
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if data is not None:
                body = dump_json(edit(data))
        start_response(held["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]
