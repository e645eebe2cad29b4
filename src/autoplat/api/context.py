"""Reaching the platform from a request (set on the app at construction, no globals)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import HTTPConnection

from autoplat.accounts.auth import Principal

if TYPE_CHECKING:
    from autoplat.platform import Platform

_PRINCIPAL_KEY = "autoplat_principal"


def get_platform(conn: HTTPConnection) -> Platform:
    """The platform that built this app."""
    platform: Platform = conn.app.state.platform
    return platform


async def current_principal(conn: HTTPConnection, permission: str | None = None) -> Principal:
    """The authenticated caller; with ``permission``, 403 unless the caller holds it.

    The caller is authenticated once per request (``@endpoint`` does it first) and cached,
    so handlers may call this freely.
    """
    state = conn.scope.setdefault("state", {})
    principal = state.get(_PRINCIPAL_KEY)
    if not isinstance(principal, Principal):
        principal = await get_platform(conn).auth.authenticate(conn.headers)
        state[_PRINCIPAL_KEY] = principal
    if permission is not None:
        principal.require(permission)
    return principal


async def ensure_graph_visible(conn: HTTPConnection, user_id: str, graph_id: str) -> None:
    """GraphNotFound (404) unless ``user_id`` owns graph ``graph_id``.

    For list routes under ``/graphs/{graph_id}/...``: an empty list would otherwise answer
    200 for another user's graph, where every other route answers 404.
    """
    from autoplat.errors import GraphNotFound

    if await get_platform(conn).db.graphs.get(graph_id, user_id=user_id) is None:
        raise GraphNotFound(f"graph {graph_id} not found")
