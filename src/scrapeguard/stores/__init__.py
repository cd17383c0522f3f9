"""State stores for the stream engine, picked by URI: `memory://` (default) or `redis://`."""

from __future__ import annotations

from urllib.parse import urlparse

from scrapeguard.errors import StoreError
from scrapeguard.stores.base import STORES, EventResult, EventUpdate, GroupUpdate, Store

__all__ = ["EventResult", "EventUpdate", "GroupUpdate", "Store", "open_store"]

_EXTRAS = {"redis": "live", "rediss": "live"}


def open_store(uri: str) -> Store:
    """A store for a URI; an unknown scheme or a missing driver is a clear error."""
    try:
        scheme = urlparse(uri).scheme or uri.rstrip(":/")
    except ValueError as exc:  # a broken [IPv6] host
        raise StoreError(f"store {uri!r} is not a URI ({exc})") from None
    if scheme not in STORES:
        try:
            if scheme in ("redis", "rediss"):
                from scrapeguard.stores import redis as _redis  # noqa: F401
            elif scheme == "memory":
                from scrapeguard.stores import memory as _memory  # noqa: F401
        except ImportError as exc:
            extra = _EXTRAS.get(scheme, "live")
            raise StoreError(
                f"store {uri!r} needs a driver that is not installed ({exc.name}); "
                f"install it with: pip install 'scrapeguard[{extra}]'"
            ) from None
    if scheme not in STORES:
        known = ", ".join(sorted({"memory", "redis", "rediss", *STORES}))
        raise StoreError(f"unknown store {uri!r}; use one of: {known} (e.g. memory://)")
    return STORES[scheme](uri)  # type: ignore[call-arg]
