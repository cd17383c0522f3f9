"""Route understanding: what each path template of a site is, learned before any rule runs.

A template is a page, a sub-resource (image, script, thumbnail), an API call, a write or
telemetry, a preflight, or a record route that serves one record per id — of a person or of a
catalogue item. Declared routes (the policy) win; the rest is learned from the log's own
behaviour, each class with its evidence and a confidence (`learn.py`).
"""

from scrapeguard.routes.model import LearnedRoute, RouteTable

__all__ = ["LearnedRoute", "RouteTable"]
