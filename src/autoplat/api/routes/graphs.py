"""Routes for graphs and their versions."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return []
