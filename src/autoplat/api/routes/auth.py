"""Routes for POST /api/auth/user and the user's timezone and preferences."""

from __future__ import annotations

import functools
import zoneinfo

from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.accounts.schemas import (
    NotificationPreferencesIn,
    NotificationPreferencesOut,
    TimezoneIn,
    TimezoneOut,
    UserOut,
)
from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import parse_body
from autoplat.db.models import User
from autoplat.errors import NotAuthenticated, ValidationFailed

TAGS = ["auth"]


@functools.cache
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


async def _me(request: Request) -> User:
    principal = await current_principal(request)
    user = await get_platform(request).db.users.get(principal.user_id)
    if user is None:
        # Only if the user row was deleted after these credentials were issued.
        raise NotAuthenticated("the user of these credentials no longer exists")
    return user


@endpoint(
    "POST",
    "/auth/user",
    response=UserOut,
    permission="IDENTITY",
    summary="Get or create the calling user",
    tags=TAGS,
)
async def get_or_create_user(request: Request) -> UserOut:
    """The calling user's record; the first authenticated request created it."""
    return UserOut.model_validate(await _me(request))


@endpoint(
    "GET",
    "/auth/user/timezone",
    response=TimezoneOut,
    permission="IDENTITY",
    summary="Get the user's timezone",
    tags=TAGS,
)
async def get_timezone(request: Request) -> TimezoneOut:
    """The IANA timezone schedules and time blocks use for this user (``not-set`` = UTC)."""
    return TimezoneOut(timezone=(await _me(request)).timezone)


@endpoint(
    "POST",
    "/auth/user/timezone",
    body=TimezoneIn,
    response=TimezoneOut,
    permission="IDENTITY",
    summary="Set the user's timezone",
    tags=TAGS,
)
async def set_timezone(request: Request) -> TimezoneOut:
    """Store an IANA timezone name for the user."""
    principal = await current_principal(request)
    body = await parse_body(request, TimezoneIn)
    if body.timezone not in _timezones():
        raise ValidationFailed(
            f"unknown timezone {body.timezone!r}: expected an IANA name such as 'Europe/Berlin'",
            details=[{"field": "body.timezone", "message": "unknown IANA timezone"}],
        )
    await _me(request)
    await get_platform(request).db.users.set_timezone(principal.user_id, body.timezone)
    return TimezoneOut(timezone=body.timezone)


@endpoint(
    "GET",
    "/auth/user/preferences",
    response=NotificationPreferencesOut,
    permission="IDENTITY",
    summary="Get the user's notification preferences",
    tags=TAGS,
)
async def get_preferences(request: Request) -> NotificationPreferencesOut:
    """Which notifications the user receives."""
    user = await _me(request)
    return NotificationPreferencesOut.from_document(user.id, user.preferences or {})


@endpoint(
    "POST",
    "/auth/user/preferences",
    body=NotificationPreferencesIn,
    response=NotificationPreferencesOut,
    permission="IDENTITY",
    summary="Replace the user's notification preferences",
    tags=TAGS,
)
async def set_preferences(request: Request) -> NotificationPreferencesOut:
    """Store the user's notification preferences (the whole document)."""
    body = await parse_body(request, NotificationPreferencesIn)
    user = await _me(request)
    document = body.model_dump(mode="json")
    await get_platform(request).db.users.set_preferences(user.id, document)
    return NotificationPreferencesOut.from_document(user.id, document)


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [get_or_create_user, get_timezone, set_timezone, get_preferences, set_preferences]
