"""Fixed line formats real servers write: each one pattern and the roles of its groups.

- `vhost_combined`: Apache's `%v:%p %h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i"`,
  and nginx's combined behind `$host` (the port is optional);
- `syslog_combined`: a combined line behind a syslog header, as nginx's `access_log syslog:`
  and rsyslog write it: RFC 3164 (`Dec  6 21:07:19 host nginx: `, host and `[pid]` optional,
  or rsyslog's RFC 3339 time instead) or RFC 5424 (`<190>1 2026-12-06T21:07:19+00:00 host nginx
  - - - `), `<PRI>` optional. The time is the combined line's own (it has a year and offset);
- `haproxy`: HAProxy's `option httplog`, with or without the syslog header;
- `alb`: AWS Application Load Balancer access logs (the request carries the full URL; the path
  and query are kept). `sent_bytes` is the bytes; `elb_status_code` the status;
- `envoy`: Envoy's default access log format (plain Envoy, and ingresses built on it that keep
  it, such as Contour by default; Istio writes its own, `istio`). It holds no
  peer address: the client is the right-most X-Forwarded-For entry, which an edge Envoy
  (`use_remote_address: true`) appends with the address it accepted the connection from, so
  it is the peer that combined logs as `$remote_addr`; with `trusted_proxies` the client is then
  the right-most untrusted entry, as in every format (`sources.xff`). Envoy does not escape
  double quotes in the headers it logs, so a line with more quotes than the format writes has
  no sure boundaries (an X-Forwarded-For of `6.6.6.6" "x` would pass for the client) and is
  malformed, saying so, rather than read the attacker's way;
- `istio`: Istio's own default (`meshConfig.accessLogEncoding: TEXT`, no `accessLogFormat`):
  Envoy's fields plus the response and connection details, the upstream, and the addresses,
  among them `DOWNSTREAM_REMOTE_ADDRESS`, the peer (its port dropped), so X-Forwarded-For is
  used with `trusted_proxies` exactly as combined's.
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


_ENVOY_TIME = r"\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})"
_QUOTES = ("more double quotes than the format writes: a header held one, and Envoy does not "
           "escape them, so the fields cannot be told apart")


class Envoy(PatternFormat):
    name = "envoy"
    description = "Envoy's default access log format (plain Envoy, Contour)"
    priority = 25
    pattern = (
        r"\[(" + _ENVOY_TIME + r")\] \"([^\"]*)\" (\d+|-) \S+ (?:\d+|-) (\d+|-) (?:\d+|-) \S+ "
        r"\"((?:[^\"]*,)? *([^\", ]*) *)\" \"([^\"]*)\" \"[^\"]*\" \"[^\"]*\" \"[^\"]*\""
    )
    roles = ("ts_iso", "request", "status", "bytes", "xff", "ip", "ua")
    no_ip = ("no X-Forwarded-For, the only place Envoy's default format logs the client "
             "(a TCP connection, or an Envoy that neither is the edge nor is behind a proxy)")
    others = ((r"\[" + _ENVOY_TIME + r"\] \".*\"", _QUOTES),)
    examples = (
        '[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 '
        '"192.0.2.7, 10.0.35.28" "nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" '
        '"locations" "tcp://10.0.2.1:80"',
    )
    """Seeds for `tests/fuzzing.py`: the example line of Envoy's documentation."""


class Istio(PatternFormat):
    name = "istio"
    description = "Istio's default access log format (sidecars and gateways, TEXT encoding)"
    priority = 25
    pattern = (
        r"\[(" + _ENVOY_TIME + r")\] \"([^\"]*)\" (\d+|-) \S+ \S+ \S+ \"[^\"]*\" (?:\d+|-) (\d+|-) "
        r"(?:\d+|-) \S+ \"([^\"]*)\" \"([^\"]*)\" \"[^\"]*\" \"[^\"]*\" \"[^\"]*\" \S+ \S+ \S+ "
        r"(?:\[?([0-9A-Fa-f.:]+?)\]?(?::\d+)?|\S+) \S+ \S+"
    )
    roles = ("ts_iso", "request", "status", "bytes", "xff", "ua", "ip")
    no_ip = "DOWNSTREAM_REMOTE_ADDRESS is no IP address (a connection over a Unix socket)"
    others = ((r"\[" + _ENVOY_TIME + r"\] \".*\"(?: [^ \"]+){6}", _QUOTES),)
    examples = (
        '[2020-11-25T21:26:18.409Z] "GET /status/418 HTTP/1.1" 418 - via_upstream - "-" 0 135 '
        '4 4 "-" "curl/7.73.0-DEV" "84961386-6d84-929d-98bd-c5aee93b5c88" "httpbin:8000" '
        '"10.44.1.27:80" outbound|8000||httpbin.foo.svc.cluster.local 10.44.1.23:37652 '
        '10.0.45.184:8000 10.44.1.23:46520 - default',
    )
    """Seeds for `tests/fuzzing.py`: the example line of Istio's documentation."""


register(VhostCombined())
register(SyslogCombined())
register(Haproxy())
register(Alb())
register(Envoy())
register(Istio())
