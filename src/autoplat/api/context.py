"""Reaching the platform from a request (set on the app at construction, no globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from autoplat.platform import Platform


def get_platform(conn: HTTPConnection) -> Platform:
    """The platform that built this app."""
    platform: Platform = conn.app.state.platform
    return platform
