"""People in a browser: visits of page views with think times, referers, cookies and assets.

One visit is one browser session. Its first request carries no session cookie (the answer
sets one); every later request, assets included, carries it. Pages follow each other the way
links allow: a review page is for the product just seen and its next page follows it, a profile
opened from a review page is one of that page's reviewers, from a profile it is a related one,
from a merchant's order list one of the buyers. A cold cache loads every bundle on the first
page; a warm one skips most, revalidates some (304) and refetches a few.

Everything is computed for all visits at once; only chains of profile-to-profile clicks need a
short loop (one pass per click in the longest chain).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from scrapeguard.simulate import site
from scrapeguard.simulate.draws import I64, Bools, forward_fill, group_cumsum, segments
from scrapeguard.simulate.frame import Frame, concat, spread, urls
from scrapeguard.simulate.pools import hex_ids
from scrapeguard.simulate.scenario import Context
from scrapeguard.simulate.site import Kind

ENTRY_REFERERS: tuple[str, ...] = (
    "https://www.google.com/", "https://www.bing.com/", "https://www.baidu.com/",
    "https://m.facebook.com/", "https://l.instagram.com/", "https://t.co/",
    "android-app://com.google.android.gm/", "https://duckduckgo.com/",
)
ENTRY_WEIGHTS = (30, 5, 12, 6, 3, 2, 2, 1)
IMAGES: dict[Kind, int] = {Kind.HOME: 3, Kind.PRODUCT: 2, Kind.SEARCH: 3, Kind.PROFILE: 1,
                           Kind.CART: 1}
"""Product pictures each page shows (lazy-loaded past these)."""
SLOTS = 10
"""Asset slots per page: 4 bundles, favicon, review script, up to 4 images."""


@dataclass
class Visits:
    """One entry per visit: who, from where, when, and for how many pages."""

    start: I64
    pages: I64
    ip: list[str]
    ua: list[str]
    identity: list[str]
    account: list[str | None]
    warm: Bools
    """The browser has been here before: its cache holds the bundles."""
    entry: I64
    """Index into ENTRY_REFERERS for the first page's referer; -1 for none (typed, bookmark)."""
    strip_referer: Bools
    """Privacy settings that never send a referer."""
    merchant: I64 | None = None
    """The person id of a merchant's own shop, for their order-list pages."""

    def where(self, keep: Bools) -> Visits:
        """The visits where `keep` holds (to walk them differently)."""
        rows = np.nonzero(keep)[0]
        return Visits(
            start=self.start[rows], pages=self.pages[rows],
            ip=[self.ip[i] for i in rows], ua=[self.ua[i] for i in rows],
            identity=[self.identity[i] for i in rows], account=[self.account[i] for i in rows],
            warm=self.warm[rows], entry=self.entry[rows], strip_referer=self.strip_referer[rows],
            merchant=None if self.merchant is None else self.merchant[rows],
        )


@dataclass(frozen=True)
class Walk:
    """How one kind of person moves through the site."""

    mix: tuple[tuple[Kind, float], ...]
    entry: tuple[tuple[Kind, float], ...]
    think_median: float = 18.0
    think_sigma: float = 1.1
    think_cap: float = 1_800.0
    follow_related: float = 0.5
    typed: float = 0.06
    """Share of later pages reached without a referer (typed, bookmarked, pasted)."""
    stale: float = 0.04
    """Share of first pages that follow a stale link (shared long ago) to something deleted."""


def entries(rng: np.random.Generator, n: int, direct: float = 0.35) -> I64:
    """First-page referers: search engines and social sites, or none for a typed address."""
    p = np.array(ENTRY_WEIGHTS, dtype=np.float64)
    picks = rng.choice(len(p), size=n, p=p / p.sum())
    return np.where(rng.random(n) < direct, -1, picks)


def _choose(rng: np.random.Generator, table: tuple[tuple[Kind, float], ...], n: int) -> I64:
    kinds = np.array([k for k, _ in table], dtype=np.int64)
    weights = np.array([w for _, w in table], dtype=np.float64)
    return kinds[rng.choice(len(kinds), size=n, p=weights / weights.sum())]


@dataclass
class Plan:
    """Page views, one entry each, grouped by visit in time order."""

    visit: I64
    pos: I64
    kind: I64
    a: I64
    b: I64
    ts: I64
    source: I64
    """Row of the page whose link led here (its URL is the referer); -1 for a first page."""


