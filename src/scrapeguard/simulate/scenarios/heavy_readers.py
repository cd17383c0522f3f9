"""Staff and professionals who read many people's pages every working day: not harvests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from scrapeguard.simulate.browse import Walk, browse
from scrapeguard.simulate.draws import WORKWEEK
from scrapeguard.simulate.frame import Frame, concat
from scrapeguard.simulate.people import crowd, starts, visits
from scrapeguard.simulate.scenario import Context, Label, Scenario, register
from scrapeguard.simulate.site import Kind


@dataclass(frozen=True)
class Role:
    """One kind of heavy reader: how many, how often, how long, and how they move."""

    people: int
    visits_per_workday: float
    pages_per_visit: float
    walk: Walk
    bookmarked: bool = False
    """Every visit opens a bookmarked page (no referer): the moderation queue."""


ROLES: dict[str, Role] = {
    # Trust-and-safety staff working a queue of reported reviews: the queue (a staff-only
    # page the site answers only to them), the review page, then the reviewer's profile,
    # back to the queue. Many different people a day, each once or twice.
    "moderator": Role(30, 6.0, 40.0, Walk(
        mix=((Kind.REVIEWS, 35), (Kind.PROFILE, 55), (Kind.MOD_QUEUE, 6), (Kind.PRODUCT, 4)),
        entry=((Kind.MOD_QUEUE, 100),),
        think_median=20.0, think_sigma=0.9, follow_related=0.1, typed=0.05, stale=0.0),
        bookmarked=True),
    # Customer service: each ticket names a customer, whose profile is opened from the ticket
    # system (pasted: no referer), read, and left; a search now and then.
    "customer_service": Role(50, 8.0, 30.0, Walk(
        mix=((Kind.PROFILE, 60), (Kind.SEARCH, 10), (Kind.PRODUCT, 15), (Kind.HELP, 10),
             (Kind.HOME, 5)),
        entry=((Kind.HOME, 50), (Kind.PROFILE, 50)),
        think_median=25.0, think_sigma=1.0, follow_related=0.0, typed=0.6, stale=0.01)),
    # Recruiters and agencies: searches, then shop and seller profiles from the results and
    # from related links, hundreds a day.
    "recruiter": Role(25, 5.0, 50.0, Walk(
        mix=((Kind.SEARCH, 30), (Kind.PROFILE, 62), (Kind.HOME, 4), (Kind.PRODUCT, 4)),
        entry=((Kind.SEARCH, 70), (Kind.HOME, 30)),
        think_median=12.0, think_sigma=0.9, follow_related=0.35, typed=0.03, stale=0.0)),
}


@register
@dataclass(frozen=True)
class HeavyReaders(Scenario):
    """Moderators, customer-service agents and recruiters: logged in to their own accounts
    in a desktop browser (assets, cookies, referers), on working days in office hours, each
    reading one to three hundred people's pages a day — many of them people they never read
    before, unlike a merchant's buyers. What a rule on breadth or volume alone would refuse;
    the site needs every one of them. Moderators open the site's moderation queue
    (`/admin/reports`), a staff-only page, at the start of every visit and between reports:
    the site's own authorization says who they are. Not in the day's catalogue (`default`)
    yet."""

    name: ClassVar[str] = "heavy_readers"
    label: ClassVar[Label] = "human"
    client: ClassVar[str | None] = "own"
    default: ClassVar[bool] = False

    def generate(self, ctx: Context) -> Frame:
        rng = ctx.rng
        frames = []
        for role_name, role in ROLES.items():
            n = max(1, round(role.people * ctx.scale))
            people = crowd(ctx, f"{self.name}:{role_name}", n, logged_in=1.0, returning=1.0,
                           in_app=0.0, ipv6=0.1, vpn=0.05, strip_referer=0.02,
                           agents="desktop")
            at = starts(ctx, role.people * role.visits_per_workday, WORKWEEK)
            pages = np.minimum(rng.lognormal(np.log(role.pages_per_visit), 0.6, len(at)), 300)
            v = visits(ctx, people, at, pages.astype(np.int64) + 1, roam=0.1,
                       person=rng.integers(0, n, len(at)))
            if role.bookmarked:
                v.entry = np.full(len(v.entry), -1)  # the queue is bookmarked, not searched for
            frames.append(browse(ctx, v, role.walk))
        return concat(frames)
