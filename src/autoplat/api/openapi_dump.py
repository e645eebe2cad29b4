"""``python -m autoplat.api.openapi_dump [FILE]``: write this build's ``/openapi.json``.

The web app's API types are generated from it (``make ui``), so they describe exactly the
routes the server has. The platform is only constructed (nothing starts, no database).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from autoplat.api.openapi import build_openapi
from autoplat.config import Settings
from autoplat.platform import Platform


def document() -> dict[str, Any]:
    """The OpenAPI document the server serves at ``/openapi.json``."""
    platform = Platform(Settings(database_url="sqlite+aiosqlite:///:memory:"))
    return build_openapi(list(platform.app.routes))


def main(argv: list[str] | None = None) -> int:
    """Write the document to the file named, or to stdout."""
    args = sys.argv[1:] if argv is None else argv
    text = json.dumps(document(), indent=1, sort_keys=True) + "\n"
    if args:
        Path(args[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
