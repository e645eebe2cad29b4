"""Admin routes (``role: admin`` only) about users.

Other domains add their own admin routes in their own modules with
``@endpoint(..., admin=True, tags=["admin"])`` under ``/admin/<domain>/...``; the decorator
answers 403 to everyone else.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.accounts.schemas import UserOut
from autoplat.api.context import get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import page_of, paginated
from autoplat.errors import NotFound

TAGS = ["admin"]


@endpoint(
    "GET",
    "/admin/users",
    response=UserOut,
    paginated=True,
    admin=True,
    summary="List all users",
    tags=TAGS,
)
async def list_users(request: Request) -> dict[str, Any]:
    """Every user, oldest first."""
    page = page_of(request)
    users, total = await get_platform(request).db.users.list_users(
        offset=page.offset, limit=page.page_size
    )
    return paginated([UserOut.model_validate(u) for u in users], total, page)


@endpoint(
    "GET",
    "/admin/users/{user_id}",
    response=UserOut,
    admin=True,
    summary="Get any user",
    tags=TAGS,
)
async def get_user(request: Request) -> UserOut:
    """One user by id."""
    user_id = request.path_params["user_id"]
    user = await get_platform(request).db.users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id!r} not found")
    return UserOut.model_validate(user)


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [list_users, get_user]
