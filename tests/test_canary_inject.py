"""Injecting canaries: into lists, as decoys, as profiles, through the real middleware."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from wsgiref.types import StartResponse, WSGIEnvironment
from wsgiref.util import setup_testing_defaults

import httpx
import pytest

from scrapeguard.canary import CanaryBook, CanaryError, Injector
from scrapeguard.canary.servings import MemoryServings
from scrapeguard.canary.wsgi import CanaryWSGI
from scrapeguard.enforce import ScrapeGuardWSGI
from test_canary_support import REAL_BASE, decoy_policy, guarded_shop, new_book, person


@pytest.fixture
def book(tmp_path: Path) -> Iterator[CanaryBook]:
    opened = new_book(tmp_path)
    yield opened
    opened.close()


def is_canary(record: dict[str, Any]) -> bool:
    return int(record["id"]) >= 900_000_000


def _index(book: CanaryBook, record: dict[str, Any]) -> int:
    canary = book.by_id(record["id"])
    assert canary is not None
    return canary.index


def fetch(app: Any, *requests: tuple[str, dict[str, str]],
          client: tuple[str, int] = ("203.0.113.9", 5000)) -> list[httpx.Response]:
    """GET each (path, headers) in turn through an ASGI app, without a server."""

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as session:
            return [await session.get(path, headers=headers) for path, headers in requests]

    return asyncio.run(run())


def test_a_list_gets_a_few_of_the_actors_canaries(book: CanaryBook) -> None:
    injector = Injector(book)
    items = [person(n) for n in range(20)]
    mixed = injector.mix(items, "account:a", "/api/reviews?page=1")
    assert len(mixed) == 21
    (canary,) = [r for r in mixed if is_canary(r)]
    assert [r for r in mixed if not is_canary(r)] == items
    assert book.assigned("account:a", _index(book, canary))
    assert book.assigner.position("account:a", _index(book, canary)) < book.per_actor
    assert mixed == injector.mix(items, "account:a", "/api/reviews?page=1")  # a reload
    assert book.servings.served_counts(["account:a"]) == {"account:a": 1}
    assert injector.mix(items[:2], "account:a", "/x") == items[:2]  # too short to hide one
    assert len(Injector(book, rate=0.2).mix(items, "account:b", "/x")) == 24


def test_canaries_take_the_apps_shape(book: CanaryBook) -> None:
    mapped = Injector(book, shape={"uid": "id", "mobile": "phone_e164"})
    (record,) = [r for r in mapped.mix([{}] * 5, "account:a", "/x") if r]
    assert set(record) == {"uid", "mobile"}
    assert record["mobile"].startswith("+86170")
    called = Injector(book, shape=lambda c: ("canary", c.id))
    assert any(isinstance(r, tuple) for r in called.mix([1, 2, 3], "account:a", "/y"))
    with pytest.raises(CanaryError, match="unknown canary fields"):
        Injector(book, shape={"x": "password"})


def test_decoys_are_all_canaries_and_keep_the_asked_for_id(book: CanaryBook) -> None:
    injector = Injector(book)
    swapped = injector.swap([person(n) for n in range(20)], "account:m", "/api/reviews?page=3",
                            groups=("campaign:enum:/user/{n}",))
    assert len(swapped) == 20
    assert all(is_canary(r) for r in swapped)
    assert all(book.assigned("account:m", _index(book, r)) for r in swapped)
    profile = injector.swap_one(person(5), "account:m", "/user/100000005")
    assert profile["id"] == person(5)["id"]
    assert profile["phone"].startswith("+86 170")
    counts = book.servings.served_counts(["account:m", "campaign:enum:/user/{n}"])
    assert counts == {"account:m": 21, "campaign:enum:/user/{n}": 20}


def test_through_the_middleware(book: CanaryBook) -> None:
    app = guarded_shop(book)
    alice, bob = {"x-account": "alice"}, {"x-account": "bob"}
    (answer,) = fetch(app, ("/api/reviews?page=1", alice))
    assert "x-subjects" not in answer.headers
    assert int(answer.headers["content-length"]) == len(answer.content)
    (canary,) = [r for r in answer.json()["results"] if is_canary(r)]
    mine, theirs, anonymous = fetch(app, (f"/user/{canary['id']}", alice),
                                    (f"/user/{canary['id']}", bob),
                                    ("/api/reviews?page=1", {"user-agent": "curl/8"}))
    assert mine.json() == canary
    assert (theirs.status_code, theirs.json()) == (404, {"error": "no such user"})
    assert len(anonymous.json()["results"]) == 21
    index = _index(book, canary)
    assert "account:alice" in book.servings.served([index])[index]
    assert book.servings.actor_count() == 3  # alice, ip:…|fp:…, and fp:…
    app.close()


def test_the_decoy_action_serves_canaries(book: CanaryBook) -> None:
    app = guarded_shop(book, decoy_policy(after=3))
    mallory = {"x-account": "mallory"}
    answers = fetch(app, *[(f"/api/reviews?page={p}", mallory) for p in range(6)],
                    (f"/user/{REAL_BASE + 7}", mallory), (f"/user/{REAL_BASE - 1}", mallory),
                    (f"/api/people/{REAL_BASE + 7}", mallory), ("/", mallory))
    *pages, profile, missing, unlisted, home = answers
    assert sum(is_canary(r) for r in pages[0].json()["results"]) == 1  # before the rule fired
    assert all(is_canary(r) for r in pages[-1].json()["results"])
    assert pages[-1].json()["page"] == 5  # the app's own envelope, its records swapped
    assert profile.json()["id"] == str(REAL_BASE + 7)
    assert profile.json()["phone"].startswith("+86 170")
    assert missing.status_code == 404  # the app's own miss stays a miss
    assert (unlisted.status_code, unlisted.json()) == (404, {"error": "not found"})
    assert home.text == "shop"
    assert not any("x-subjects" in a.headers for a in answers)  # decoys are not watched
    app.close()


def _wsgi_shop(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """`/reviews` and any other path: ten people (a list route, and an unlisted one)."""
    body = json.dumps([person(n) for n in range(10)]).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body))), ("X-Subjects", "1,2")])
    return [body]


def _get(app: Any, path: str, account: str) -> tuple[str, dict[str, str], bytes]:
    environ: WSGIEnvironment = {"PATH_INFO": path, "HTTP_X_ACCOUNT": account,
                                "REMOTE_ADDR": "198.51.100.3"}
    setup_testing_defaults(environ)
    seen: dict[str, Any] = {}

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, dict(headers)
        return lambda data: None

    result = app(environ, start)
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    return seen["status"], seen["headers"], body


def test_the_wsgi_twin(book: CanaryBook) -> None:
    site = CanaryWSGI(_wsgi_shop, Injector(book), lists=["/reviews"])
    app = ScrapeGuardWSGI(site, decoy=site.decoy, policy=decoy_policy(after=2),
                          account=lambda environ: environ.get("HTTP_X_ACCOUNT"),
                          secret=b"canary tests")
    status, headers, body = _get(app, "/reviews", "carol")
    records = json.loads(body)
    assert status.startswith("200")
    assert "X-Subjects" not in headers
    assert headers["Content-Length"] == str(len(body))
    assert sum(is_canary(r) for r in records) == 1
    (canary,) = [r for r in records if is_canary(r)]
    assert json.loads(_get(app, f"/user/{canary['id']}", "carol")[2]) == canary
    for _ in range(3):
        _, headers, body = _get(app, "/reviews", "carol")
    assert all(is_canary(r) for r in json.loads(body))  # decoyed
    assert "X-Subjects" not in headers
    status, headers, body = _get(app, "/export", "carol")
    assert (status, json.loads(body)) == ("404 Not Found", {"error": "not found"})
    app.close()


class _DownLog(MemoryServings):
    def record(self, actor: str, canaries: Sequence[int], ts: datetime) -> None:
        raise ConnectionError("serving log down")


def test_a_dead_serving_log_means_no_canaries_not_unrecorded_ones(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    book = new_book(tmp_path, servings=_DownLog())
    injector = Injector(book)
    items = [person(n) for n in range(20)]
    with caplog.at_level(logging.WARNING, "scrapeguard.canary"):
        assert injector.mix(items, "account:a", "/p/1") == items
        assert injector.mix(items, "account:a", "/p/2") == items
    assert caplog.text.count("serving log unavailable") == 1
    with pytest.raises(ConnectionError):
        injector.swap(items, "account:a", "/p/1")  # a decoy fails rather than show real data
    book.close()