def plan(ctx: Context, v: Visits, walk: Walk) -> Plan:
    """Which pages each visit views, and when."""
    rng = ctx.rng
    visit, pos = segments(v.pages)
    n = len(visit)
    kind = np.where(pos == 0, _choose(rng, walk.entry, n), _choose(rng, walk.mix, n))
    has_prev = pos > 0
    pk = np.where(has_prev, kind[np.maximum(np.arange(n) - 1, 0)], -1)
    a = site.popular_products(rng, n)
    a = np.where(kind == Kind.SEARCH, np.floor(len(site.SEARCH_QUERIES) * rng.random(n) ** 2), a)
    help_topic = np.where(rng.random(n) < 0.08, rng.integers(8, 10, n), rng.integers(0, 8, n))
    a = np.where(kind == Kind.HELP, help_topic, a).astype(np.int64)
    if v.merchant is not None:
        a = np.where(kind == Kind.ORDERS, v.merchant[visit], a)
    # A review page is for the product just seen; consecutive ones turn the page.
    keep = (kind == Kind.REVIEWS) & np.isin(pk, (Kind.PRODUCT, Kind.REVIEWS))
    a = np.where(keep, forward_fill(a, keep), a)
    listing = np.isin(kind, (Kind.REVIEWS, Kind.ORDERS))
    turning = listing & (pk == kind)
    opened = np.where(kind == Kind.ORDERS, rng.geometric(0.12, n), 1)  # recent orders first
    b = np.arange(n) - forward_fill(np.arange(n), turning) + forward_fill(opened, turning)
    last = np.maximum(site.review_pages(a), 1)
    b = np.where(kind == Kind.REVIEWS, np.minimum(b, last), np.where(listing, b, 1))
    profiles, source = _profiles(rng, visit, kind, pk, a, b, walk)
    a = np.where(kind == Kind.PROFILE, profiles, a)
    stale = (pos == 0) & (rng.random(n) < walk.stale)
    to_person = np.nonzero(stale & (kind == Kind.PROFILE))[0]
    a[to_person] = site.gone(rng, len(to_person), site.person_exists, site.PEOPLE)
    to_product = np.nonzero(stale & np.isin(kind, (Kind.PRODUCT, Kind.REVIEWS)))[0]
    a[to_product] = site.gone(rng, len(to_product), site.product_exists, site.PRODUCTS)
    gaps = rng.lognormal(np.log(walk.think_median), walk.think_sigma, n)
    gaps = np.where(has_prev, np.minimum(gaps, walk.think_cap), 0.0) * 1000
    ts = v.start[visit] + group_cumsum(gaps, visit).astype(np.int64)
    return Plan(visit, pos, kind, a, b.astype(np.int64), ts, source)


def _profiles(rng: np.random.Generator, visit: I64, kind: I64, pk: I64, a: I64, b: I64,
              walk: Walk) -> tuple[I64, I64]:
    """Which profile each profile view shows, and the row of the page whose link was followed.

    From a list page (reviews, a merchant's orders, search) it is one of the people listed;
    from a profile either a related profile, or, after going back (the back button costs no
    request), the next entry of the last list page seen in the visit."""
    n = len(kind)
    rows = np.arange(n)
    source = np.where(pk >= 0, rows - 1, -1)
    is_profile = kind == Kind.PROFILE
    follow = is_profile & (pk == Kind.PROFILE) & (rng.random(n) < walk.follow_related)
    is_list = np.isin(kind, (Kind.REVIEWS, Kind.ORDERS, Kind.SEARCH))
    last_list = np.maximum.accumulate(np.where(is_list, rows, -1))
    back = (is_profile & (pk == Kind.PROFILE) & ~follow & (last_list >= 0)
            & (visit[np.maximum(last_list, 0)] == visit))
    source = np.where(back, last_list, source)
    src = np.maximum(source, 0)
    sk = np.where(source >= 0, kind[src], -1)
    ids = site.popular_people(rng, n)
    slot = rng.integers(0, 1 << 20, n)
    listed = site.review_count(a[src], b[src])
    from_reviews = site.reviewer(a[src], b[src], slot % np.maximum(listed, 1))
    ids = np.where(is_profile & (sk == Kind.REVIEWS) & (listed > 0), from_reviews, ids)
    from_orders = site.buyer(a[src], b[src], slot % site.ORDERS_PAGE)
    ids = np.where(is_profile & (sk == Kind.ORDERS), from_orders, ids)
    shops = site.search_shops(a[src])
    from_search = site.search_shop(a[src], slot % np.maximum(shops, 1))
    ids = np.where(is_profile & (sk == Kind.SEARCH) & (shops > 0), from_search, ids)
    chained = np.nonzero(follow)[0]
    for _ in range(256):  # each pass settles one more click of the longest chain
        nxt = site.related(ids[chained - 1], slot[chained] % 6)
        if np.array_equal(nxt, ids[chained]):
            break
        ids[chained] = nxt
    return ids, source


