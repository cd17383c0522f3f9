"""Where the real logs live in the repository, and how a test reads one as text.

The logs are copies of public logs nobody here wrote (provenance and licences in
tests/data/real/*/README.md), kept gzip-compressed; scrapeguard reads .gz directly.
"""

from __future__ import annotations

import gzip
from pathlib import Path

REAL = Path(__file__).parent / "data" / "real"
ELASTIC = REAL / "elastic-apache" / "access.log.gz"
WORDPRESS = REAL / "wordpress-blogs" / "access.log.gz"
TELCO = REAL / "telco-site" / "access.log.gz"
CROWDSEC = REAL / "crowdsec-hub" / "tests"
LOGS = {"elastic-apache": ELASTIC, "wordpress-blogs": WORDPRESS, "telco-site": TELCO}


def read_lines(path: Path, errors: str = "strict") -> list[str]:
    """The log's lines as text, whether or not it is compressed."""
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", errors=errors) as f:
            return f.read().splitlines()
    return path.read_text(encoding="utf-8", errors=errors).splitlines()
