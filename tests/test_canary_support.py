"""Shared by the canary tests (holds no tests itself): books, the drill, dump writers, a server.

Books are minted into one scratch directory per test process. The drill (a 20,000-canary book
and its simulated audience) is built once per process and shared, read-only, by the tests.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import gzip
import io
import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from scrapeguard.canary import CanaryBook, Injector, MintSpec, mint
from scrapeguard.canary.asgi import CanaryASGI
from scrapeguard.canary.drill import Drill, DrillSpec, scratch_book
from scrapeguard.canary.ranges import IdSpace, PhoneRange
from scrapeguard.enforce import ScrapeGuardMiddleware
from scrapeguard.policy.model import Policy
from test_middleware_servers import serve as serve_on_loopback

PHONES = "+86 170 0000 0000-+86 170 0099 9999"
IDS = "900000000-999999999"
KEY = bytes(range(32))
SCRATCH = Path(tempfile.mkdtemp(prefix="scrapeguard-canary-"))
atexit.register(shutil.rmtree, SCRATCH, True)
FIELDS = ("uid", "nick", "mobile", "review")


def spec(count: int = 2000, per_actor: int = 100, **extra: Any) -> MintSpec:
    return MintSpec(count=count, locale=extra.pop("locale", "zh_CN"), ids=IdSpace.parse(IDS),
                    phone_ranges=(PhoneRange.parse(PHONES, "zh_CN"),), per_actor=per_actor,
                    **extra)


def new_book(directory: Path, servings: str | None = None, **options: Any) -> CanaryBook:
    """A freshly minted book (fixed key unless `key=None` is passed explicitly)."""
    key = options.pop("key", KEY)
    path = directory / "canaries.db"
    mint(path, spec(**options), key=key, force=True)
    return CanaryBook(path, servings=servings, key=key)


@cache
def drill() -> Drill:
    """The published scenario: `scrapeguard canary drill` with its defaults."""
    book = scratch_book(SCRATCH, seed=7)
    atexit.register(book.close)  # registered after the scratch removal, so it runs first
    return Drill(book, DrillSpec(seed=7))


# --- writing dumps the way resellers do ------------------------------------------------------

def _csv(rows: Sequence[dict[str, str]], delimiter: str) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, FIELDS, delimiter=delimiter)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _sql(rows: Sequence[dict[str, str]]) -> str:
    def quote(value: str) -> str:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"

    lines = ["SET NAMES utf8mb4;", "CREATE TABLE `users` (`uid` varchar(32), `nick` text, "
             "`mobile` text, `review` text);"]
    for start in range(0, len(rows), 50):
        values = ",".join("(" + ",".join(quote(r[f]) for f in FIELDS) + ")"
                          for r in rows[start:start + 50])
        lines.append(f"INSERT INTO `users` VALUES {values};")
    return "\n".join(lines) + "\n"


def _pg(rows: Sequence[dict[str, str]]) -> str:
    body = "".join("\t".join(r[f] for f in FIELDS) + "\n" for r in rows)
    return f"COPY public.users (uid, nick, mobile, review) FROM stdin;\n{body}\\.\n"


def write_dump(rows: Sequence[dict[str, str]], path: Path, kind: str) -> Path:
    """Write rows as a reseller might: `kind` names the format and its quirks."""
    if kind == "csv-bom-semicolon":
        path.write_text(_csv(rows, ";"), encoding="utf-8-sig")
    elif kind == "tsv-utf16":  # a spreadsheet's "Unicode text" export
        path.write_text(_csv(rows, "\t"), encoding="utf-16")
    elif kind == "csv-gz":
        path.write_bytes(gzip.compress(_csv(rows, ",").encode()))
    elif kind == "json":
        path.write_text(json.dumps({"data": {"users": list(rows)}}))
    elif kind == "jsonl":
        path.write_text("".join(json.dumps({"user": {"id": r["uid"], "profile": {
            "name": r["nick"], "tel": r["mobile"]}}, "text": r["review"]},
            ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif kind == "sql":
        path.write_text(_sql(rows), encoding="utf-8")
    elif kind == "pg-copy":
        path.write_text(_pg(rows), encoding="utf-8")
    elif kind == "text":
        path.write_text("".join(f"{r['nick']} ({r['uid']}) tel {r['mobile']} said: "
                                f"{r['review']}\n" for r in rows), encoding="gb18030")
    else:
        raise ValueError(kind)
    return path


DUMP_KINDS = ("csv-bom-semicolon", "tsv-utf16", "csv-gz", "json", "jsonl", "sql", "pg-copy",
              "text")
SUFFIX = {"csv-bom-semicolon": ".csv", "tsv-utf16": ".txt", "csv-gz": ".csv.gz",
          "json": ".json", "jsonl": ".jsonl", "sql": ".sql", "pg-copy": ".sql", "text": ".log"}


# --- a server on loopback ----------------------------------------------------------------------

@contextlib.contextmanager
def serve(app: Any) -> Iterator[str]:
    """The middleware tests' loopback server, without their engine warm-up."""
    with serve_on_loopback(app, warm=False) as url:
        yield url


# --- a shop with reviews, behind the middleware and the canary injector -----------------------

REAL_BASE = 100_000_000
PAGE = 20


def person(n: int) -> dict[str, str]:
    """Real person n of the demo shop (ids 100000000 up, never in the canary id range)."""
    return {"id": str(REAL_BASE + n), "name": f"用户{n}",
            "phone": f"+86 138 {n // 10_000:04d} {n % 10_000:04d}", "comment": "很好.推荐购买."}


async def _reviews(request: Request) -> Response:
    page = int(request.query_params.get("page", "1"))
    people = [person(page * PAGE + i) for i in range(PAGE)]
    return JSONResponse({"page": page, "results": people},
                        headers={"X-Subjects": ",".join(p["id"] for p in people)})


async def _user(request: Request) -> Response:
    number = int(request.path_params["id"]) - REAL_BASE
    if not 0 <= number < 10_000_000:
        return JSONResponse({"error": "no such user"}, status_code=404)
    return JSONResponse(person(number), headers={"X-Subjects": str(REAL_BASE + number)})


async def _home(request: Request) -> Response:
    return PlainTextResponse("shop")


def shop() -> Starlette:
    """Reviews (a list route), profiles (the profile route), and `/api/people/{id}`, a
    personal-data route the canary wiring is not told about."""
    return Starlette(routes=[Route("/", _home), Route("/api/reviews", _reviews),
                             Route("/user/{id}", _user), Route("/api/people/{id}", _user)])


def decoy_policy(after: int = 30) -> Policy:
    """One rule: an account that makes `after` requests in an hour is decoyed."""
    return Policy.model_validate({"rules": [{
        "id": "canary-decoy", "kind": "account", "window": "1h", "when": f"requests >= {after}",
        "action": "decoy", "score": 0.9}]})


def account_of(scope: Scope) -> str | None:
    """The demo's login: an `x-account` header (a stand-in for a session lookup)."""
    return Headers(scope=scope).get("x-account")


def guarded_shop(book: CanaryBook, policy: Policy | None = None,
                 **options: Any) -> ScrapeGuardMiddleware:
    """The shop with canaries in its review lists and profiles, behind the real middleware."""
    site = CanaryASGI(shop(), Injector(book), lists=["/api/reviews"], list_key="results",
                      profile="/user/{id}")
    return ScrapeGuardMiddleware(site, decoy=site.decoy, account=account_of,
                                 policy=policy or decoy_policy(), secret=b"canary tests",
                                 **options)
