"""nginx's log lines over syslog (UDP): how the service hears what nginx served, as it serves.

`access_log syslog:server=127.0.0.1:7481,tag=scrapeguard,nohostname scrapeguard;` sends one
datagram per request when its response is done, carrying the status, the bytes and the
upstream's `X-Subjects` that the decision subrequest could not know. nginx never waits on it
(a lost datagram is one uncounted request, never a slow one), and the same format written to
a file is what `watch` and `analyze` read.
"""

from __future__ import annotations

import asyncio
import logging

from scrapeguard.service.events import BadEvent, decode, syslog_payload
from scrapeguard.service.state import Service

log = logging.getLogger("scrapeguard.service")


class SyslogReceiver(asyncio.DatagramProtocol):
    def __init__(self, service: Service) -> None:
        self.service = service

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        try:
            record = decode(syslog_payload(data))
        except BadEvent:
            self.service.metrics.event("syslog", "malformed")
            return
        self.service.submit_nginx(record)


def split_address(text: str) -> tuple[str, int]:
    """`127.0.0.1:7481` or `[::1]:7481` → (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"events_udp must be host:port, not {text!r}")
    return host.strip("[]"), int(port)


async def listen(service: Service, address: str) -> asyncio.DatagramTransport:
    host, port = split_address(address)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: SyslogReceiver(service), local_addr=(host, port))
    log.info("scrapeguard: nginx log lines on udp %s", address)
    return transport
