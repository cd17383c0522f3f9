"""`scrapeguard serve`: the live engine as an HTTP service for sites that are not Python.

nginx (or any proxy with an auth subrequest) asks `/v1/decide` before each request and reports
what it served as JSON log lines over syslog (UDP, `events.py`); operators and tools use the
admin endpoints (`admin.py`), Prometheus scrapes `/metrics`. `build_app` takes further mounts,
so a dashboard lives in the same process and reads the same `Service` (see docs/service.md).
"""

from scrapeguard.service.app import build_app
from scrapeguard.service.config import ServiceConfig, load_config
from scrapeguard.service.state import Service

__all__ = ["Service", "ServiceConfig", "build_app", "load_config"]
