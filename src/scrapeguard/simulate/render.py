"""Turn requests (a kind and its ids) into what the site answered: path, status, bytes, subjects.

This is the one place that decides statuses and sizes, from the route and its outcome only
(found or not, cached copy or not, an outage or not), never from who asked. A harvester that
fetches profile 4411 gets the same size, within noise, as a person who does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from scrapeguard.simulate import site
from scrapeguard.simulate.draws import I64, Bools, below
from scrapeguard.simulate.site import Kind

NOT_FOUND_HTML = 3_100
NOT_FOUND_JSON = 41
BAD_GATEWAY = 157
STATIC_SIZES = (412_377, 987_011, 88_412, 48_220, 23_518)
ROBOTS_SIZE = 412
FAVICON_SIZE = 15_086


@dataclass
class Rendered:
    """Columns of answered requests, aligned with the request columns they came from."""

    method: pa.Array
    path: pa.Array
    status: npt.NDArray[np.int32]
    bytes: I64
    subjects: pa.Array
    fields: pa.Array


@dataclass
class _Part:
    path: pa.Array
    status: I64
    size: I64
    counts: I64 | None = None
    """Per row, how many people the answer carried (0 on a miss); None: no personal data."""
    ids: I64 | None = None
    """Those people, flattened in row order."""


def _s(values: I64) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _join(*parts: str | I64 | pa.Array) -> pa.Array:
    columns = [_s(p) if isinstance(p, np.ndarray) else p for p in parts]
    return pc.binary_join_element_wise(*columns, "")


def _const(text: str, n: int) -> pa.Array:
    return pa.array([text]).take(pa.array(np.zeros(n, dtype=np.int64)))


def _pick(pool: tuple[str, ...], index: I64) -> pa.Array:
    return pa.array(pool).take(pa.array(index))


def _found(ok: Bools, size: I64, missing: int) -> tuple[I64, I64]:
    return np.where(ok, 200, 404), np.where(ok, size, missing)


def _list_page(keys: I64, pages: I64, counts: I64,
               who: Callable[[I64, I64, I64], I64]) -> tuple[I64, I64]:
    """The ids on list pages, flattened, and the total text length their entries add."""
    row = np.repeat(np.arange(len(keys)), counts)
    slot = np.arange(len(row)) - np.repeat(np.cumsum(counts) - counts, counts)
    ids = who(keys[row], pages[row], slot)
    extra = np.bincount(row, weights=200 + below(ids, 7, 900), minlength=len(keys))
    return ids, extra.astype(np.int64)


def _kind(kind: Kind, a: I64, b: I64, cached: Bools) -> _Part:
    n = len(a)
    if kind is Kind.HOME:
        return _Part(_const("/", n), np.full(n, 200), np.full(n, 48_000))
    if kind is Kind.PRODUCT:
        st, size = _found(site.product_exists(a), 30_000 + below(a, 21, 25_000), NOT_FOUND_HTML)
        return _Part(_join("/product/", a), st, size)
    if kind is Kind.REVIEWS:
        counts = site.review_count(a, b)
        ok = site.product_exists(a) & ((b == 1) | (counts > 0))
        ids, extra = _list_page(a, b, np.where(ok, counts, 0), site.reviewer)
        st, size = _found(ok, 9_000 + extra, NOT_FOUND_HTML)
        path = _join("/product/", a, "/reviews?page=", b)
        return _Part(path, st, size, np.where(ok, counts, 0), ids)
    if kind in (Kind.PROFILE, Kind.API_USER):
        ok = site.person_exists(a)
        html = kind is Kind.PROFILE
        base = 14_000 + below(a, 22, 9_000) if html else 600 + below(a, 22, 900)
        st, size = _found(ok, base, NOT_FOUND_HTML if html else NOT_FOUND_JSON)
        path = _join("/user/" if html else "/api/v1/users/", a)
        return _Part(path, st, size, ok.astype(np.int64), a[ok])
    if kind is Kind.LOOKUP:
        owner = site.phone_owner(a)
        hit = owner > 0
        size = np.where(hit, 330 + below(owner, 23, 90), 27)
        return _Part(_join("/api/contacts/lookup?phone=+86", a), np.full(n, 200), size,
                     hit.astype(np.int64), owner[hit])
    if kind is Kind.SEARCH:
        counts = site.search_shops(a)
        ids, _ = _list_page(a, np.zeros(n, dtype=np.int64), counts,
                            lambda q, _p, s: site.search_shop(q, s))
        size = 36_000 + below(a, 24, 20_000) + 1_200 * counts
        path = _join("/search?q=", _pick(site.SEARCH_QUERIES, a))
        return _Part(path, np.full(n, 200), size, counts, ids)
    if kind is Kind.ORDERS:
        counts = np.full(n, site.ORDERS_PAGE)
        ids, extra = _list_page(a, b, counts, site.buyer)
        return _Part(_join("/seller/orders?page=", b), np.full(n, 200), 11_000 + extra // 2,
                     counts, ids)
    if kind is Kind.HELP:
        ok = a < len(site.HELP_TOPICS) - site.HELP_MISSPELT
        st, size = _found(ok, 7_000 + below(a, 25, 6_000), NOT_FOUND_HTML)
        return _Part(_join("/help/", _pick(site.HELP_TOPICS, a)), st, size)
    if kind in (Kind.STATIC, Kind.IMAGE, Kind.FAVICON):
        if kind is Kind.STATIC:
            path, ok = _pick(site.STATIC_ASSETS, a), np.ones(n, dtype=bool)
            size = np.array(STATIC_SIZES, dtype=np.int64)[a]
        elif kind is Kind.IMAGE:
            path, ok = _join("/img/p/", a, ".jpg"), site.product_exists(a)
            size = 20_000 + below(a, 26, 120_000)
        else:
            path, ok = _const("/favicon.ico", n), np.ones(n, dtype=bool)
            size = np.full(n, FAVICON_SIZE)
        st, size = _found(ok, size, NOT_FOUND_HTML)
        revalidated = ok & cached
        return _Part(path, np.where(revalidated, 304, st), np.where(revalidated, 0, size))
    if kind is Kind.API_PRODUCT:
        st, size = _found(site.product_exists(a), 2_000 + below(a, 27, 4_000), NOT_FOUND_JSON)
        return _Part(_join("/api/v1/products/", a), st, size)
    fixed: dict[Kind, tuple[str, int, int]] = {
        Kind.CART: ("/cart", 200, 12_000), Kind.CART_ADD: ("/cart/add", 302, 0),
        Kind.LOGIN: ("/login", 302, 0), Kind.ROBOTS: ("/robots.txt", 200, ROBOTS_SIZE),
        Kind.API_EVENTS: ("/api/v1/events", 204, 0),
        Kind.MOD_QUEUE: ("/admin/reports", 200, 16_000),
    }
    if kind is Kind.API_FEED:
        return _Part(_join("/api/v1/feed?cursor=", b), np.full(n, 200), np.full(n, 8_000))
    text, status, size_ = fixed[kind]
    return _Part(_const(text, n), np.full(n, status), np.full(n, size_))


NOISE_SD: dict[Kind, float] = {
    Kind.HOME: 900, Kind.PRODUCT: 400, Kind.REVIEWS: 300, Kind.PROFILE: 300, Kind.API_USER: 20,
    Kind.SEARCH: 500, Kind.CART: 3_000, Kind.ORDERS: 200, Kind.HELP: 30, Kind.API_FEED: 2_500,
    Kind.API_PRODUCT: 30, Kind.MOD_QUEUE: 600,
}
"""Per-response variation of dynamic pages (tokens, ads, basket contents); files have none."""


def render(rng: np.random.Generator, kind: npt.NDArray[np.integer], a: I64, b: I64 | None = None,
           cached: Bools | None = None, ts: I64 | None = None,
           outages: tuple[tuple[int, int], ...] = (), method: pa.Array | None = None) -> Rendered:
    """Answer a column of requests. `a` is the route's id (person, product, phone, query or
    asset index), `b` its page or cursor, `cached` whether the client holds a copy to revalidate,
    `ts` the request time (requests inside an outage get 502), `method` an override (HEAD).

    Rows are grouped by kind (one vectorised case per route) and put back in their order."""
    n = len(kind)
    kinds: I64 = np.asarray(kind, dtype=np.int64)
    b = np.ones(n, dtype=np.int64) if b is None else b
    cached = np.zeros(n, dtype=bool) if cached is None else cached
    order = np.argsort(kinds, kind="stable")
    bounds = np.searchsorted(kinds[order], np.arange(len(Kind) + 1))
    status, size = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)  # in kind order, like the arrow parts
    personal = np.zeros(n, dtype=bool)  # in kind order
    paths: list[pa.Array] = []
    ids: list[I64] = []
    for k in Kind:
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        if lo == hi:
            continue
        rows = order[lo:hi]
        part = _kind(k, a[rows], b[rows], cached[rows])
        paths.append(part.path)
        noise = rng.normal(0.0, NOISE_SD.get(k, 0.0), hi - lo).astype(np.int64)
        status[rows] = part.status
        size[rows] = np.where(part.status == 200, np.maximum(part.size + noise, 0), part.size)
        route_fields = site.BY_KIND[k].fields
        if part.counts is not None and part.ids is not None and route_fields is not None:
            personal[lo:hi] = True
            counts[lo:hi] = part.counts
            ids.append(part.ids)
    if ts is not None and outages:
        down = np.zeros(n, dtype=bool)
        for start, end in outages:
            down |= (ts >= start) & (ts < end)
        status[down], size[down] = 502, BAD_GATEWAY
        down_sorted = down[order]
        if ids:
            ids = [np.concatenate(ids)[np.repeat(~down_sorted, counts)]]
        counts[down_sorted] = 0
    if method is not None:
        size[np.asarray(pc.equal(method, "HEAD").to_numpy(zero_copy_only=False), dtype=bool)] = 0
    else:
        method = pa.DictionaryArray.from_arrays(
            pa.array(_METHOD_OF[kinds]), pa.array(_METHODS, pa.string()))
    inverse = pa.array(np.argsort(order, kind="stable"))
    flat = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    offsets = pa.array(np.r_[0, np.cumsum(counts)].astype(np.int32))
    subjects = pa.ListArray.from_arrays(offsets, _s(flat), mask=pa.array(~personal))
    return Rendered(
        method=method,
        path=_concat(paths).take(inverse),
        status=status.astype(np.int32),
        bytes=size,
        subjects=subjects.take(inverse),
        fields=_fields(kinds[order], counts, personal).take(inverse),
    )


_METHODS = ("GET", "POST", "HEAD")
_METHOD_OF = np.array([_METHODS.index(site.BY_KIND[k].method) for k in Kind], dtype=np.int32)
"""Each route's method, as codes into `_METHODS`."""


def _concat(parts: list[pa.Array]) -> pa.Array:
    return pa.concat_arrays(parts) if parts else pa.array([], pa.string())


def _fields(kinds: I64, counts: I64, personal: Bools) -> pa.Array:
    """The kinds of personal data each answer carried, rows in kind order: the route's fields
    when it carried anybody, `[]` when a personal-data route carried nobody, null elsewhere."""
    carried = counts > 0
    lengths = np.zeros(len(kinds), dtype=np.int64)
    values: list[pa.Array] = []
    for kind in Kind:  # rows are in kind order, so each kind's values follow the previous ones
        names = site.BY_KIND[kind].fields
        if names is None:
            continue
        rows = (kinds == kind) & carried
        lengths[rows] = len(names)
        tiled = np.tile(np.arange(len(names)), int(rows.sum()))
        values.append(pa.array(names).take(pa.array(tiled)))
    offsets = pa.array(np.r_[0, np.cumsum(lengths)].astype(np.int32))
    return pa.ListArray.from_arrays(offsets, _concat(values), mask=pa.array(~personal))
