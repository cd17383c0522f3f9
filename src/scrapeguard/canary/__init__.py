"""Canary records: plant synthetic people per actor, then prove who took a leaked dataset.

```python
from scrapeguard.canary import CanaryBook, Injector
from scrapeguard.canary.asgi import CanaryASGI

book = CanaryBook("canaries.db")                 # made by `scrapeguard canary mint`
site = CanaryASGI(app, Injector(book), lists=["/api/reviews"], profile="/user/{id}")
app = ScrapeGuardMiddleware(site, decoy=site.decoy)
```

Then `scrapeguard trace leaked.csv --canaries canaries.db`. See docs/canary.md.
"""

from __future__ import annotations

from scrapeguard.canary.book import CanaryBook
from scrapeguard.canary.inject import Injector
from scrapeguard.canary.keys import CanaryError, actor_key
from scrapeguard.canary.mint import MintSpec, mint
from scrapeguard.canary.model import Canary
from scrapeguard.canary.trace import DEFAULT_THRESHOLD, TraceReport, attribute, trace

__all__ = ["DEFAULT_THRESHOLD", "Canary", "CanaryBook", "CanaryError", "Injector", "MintSpec",
           "TraceReport", "actor_key", "attribute", "mint", "trace"]
