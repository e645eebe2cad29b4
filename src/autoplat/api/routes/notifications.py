"""Routes of notification delivery: the unsubscribe link of every e-mail (no login).

Invariant: the token is the only credential of the unsubscribe route and it can do one thing,
turn e-mail off for its user; it reveals nothing about the user (the answer is the same
shape for every valid token, and 404 for an unknown one).
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import QueryModel, parse_query
from autoplat.errors import NotFound


class UnsubscribeQuery(QueryModel):
    """The token from the e-mail's link."""

    token: str = Field(min_length=16, max_length=64)


class UnsubscribeOut(BaseModel):
    """What the unsubscribe link did."""

    unsubscribed: bool


@endpoint(
    "GET",
    "/notifications/unsubscribe",
    query=UnsubscribeQuery,
    response=UnsubscribeOut,
    auth=False,
    errors=[404],
    summary="Stop notification e-mails (the link in every e-mail; no login)",
    tags=["notifications"],
)
async def unsubscribe(request: Request) -> UnsubscribeOut:
    """Turn every notification e-mail off for the token's user (in-app ones stay)."""
    query = parse_query(request, UnsubscribeQuery)
    if not await get_platform(request).notifications.unsubscribe(query.token):
        raise NotFound("this unsubscribe link is not valid")
    return UnsubscribeOut(unsubscribed=True)


def routes() -> list[BaseRoute]:
    """The notification-delivery routes."""
    return [unsubscribe]
