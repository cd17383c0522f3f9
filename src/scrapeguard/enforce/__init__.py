"""Live enforcement: ASGI and WSGI middleware, the actions, and the proof-of-work challenge.

```python
from scrapeguard.enforce import ScrapeGuardMiddleware
app.add_middleware(ScrapeGuardMiddleware, store="redis://localhost:6379/0")
```

See docs/live.md. Needs the `live` extra (starlette, redis, limits).
"""

from __future__ import annotations

from scrapeguard.enforce.asgi import ScrapeGuardMiddleware
from scrapeguard.enforce.base import Exposure
from scrapeguard.enforce.page import PASS_PATH
from scrapeguard.enforce.pow import PASS_COOKIE, solve
from scrapeguard.enforce.wsgi import ScrapeGuardWSGI

__all__ = ["PASS_COOKIE", "PASS_PATH", "Exposure", "ScrapeGuardMiddleware", "ScrapeGuardWSGI",
           "solve"]
