"""A harvester on one address, paced under every hourly bar, in a plain log with no accounts:
`exposure-daily` refuses it on the day its thousandth person is read, in both engines, and
leaves the heavy readers of the same day alone (a carrier NAT of app users, a moderator).

The shape came from a newcomer's community-site log: a profile card (`/u/<name>/card.json`)
every 2 to 30 s under a browser's agent took 1,400 people in six hours unseen, because the
day-long budgets were per account and a combined log names none. A federated server
fetching as many actor documents is left alone once the site's inbox has accepted a signed
delivery from it.
"""

from __future__ import annotations

import random
from pathlib import Path

from conformance_support import agreed, blocked_by
from logbuilder import CHROME, FIREFOX, SAFARI, Log

SITE = "https://community.example"
APP = "CommunityApp/4.2.1 (iPhone{model}; iOS 17.1; Scale/3.00)"
HARVESTER, NAT, MODERATOR = "203.0.113.77", "100.64.0.1", "198.51.9.9"
PEER, SHAM = "192.0.2.10", "192.0.2.20"
"""Two servers that fetch 2,500 people's actor documents each, one a federated server whose
deliveries the site's inbox accepts, one whose deliveries it refuses (unsigned: 401)."""


def _community_day(path: Path) -> Path:
    """Readers open threads with their assets and hover over a few names (the page's script
    fetches the card); a carrier NAT carries 60 app users, each refreshing feeds and opening
    threads and cards; a moderator opens 300 profiles; two servers naming themselves Mastodon
    fetch 2,500 actor documents each and deliver to the inbox now and then, one accepted and
    one refused; the harvester asks for one card every 2 to 30 s for twelve hours, under
    Chrome's agent, nothing else."""
    rng = random.Random(3)
    names = [f"member{n:05d}" for n in range(20_000)]
    popular = names[:400]
    log = Log()
    for r in range(700):
        ip, ua = f"198.51.{r // 200}.{10 + r % 200}", (CHROME, FIREFOX, SAFARI)[r % 3]
        at = rng.uniform(0, 20 * 3600)
        for _ in range(rng.randint(1, 3)):
            thread = f"/t/topic/{rng.randint(1, 90_000)}"
            log.hit(at, ip, thread, ua=ua, referer=SITE + "/latest", size=30_000)
            for k, asset in enumerate(("/assets/app.js", "/assets/app.css")):
                log.hit(at + 0.3 + 0.1 * k, ip, asset, ua=ua, referer=SITE + thread)
            for h in range(rng.randint(0, 3)):
                log.hit(at + 5 + 3 * h, ip, f"/u/{rng.choice(popular)}/card.json", ua=ua,
                        referer=SITE + thread, size=1_500)
            at += rng.uniform(40, 400)
    for u in range(60):
        ua, at = APP.format(model=f"{12 + u % 4},{u % 5}"), rng.uniform(0, 22 * 3600)
        for _ in range(rng.randint(8, 25)):
            log.hit(at, NAT, "/latest.json", ua=ua, size=9_000)
            log.hit(at + 2, NAT, f"/t/{rng.randint(1, 90_000)}.json", ua=ua, size=12_000)
            for h in range(rng.randint(0, 3)):
                log.hit(at + 6 + h, NAT, f"/u/{rng.choice(names)}/card.json", ua=ua, size=1_500)
            log.hit(at + 8, NAT, "/notifications.json", ua=ua, size=800)
            at += rng.uniform(60, 900)
    at = 3600.0
    for name in rng.sample(names, 300):
        log.hit(at, MODERATOR, f"/u/{name}", ua=FIREFOX, referer=SITE + "/admin/users",
                size=20_000)
        log.hit(at + 0.3, MODERATOR, "/assets/app.js", ua=FIREFOX, referer=SITE + f"/u/{name}")
        log.hit(at + 0.4, MODERATOR, f"/u/{name}/card.json", ua=FIREFOX,
                referer=SITE + f"/u/{name}", size=1_500)
        at += rng.uniform(20, 120)
    for ip, domain, answer in ((PEER, "peer.example", 202), (SHAM, "sham.example", 401)):
        agent, at = f"Mastodon/4.2.8 (http.rb/5.1.1; +https://{domain}/)", 600.0
        for n, name in enumerate(rng.sample(names, 2_500)):
            log.hit(at, ip, f"/users/{name}", ua=agent, size=4_000)
            if n % 25 == 0:
                log.hit(at + 1, ip, "/inbox", method="POST", status=answer, ua=agent, size=0)
            at += rng.uniform(5, 40)
    at = 1800.0
    for name in rng.sample(names, 5_000):
        if at > 12.5 * 3600:
            break
        log.hit(at, HARVESTER, f"/u/{name}/card.json", ua=CHROME, size=1_500)
        at += rng.uniform(2, 30)
    return log.write(path)


def test_a_paced_card_harvester_is_refused_on_its_thousandth_person(tmp_path: Path) -> None:
    decided = agreed(_community_day(tmp_path / "community.log"))
    harvester = blocked_by(decided, f"ip:{HARVESTER}", "exposure-daily")
    # Under every hourly bar it read some 220 people an hour: refused at the day's floor.
    assert harvester.subjects_before_action == 999, harvester
    assert not {f"ip:{NAT}", f"ip:{MODERATOR}", f"ip:{PEER}"} & set(decided), decided
    # The same fetches from a server the site's inbox never accepted: not a peer by its word.
    assert "exposure-daily" in decided[f"ip:{SHAM}"].rules, decided
    assert [actor for actor in decided if actor.startswith("ip:198.51.")] == [], decided
