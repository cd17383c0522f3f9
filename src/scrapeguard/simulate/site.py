"""The simulated site: a shopping platform with about 500,000 people on it.

Facts about the site are pure functions of ids (see `draws.mix64`), so a profile, a review page
or a phone number answers the same way to a person, a search engine and a harvester. That is
the point: detection must separate *behaviour*, and any difference in what the site returns
for the same request would be a simulator artifact a detector could learn instead.

- People are numbered 1..`PEOPLE` (ids are sequential, so enumeration is possible); about 3 %
  of the numbers are deleted accounts and answer 404. Subject ids are the decimal numbers,
  the same text that `/user/{id}` carries, so a log without subjects names the same people.
- Products are numbered 1..`PRODUCTS`, about 2 % deleted; review counts are long-tailed
  (log-uniform, 0 to 4,000) and each review page lists up to `PAGE_SIZE` reviewers.
- About 8 % of well-formed mainland mobile numbers (`+861` and ten digits) belong to someone
  on the platform; the contact importer answers 200 either way, `[]` when nobody matched.
- A profile page links to a few related profiles ("people who also bought from this shop").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from scrapeguard.simulate.draws import I64, Bools, below, mix64, mix64_one, unit

ORIGIN = "https://shop.example.com"
PEOPLE = 500_000
PRODUCTS = 60_000
PAGE_SIZE = 20
"""Reviewers listed on one review page."""
ORDERS_PAGE = 10
"""Buyers listed on one page of a merchant's order list."""
PHONE_LOW = 13_000_000_000
PHONE_HIGH = 19_999_999_999
PHONE_HIT_PERMILLE = 80

SALT_PERSON, SALT_PRODUCT, SALT_REVIEWS, SALT_REVIEWER = 11, 12, 13, 14
SALT_PHONE, SALT_OWNER, SALT_BUYER, SALT_RELATED, SALT_SEARCH = 15, 16, 17, 18, 19


class Kind(IntEnum):
    """What a request asks for; `render` turns a kind and its parameters into the exchange."""

    HOME = 0
    PRODUCT = 1
    REVIEWS = 2
    PROFILE = 3
    API_USER = 4
    LOOKUP = 5
    SEARCH = 6
    CART = 7
    CART_ADD = 8
    LOGIN = 9
    HELP = 10
    ROBOTS = 11
    STATIC = 12
    IMAGE = 13
    FAVICON = 14
    API_FEED = 15
    API_PRODUCT = 16
    API_EVENTS = 17
    ORDERS = 18
    MOD_QUEUE = 19


@dataclass(frozen=True)
class Route:
    kind: Kind
    method: str
    template: str
    fields: tuple[str, ...] | None
    doc: str


ROUTES: tuple[Route, ...] = (
    Route(Kind.HOME, "GET", "/", None, "home page"),
    Route(Kind.PRODUCT, "GET", "/product/{pid}", None, "product page"),
    Route(Kind.REVIEWS, "GET", "/product/{pid}/reviews?page={n}", ("name", "comment"),
          f"review list: up to {PAGE_SIZE} reviewers' names and comments; 404 past the last page"),
    Route(Kind.PROFILE, "GET", "/user/{id}", ("name", "phone", "comment"),
          "profile page; 404 for deleted accounts"),
    Route(Kind.API_USER, "GET", "/api/v1/users/{id}", ("name", "phone", "comment"),
          "profile as JSON for the mobile apps"),
    Route(Kind.LOOKUP, "GET", "/api/contacts/lookup?phone=+86{number}", ("name", "phone"),
          "contact importer: 200 either way, subjects [] when the number is nobody's"),
    Route(Kind.SEARCH, "GET", "/search?q={query}", ("name",),
          "search: products plus the shops (people) that match; [] when no shop matches"),
    Route(Kind.CART, "GET", "/cart", None, "basket"),
    Route(Kind.CART_ADD, "POST", "/cart/add", None, "add to basket, answers 302 to /cart"),
    Route(Kind.LOGIN, "POST", "/login", None, "sign in, answers 302"),
    Route(Kind.HELP, "GET", "/help/{topic}", None, "help pages; misspelt topics 404"),
    Route(Kind.ROBOTS, "GET", "/robots.txt", None, "crawler rules"),
    Route(Kind.STATIC, "GET", "/static/{name}.{hash}.{js|css|woff2}", None,
          "bundles and fonts; 304 when a warm cache revalidates"),
    Route(Kind.IMAGE, "GET", "/img/p/{pid}.jpg", None, "product images; 304 from a warm cache"),
    Route(Kind.FAVICON, "GET", "/favicon.ico", None, "site icon"),
    Route(Kind.API_FEED, "GET", "/api/v1/feed?cursor={n}", None, "app home feed (products)"),
    Route(Kind.API_PRODUCT, "GET", "/api/v1/products/{pid}", None, "product as JSON"),
    Route(Kind.API_EVENTS, "POST", "/api/v1/events", None, "app telemetry batch, answers 204"),
    Route(Kind.ORDERS, "GET", "/seller/orders?page={n}", ("name", "address"),
          f"a merchant's order list: {ORDERS_PAGE} buyers a page"),
    Route(Kind.MOD_QUEUE, "GET", "/admin/reports", None,
          "the moderation queue of reported reviews: staff only (only moderators ask for it "
          "here, and the site answers them 200; anyone else would get 403)"),
)

BY_KIND: dict[Kind, Route] = {route.kind: route for route in ROUTES}

