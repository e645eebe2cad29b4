"""``python -m autoplat``."""

from __future__ import annotations

from autoplat.cli import main

raise SystemExit(main())
