"""Words and query keys that say what a path serves, written once for RE2 (batch) and `re`.

Vocabulary is evidence, never a verdict on its own: a person route is one that names people
(`/user/`, `?phone=`), an item route one that names things for sale or to read. Behaviour and
the operator's declarations weigh in beside it (`learn.py`).
"""

from __future__ import annotations

ID_QUERY_KEYS = (
    "phone", "msisdn", "tel", "mobile", "email", "mail", "uid", "user", "user_id", "userid",
    "username", "profile", "profile_id", "member", "member_id", "account", "account_id",
    "handle", "author", "id", "pid", "item", "item_id", "product", "product_id", "sku",
)
"""Query keys whose value names one record; the first in the query string is the id."""

QUERY_ID = r"(?i)[?&](" + "|".join(ID_QUERY_KEYS) + r")=([^&#]+)"
"""Group 1 the key, group 2 its value."""

PERSON_WORDS = (
    "user", "users", "u", "profile", "profiles", "member", "members", "people", "person",
    "persons", "author", "authors", "account", "accounts", "contact", "contacts", "customer",
    "customers", "phone", "phones", "lookup", "friends", "followers", "following", "employee",
    "employees", "staff", "patient", "patients", "student", "students", "seller", "sellers",
    "reviewer", "reviewers", "msisdn", "email", "uid", "userid", "user_id", "username",
    "member_id", "profile_id", "handle", "tel", "mobile", "mail", "account_id", "review",
    "reviews", "comment", "comments",
)
"""Path segments and query keys that name people."""

ITEM_WORDS = (
    "product", "products", "p", "item", "items", "listing", "listings", "article", "articles",
    "post", "posts", "catalog", "catalogue", "shop", "store", "sku",
    "offer", "offers", "deal", "deals", "book", "books", "hotel", "hotels", "recipe", "recipes",
    "news", "blog", "story", "stories", "video", "videos", "movie", "movies",
    "doc", "docs", "wiki", "job", "jobs", "property", "properties", "ad",
    "ads", "car", "cars", "pid", "product_id", "item_id", "thread", "threads", "question",
    "questions", "discussion", "discussions", "forum", "forums",
)
"""Path segments and query keys that name catalogue items: things, not people."""

LISTING_WORDS = (
    "page", "pages", "paged", "archive", "archives", "feed", "search", "sitemap", "category",
    "categories", "tag", "tags", "topic", "topics", "comment-page", "offset", "year", "month",
)
"""Path segments of pagination and listings (`/page/7/`, `/tag/{n}`): many ids, no records."""

MEDIA_WORDS = (
    "media", "img", "image", "images", "thumb", "thumbs", "thumbnail", "thumbnails", "cache",
    "static", "assets", "asset", "photo", "photos", "pic", "pics", "picture", "pictures",
    "avatar", "avatars", "icon", "icons", "font", "fonts", "css", "js", "resize", "resized",
    "cdn", "uploads", "files", "file", "download", "downloads", "poster", "cover", "banner",
)
"""Path segments of images, scripts, styles and fonts served without a file extension."""

API_PREFIX = r"(?i)(^|/)(api|rest|graphql|ajax|rpc|json|v[0-9]+)(/|$)|\.json$"
"""A path that names an API rather than a page."""

ASSET_QUERY = (
    r"(?i)[?&](w|h|width|height|size|resize|fit|crop|dpr|quality|fm|format|thumb|scale)"
    r"=[0-9a-z]+(&|$)|[?&]q=[0-9]{1,3}(&|$)"
    r"|[?&][^=&#]+=[^&#]*\.(jpe?g|png|gif|webp|avif|svg|ico|css|js|woff2?)(&|$)"
)
"""A query value naming an image size or a file: `?w=200`, `?src=a/b.png`. `q` is an
image's quality only as a number: `/search?q=lamp` is a search."""


def word_pattern(words: tuple[str, ...]) -> str:
    """Any of `words` as a whole path segment or query key (case-insensitive)."""
    return r"(?i)(^|[/?&])(" + "|".join(words) + r")([/=?&.]|$)"
