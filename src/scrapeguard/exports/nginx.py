"""An nginx `geo` include: each banned address or network → its action, expiry in a comment.

nginx cannot expire a line by itself, so only bans that still stand are written; run the
export again (cron, a systemd timer) and `nginx -s reload` to drop the expired ones.
Use it in `http {}`:

    geo $scrapeguard_action { default ""; include /etc/nginx/scrapeguard-geo.conf; }

and in a `server` or `location`: `if ($scrapeguard_action = block) { return 403; }`,
`if ($scrapeguard_action ~ ^(throttle|challenge|decoy)$) { return 429; }`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from scrapeguard.decisions import format_ts
from scrapeguard.exports.source import Ban


def render(bans: Sequence[Ban], now: datetime) -> str:
    lines = [f"# scrapeguard decisions, {len(bans)} standing at {format_ts(now)}; "
             "regenerate to drop expired ones",
             "# include inside: geo $scrapeguard_action { default \"\"; include THIS_FILE; }"]
    for ban in bans:
        # Values are validated addresses and known action names; rule ids are [a-z0-9-].
        lines.append(f"{ban.value} {ban.action};  # until {format_ts(ban.expires)} "
                     f"({ban.seconds_left(now)}s) {' '.join(ban.rules)}")
    return "\n".join(lines) + "\n"
