"""`referer-spam` judged on time: a campaign of clients that each ask for one page and never
come back is acted on once its first page is old enough that a browser would have loaded the
page's assets; a referral of browsers, however bursty, is not.

Spam bots that visit once (one address, one page, a bare site root as referer) were missed
while the rule waited for a member to come back (`requests > ips`), which they never do.
"""

from __future__ import annotations

from pathlib import Path

from conformance_support import agreed
from logbuilder import CHROME, FIREFOX, SAFARI, Log
from scrapeguard.analysis import analyze
from test_rule_samples import DATA, FORM_BOT, readers

POLICY = str(DATA / "sample_policy.yaml")
THREAD = "https://forum.example/t/where-to-buy-lamps/4411"
ASSETS = ("/wp-content/themes/t/style.css", "/wp-includes/js/jquery.js",
          "/wp-content/uploads/2016/02/photo.jpg")


def one_page_spam(log: Log, host: str, start: float, step: float) -> list[str]:
    """Six networks, one home page each, `step` seconds apart, no asset, no return."""
    ips = [f"{60 + n}.20.{n}.{9 + n}" for n in range(6)]
    for n, ip in enumerate(ips):
        log.hit(start + step * n, ip, "/", referer=f"http://{host}/", ua=FORM_BOT, size=24_000)
    return ips


def test_a_campaign_of_one_page_visitors_is_acted_on_in_both_engines(tmp_path: Path) -> None:
    """Six one-page visits a minute apart from one advertised host: none loaded an asset in
    the minutes its page had, so the host is a spam campaign and each address a member."""
    log = Log()
    readers(log)
    ips = one_page_spam(log, "burger-shop.example", 900, 60)
    path = log.write(tmp_path / "one-page.log")
    campaign = "campaign:ref:burger-shop.example"
    decided = {d.actor: d for d in analyze([str(path)], policy=POLICY).decisions}
    assert campaign in decided, decided
    assert decided[campaign].rules == ["referer-spam"]
    assert {f"ip:{ip}" for ip in ips} <= set(decided[campaign].members or []), decided
    assert not [a for a in decided if a.startswith("ip:198.51.100.")], "a reader was acted on"
    assert campaign in agreed(path, POLICY)


def test_a_burst_younger_than_a_browsers_asset_load_is_not_judged(tmp_path: Path) -> None:
    """The same six one-page visits within ten seconds, and nothing after: the first page is
    too young to say its client would have loaded assets by now, so nothing is decided."""
    log = Log()
    readers(log)
    one_page_spam(log, "burger-shop.example", 900, 2)
    batch = agreed(log.write(tmp_path / "burst.log"), POLICY)
    assert not [a for a in batch if a.startswith("campaign:ref:")], batch


def test_a_forum_thread_sending_a_burst_of_browsers_is_left_alone(tmp_path: Path) -> None:
    """The near miss: a link posted in a busy thread brings nine browsers on nine networks
    within twenty seconds, all with the thread as referer. Each loads the page's assets a few
    seconds after the page (servers log the page first), some from a cache that already holds
    them; most read on, with this site's page as referer. Later the same day three readers
    come back to the thread's link with every asset cached: the page only. No referral
    campaign is acted on, and nobody it brought."""
    log = Log()
    readers(log)
    agents = (CHROME, FIREFOX, SAFARI)
    for n in range(9):
        ip, at = f"{70 + n}.33.{n}.{20 + n}", 1200 + 2.2 * n
        ua = agents[n % 3]
        log.hit(at, ip, "/2016/02/a-post/", referer=THREAD, ua=ua, size=24_000)
        for k, asset in enumerate(ASSETS[: 1 + n % 3]):  # a warm cache asks for fewer
            log.hit(at + 3 + 1.5 * k + n % 4, ip, asset,
                    referer="https://blog.example/2016/02/a-post/", ua=ua)
        if n % 3:
            log.hit(at + 90 + 7 * n, ip, "/2016/01/older/",
                    referer="https://blog.example/2016/02/a-post/", ua=ua, size=20_000)
    for n in range(3):  # returning readers, everything cached: the page only
        ip = f"{70 + n}.33.{n}.{20 + n}"
        log.hit(7000 + 300 * n, ip, "/2016/02/a-post/", referer=THREAD, ua=agents[n % 3],
                size=24_000)
    batch = agreed(log.write(tmp_path / "forum.log"), POLICY)
    assert not [a for a in batch if a.startswith("campaign:ref:")], batch
    assert not [a for a in batch if a.startswith("ip:")], batch


MONITOR = "Mozilla/5.0 (compatible; Uptimebot/1.0; +http://www.uptime.com/uptimebot)"


def test_a_monitor_naming_itself_is_no_referral_campaign(tmp_path: Path) -> None:
    """An uptime service checks the home page from six networks a minute apart, each check
    sending the service's own site as referer and loading nothing: the shape of one-page
    referer spam, but under an agent that names itself, which no statistics would count as a
    visitor, so no spammer would send it. No campaign; the same visits under a browser's
    agent still make one (the first test), so the agent is what spares them."""
    log = Log()
    readers(log)
    for n in range(6):
        log.hit(900 + 60 * n, f"{60 + n}.20.{n}.{9 + n}", "/", referer="http://uptime.example/",
                ua=MONITOR, size=24_000)
    batch = agreed(log.write(tmp_path / "monitor.log"), POLICY)
    assert not [a for a in batch if a.startswith("campaign:ref:")], batch
    assert not [a for a in batch if a.startswith("ip:")], batch
