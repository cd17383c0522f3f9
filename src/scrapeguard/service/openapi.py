"""Write the service's OpenAPI document: `python -m scrapeguard.service.openapi [PATH]`.

docs/openapi.json is this output, checked in so clients can be built without running the
service; a test fails when it differs from what the service serves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def document() -> dict[str, Any]:
    from scrapeguard.service.app import ROUTES, openapi_document

    return openapi_document(ROUTES)


def render() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/openapi.json")
    target.write_text(render(), encoding="utf-8")
