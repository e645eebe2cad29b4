"""Reaching the platform from a request (set on the app at construction, no globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from autoplat.accounts.auth import Principal

if TYPE_CHECKING:
    from autoplat.platform import Platform


def get_platform(conn: HTTPConnection) -> Platform:
    """The platform that built this app."""
    platform: Platform = conn.app.state.platform
    return platform


async def current_principal(conn: HTTPConnection, permission: str | None = None) -> Principal:
    """The authenticated caller; with ``permission``, 403 unless the caller holds it."""
    principal = await get_platform(conn).auth.authenticate(conn.headers)
    if permission is not None:
        principal.require(permission)
    return principal
