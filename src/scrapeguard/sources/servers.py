"""Fixed line formats real servers write: each one pattern and the roles of its groups.

- `vhost_combined`: Apache's `%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"`,
  and nginx's combined behind `$host` (the port is optional);
- `syslog_combined`: a combined line behind a syslog header, as nginx's `access_log syslog:`
  and rsyslog write it: RFC 3164 (`Dec  6 21:07:19 host nginx: `, host and `[pid]` optional,
  or rsyslog's RFC 3339 time instead) or RFC 5424 (`<190>1 2026-12-06T21:07:19+00:00 host nginx
  - - - `), `<PRI>` optional. The time is the combined line's own (it has a year and offset);
- `haproxy`: HAProxy's `option httplog`, with or without the syslog header;
- `alb`: AWS Application Load Balancer access logs (the request carries the full URL; the path
  and query are kept). `sent_bytes` is the bytes; `elb_status_code` the status.
"""

from __future__ import annotations

from scrapeguard.sources.base import register
from scrapeguard.sources.pattern import (
    ANY_TAIL,
    COMBINED_BODY,
    COMBINED_ROLES,
    QUOTED,
    PatternFormat,
)

SYSLOG_HEADER = (
    r"(?:<\d{1,3}>)?(?:"
    r"1 \S+ \S+ \S+ \S+ \S+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+)"  # RFC 5424, then SD
    r"|(?:[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}|\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))"
    r" (?:\S+ )?[^ :\[]+(?:\[\d+\])?:"  # RFC 3164: time, host, tag[pid]:
    r") +"
)
"""What syslog puts before the message (non-capturing)."""


class VhostCombined(PatternFormat):
    name = "vhost_combined"
    description = "Apache vhost_combined (%v:%p then combined), or nginx combined after $host"
    priority = 25
    pattern = r"\S+ " + COMBINED_BODY
    tail = ANY_TAIL
    roles = COMBINED_ROLES


class SyslogCombined(PatternFormat):
    name = "syslog_combined"
    description = "combined (or common) behind an RFC 3164 or RFC 5424 syslog header"
    priority = 25
    pattern = SYSLOG_HEADER + COMBINED_BODY
    tail = ANY_TAIL
    roles = COMBINED_ROLES


class Haproxy(PatternFormat):
    name = "haproxy"
    description = "HAProxy option httplog, with or without a syslog header"
    priority = 25
    pattern = (
        r"(?:" + SYSLOG_HEADER + r")?(\S+):\d+ \[(\d{2}/[A-Za-z]{3}/\d{4}:[0-9:]{8}\.\d{3})\] "
        r"\S+ \S+ \S+ (-?\d+) (\+?\d+) \S+ \S+ \S+ \S+ \S+(?: \{[^}]*\}){0,2} \"(.*)\""
    )
    roles = ("ip", "ts_ms", "status", "bytes", "request")
    others = (
        (r"(?:" + SYSLOG_HEADER + r")?\S+:\d+ \[[^\]]*\] \S+: .*",
         "a connection message (TLS handshake, aborted connection), not an HTTP request"),
        (r"(?:" + SYSLOG_HEADER + r")?(?:Proxy|Server|Backend|Connect from|Health check) .*",
         "a HAProxy status message, not an HTTP request"),
    )


class Alb(PatternFormat):
    name = "alb"
    description = "AWS Application Load Balancer access log"
    priority = 25
    absolute_urls = True
    pattern = (
        r"(?:https?|h2|grpcs|wss?) (\d{4}-\d{2}-\d{2}T[0-9:.]+Z) \S+ (\S+?):\d+ \S+ "
        r"\S+ \S+ \S+ (\d{3}|-) \S+ \d+ (\d+) \"" + QUOTED + r"\" \"" + QUOTED + r"\""
    )
    tail = ANY_TAIL
    roles = ("ts_iso", "ip", "status", "bytes", "request", "ua")


register(VhostCombined())
register(SyslogCombined())
register(Haproxy())
register(Alb())
