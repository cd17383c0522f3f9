"""Scripted walks: harvesters that decide each next page in code rather than by a mix.

A `Script` collects one actor's page views (and which earlier view linked to each) and hands
them to `browse.fetch` as a plan, so a scripted harvester gets referers, cookies and assets
exactly as a browser-driven person does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from scrapeguard.simulate import site
from scrapeguard.simulate.browse import Plan
from scrapeguard.simulate.draws import I64, segments
from scrapeguard.simulate.site import Kind


@dataclass
class Script:
    """Page views in the order one actor makes them."""

    kind: list[int] = field(default_factory=list)
    a: list[int] = field(default_factory=list)
    b: list[int] = field(default_factory=list)
    source: list[int] = field(default_factory=list)

    def view(self, kind: Kind, a: int = 0, b: int = 1, linked_from: int = -1) -> int:
        """Add a page view; `linked_from` is the row of the page whose link it followed."""
        self.kind.append(int(kind))
        self.a.append(int(a))
        self.b.append(int(b))
        self.source.append(linked_from)
        return len(self.kind) - 1

    def __len__(self) -> int:
        return len(self.kind)

    def cut(self, n: int) -> None:
        """Keep the first `n` views."""
        del self.kind[n:], self.a[n:], self.b[n:], self.source[n:]


def review_walk(pids: I64, n: int, *, max_pages: int | None = None,
                product_first: bool = False) -> Script:
    """The first `n` requests of a walk through products' review pages, as item scrapers make
    it: (the product page,) every review page in turn (each linked from the one before), and
    after each page the profiles of its reviewers not taken before (each linked from the page).

    Built for all products at once: items are keyed by (product, page, slot) and sorted; a
    reviewer already taken on an earlier page is dropped by keeping first occurrences."""
    pages = site.review_pages(pids)
    if max_pages is not None:
        pages = np.minimum(pages, max_pages)
    page_of, page_pos = segments(pages)
    listed = site.review_count(pids[page_of], page_pos + 1)
    rev_page, slot = segments(listed)
    people = site.reviewer(pids[page_of[rev_page]], page_pos[rev_page] + 1, slot)
    first = np.zeros(len(people), dtype=bool)
    first[np.unique(people, return_index=True)[1]] = True
    rev_page, slot, people = rev_page[first], slot[first], people[first]
    heads = len(pids) if product_first else 0
    none = np.full(heads, -1, dtype=np.int64)
    kind = np.concatenate([np.full(heads, Kind.PRODUCT), np.full(len(page_of), Kind.REVIEWS),
                           np.full(len(people), Kind.PROFILE)]).astype(np.int64)
    a = np.concatenate([pids[:heads], pids[page_of], people])
    b = np.concatenate([np.ones(heads, np.int64), page_pos + 1, np.ones(len(people), np.int64)])
    product = np.concatenate([np.arange(heads), page_of, page_of[rev_page]])
    order = np.lexsort((np.concatenate([none, np.full(len(page_of), -1), slot]),
                        np.concatenate([none, page_pos, page_pos[rev_page]]), product))
    # Links, as item numbers: page 1 from the product (or nothing), page k from page k-1,
    # a profile from its page.
    page_item = heads + np.arange(len(page_of))
    from_page = np.where(page_pos > 0, page_item - 1, page_of if product_first else -1)
    source = np.concatenate([none, from_page, page_item[rev_page]])
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    source = np.where(source >= 0, position[np.maximum(source, 0)], -1)
    keep = order[:n]
    return Script(kind[keep].tolist(), a[keep].tolist(), b[keep].tolist(), source[keep].tolist())


def plan(scripts: Sequence[Script], ts: Sequence[npt.NDArray[Any]],
         visits: Sequence[I64]) -> Plan:
    """One plan from several actors' scripts, each view with its time and visit number
    (visit numbers global, non-decreasing within a script). A link from another visit is
    no link: that view is typed in (a new session starts from a bookmark)."""
    offsets = np.cumsum([0] + [len(s) for s in scripts])
    visit = np.concatenate([np.asarray(v, dtype=np.int64) for v in visits])
    source = np.concatenate([np.where(np.array(s.source) >= 0, np.array(s.source) + o, -1)
                             for s, o in zip(scripts, offsets, strict=False)]).astype(np.int64)
    first = np.r_[True, visit[1:] != visit[:-1]]
    starts = np.maximum.accumulate(np.where(first, np.arange(len(visit)), 0))
    source = np.where(first | (visit[np.maximum(source, 0)] != visit), -1, source)
    return Plan(
        visit=visit, pos=np.arange(len(visit)) - starts,
        kind=np.concatenate([np.array(s.kind, dtype=np.int64) for s in scripts]),
        a=np.concatenate([np.array(s.a, dtype=np.int64) for s in scripts]),
        b=np.concatenate([np.array(s.b, dtype=np.int64) for s in scripts]),
        ts=np.concatenate([np.asarray(t, dtype=np.int64) for t in ts]), source=source,
    )