def _assets(rng: np.random.Generator, v: Visits, visit: I64, pos: I64, kind: I64,
            a: I64, pk: I64) -> tuple[I64, I64, I64, Bools, I64]:
    """The page's bundles and pictures: (page row, kind, id, revalidated, delay ms)."""
    n = len(visit)
    warm = v.warm[visit]
    first = pos == 0
    roll = rng.random((n, SLOTS))
    present = np.zeros((n, SLOTS), dtype=bool)
    cached = warm[:, None] & (roll < 0.8)  # warm: revalidate (304) unless refetched (200)
    present[:, 0:4] = first[:, None] & (~warm[:, None] | (roll[:, 0:4] > 0.55))
    present[:, 4] = first & (~warm | (roll[:, 4] > 0.9))
    present[:, 5] = (kind == Kind.REVIEWS) & (pk != Kind.REVIEWS) & (~warm | (roll[:, 5] > 0.55))
    images = np.zeros(n, dtype=np.int64)
    for page_kind, count in IMAGES.items():
        images[kind == page_kind] = count
    present[:, 6:] = (np.arange(4)[None, :] < images[:, None]) & (~warm[:, None] |
                                                                  (roll[:, 6:] > 0.5))
    asset_kind = np.array([Kind.STATIC] * 4 + [Kind.FAVICON, Kind.STATIC] + [Kind.IMAGE] * 4)
    ids = np.empty((n, SLOTS), dtype=np.int64)
    ids[:, 0:4] = np.arange(4)
    ids[:, 4], ids[:, 5] = 0, 4
    ids[:, 6:] = site.popular_products(rng, n * 4).reshape(n, 4)
    ids[:, 6] = np.where(kind == Kind.PRODUCT, a, ids[:, 6])
    delay = np.cumsum(rng.integers(15, 160, (n, SLOTS)), axis=1) + rng.integers(60, 400, n)[:, None]
    row, col = np.nonzero(present)
    return row, asset_kind[col], ids[row, col], cached[row, col], delay[row, col]


def browse(ctx: Context, v: Visits, walk: Walk) -> Frame:
    """Every request of every visit: page views and the assets they load."""
    return fetch(ctx, v, plan(ctx, v, walk), typed=walk.typed)


def fetch(ctx: Context, v: Visits, p: Plan, *, typed: float = 0.06, assets: bool = True,
          cookie_first: bool = False) -> Frame:
    """Requests for planned page views as a browser sends them: the referer is the page the
    link was on, the session cookie is set by the first answer (or already held, with
    `cookie_first`), and each page loads what a cache of that warmth lacks."""
    rng = ctx.rng
    n = len(p.visit)
    visit, pos, kind = p.visit, p.pos, p.kind
    pk = np.where(pos > 0, kind[np.maximum(np.arange(n) - 1, 0)], -1)
    page = ctx.render(kind, p.a, p.b, ts=p.ts)
    page_urls = urls(page.path, site.ORIGIN)
    entry_pool = pa.concat_arrays([page_urls, pa.array(ENTRY_REFERERS)])
    no_ref = (rng.random(n) < typed) & (pos > 0)
    ref = np.where(p.source >= 0, p.source, np.where(v.entry[visit] >= 0, n + v.entry[visit], -1))
    ref = np.where(no_ref | v.strip_referer[visit], -1, ref)
    sessions = pa.array(hex_ids(rng, len(v.start)), pa.string())
    identity = pa.array(v.identity, pa.string())
    who = {"ip": pa.array(v.ip, pa.string()), "ua": pa.array(v.ua, pa.string()),
           "account": pa.array(v.account, pa.string())}
    pages = Frame.of(
        p.ts, page, referer=spread(entry_pool, ref), identity=spread(identity, visit),
        session=spread(sessions, np.where((pos == 0) & (not cookie_first), -1, visit)),
        **{k: spread(col, visit) for k, col in who.items()},
    )
    if not assets:
        return pages
    html = ~np.isin(kind, (Kind.CART_ADD, Kind.LOGIN))
    row, akind, aid, cached, delay = _assets(rng, v, visit, pos, kind, p.a, pk)
    keep = html[row]
    row, akind, aid, cached, delay = row[keep], akind[keep], aid[keep], cached[keep], delay[keep]
    ats = p.ts[row] + delay
    loaded = Frame.of(
        ats, ctx.render(akind, aid, cached=cached, ts=ats),
        referer=spread(entry_pool, np.where(v.strip_referer[visit[row]], -1, row)),
        identity=spread(identity, visit[row]), session=spread(sessions, visit[row]),
        **{k: spread(col, visit[row]) for k, col in who.items()},
    )
    return concat([pages, loaded])