STATIC_ASSETS: tuple[str, ...] = (
    "/static/app.3f9c2a1e.js", "/static/vendor.8b41d07c.js", "/static/app.5d2e9b44.css",
    "/static/fonts/inter.2b7f1c.woff2", "/static/reviews.91ac3e0d.js",
)
"""Bundles a page loads from cold; index 0-3 on every HTML page, 4 on review pages."""

HELP_TOPICS: tuple[str, ...] = (
    "shipping", "returns", "payment", "account", "privacy", "contact", "orders", "coupons",
    "shiping", "retruns",
)
"""The last two are typos people make from old links and typed URLs: they answer 404."""
HELP_MISSPELT = 2

SEARCH_WORDS: tuple[str, ...] = (
    "lamp", "desk", "chair", "phone case", "charger", "headphones", "backpack", "sneakers",
    "dress", "jacket", "tea", "coffee", "mug", "kettle", "rice cooker", "blender", "watch",
    "sunglasses", "wallet", "umbrella", "toys", "lego", "puzzle", "books", "notebook", "pen",
    "cushion", "curtain", "rug", "plant pot", "socks", "scarf", "gloves", "perfume", "lipstick",
    "shampoo", "towel", "bed sheet", "pillow", "laptop stand",
)
SEARCH_QUERIES: tuple[str, ...] = tuple(
    f"{word} {extra}".strip().replace(" ", "+")
    for word in SEARCH_WORDS for extra in ("", "cheap", "2026", "black", "gift", "sale")
)
"""URL-encoded queries; a query's results are a fixed function of its index."""


def person_exists(ids: I64) -> Bools:
    return (ids >= 1) & (ids <= PEOPLE) & (below(ids, SALT_PERSON, 100) >= 3)


def product_exists(pids: I64) -> Bools:
    return (pids >= 1) & (pids <= PRODUCTS) & (below(pids, SALT_PRODUCT, 100) >= 2)


def review_pages(pids: I64) -> I64:
    """How many review pages a product has (0 for products nobody reviewed)."""
    reviews = np.floor(np.exp(unit(pids, SALT_REVIEWS) * np.log(4001.0))).astype(np.int64) - 1
    pages = (reviews + PAGE_SIZE - 1) // PAGE_SIZE
    return np.where(product_exists(pids), pages, 0)


def review_count(pids: I64, pages: I64) -> I64:
    """Reviewers on a given page of a product: full pages, a partial last one, 0 past it."""
    total = np.floor(np.exp(unit(pids, SALT_REVIEWS) * np.log(4001.0))).astype(np.int64) - 1
    left = np.where(product_exists(pids), total, 0) - (pages - 1) * PAGE_SIZE
    return np.clip(left, 0, PAGE_SIZE) * (pages >= 1)


def reviewer(pids: I64, pages: I64, slot: I64) -> I64:
    """The person who wrote review `slot` on a page: a fixed function of where it sits."""
    key = (pids * 4096 + pages) * PAGE_SIZE + slot
    return below(key, SALT_REVIEWER, PEOPLE) + 1


def buyer(merchants: I64, pages: I64, slot: I64) -> I64:
    """The buyer in row `slot` of page `pages` of a merchant's order list."""
    key = (merchants * 4096 + pages) * ORDERS_PAGE + slot
    return below(key, SALT_BUYER, PEOPLE) + 1


def related(ids: I64, slot: I64) -> I64:
    """The profiles a profile page links to (`slot` 0-5): how people walk profile to profile."""
    return below(ids * 8 + slot, SALT_RELATED, PEOPLE) + 1


def related_one(person: int, slot: int) -> int:
    """`related` for one profile and slot."""
    return mix64_one(person * 8 + slot, SALT_RELATED) % PEOPLE + 1


def phone_owner(numbers: I64) -> I64:
    """Whose number this is on the platform (a person id), or 0 when nobody's."""
    hit = below(numbers, SALT_PHONE, 1000) < PHONE_HIT_PERMILLE
    owner = below(numbers, SALT_OWNER, PEOPLE) + 1
    return np.where(hit & person_exists(owner), owner, 0)


def search_shops(queries: I64) -> I64:
    """How many shops (people) a query's result page shows: 0 to 4."""
    return below(queries, SALT_SEARCH, 5)


def search_shop(queries: I64, slot: I64) -> I64:
    return below(queries * 8 + slot, SALT_SEARCH + 1, PEOPLE) + 1


def _live(ids: I64, exists: Callable[[I64], Bools], top: int) -> I64:
    """Step deleted ids to the next live one: links on live pages point at live things."""
    for _ in range(8):
        gone = ~exists(ids)
        if not gone.any():
            break
        ids = np.where(gone, ids % top + 1, ids)
    return ids


def popular_people(rng: np.random.Generator, n: int) -> I64:
    """Profiles people look at: active shops and reviewers are seen far more than the rest."""
    ids = np.floor(PEOPLE * rng.random(n) ** 2.5).astype(np.int64) + 1
    ids = (mix64(ids, SALT_PERSON + 100) % np.uint64(PEOPLE)).astype(np.int64) + 1
    return _live(ids, person_exists, PEOPLE)


def popular_products(rng: np.random.Generator, n: int) -> I64:
    """Product ids by popularity: low ids are the long-listed best sellers."""
    ids = np.floor(PRODUCTS * rng.random(n) ** 3).astype(np.int64) + 1
    return _live(ids, product_exists, PRODUCTS)


def gone(rng: np.random.Generator, n: int, exists: Callable[[I64], Bools], top: int) -> I64:
    """Ids of deleted things (stale links from old pages, bookmarks and shares)."""
    tries = rng.integers(1, top + 1, (n, 128))
    dead = ~exists(tries)
    return np.where(dead.any(axis=1), tries[np.arange(n), dead.argmax(axis=1)], top + 1)
