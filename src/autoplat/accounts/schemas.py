"""Request and response models of the user, API key and admin routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from autoplat.accounts.permissions import Permission
from autoplat.api.validation import JsonEnum, StrictBody, StrictJsonInt, timezone_enum

NotificationName = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]


class UserOut(BaseModel):
    """A user as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str | None
    name: str | None
    role: str
    timezone: str
    created_at: datetime
    updated_at: datetime


class TimezoneOut(BaseModel):
    """The user's timezone (``not-set`` until chosen)."""

    timezone: str


class TimezoneIn(StrictBody):
    """A new timezone: an IANA name such as ``Europe/Berlin`` or ``UTC``."""

    timezone: str = Field(
        min_length=1, max_length=64, examples=["Europe/Berlin"], json_schema_extra=timezone_enum
    )


class NotificationPreferencesIn(StrictBody):
    """Which notifications the user wants, and how many emails a day at most."""

    email: str | None = Field(default=None, max_length=320)
    preferences: dict[NotificationName, bool] = Field(
        default_factory=dict, description="Notification type (e.g. LOW_BALANCE) -> wanted."
    )
    daily_limit: StrictJsonInt = Field(default=10, ge=0, le=10_000)


class NotificationPreferencesOut(BaseModel):
    """The stored notification preferences of a user."""

    user_id: str
    email: str | None = None
    preferences: dict[str, bool] = Field(default_factory=dict)
    daily_limit: int = 10

    @classmethod
    def from_document(cls, user_id: str, document: dict[str, Any]) -> NotificationPreferencesOut:
        """Read the preferences document stored on the user row (unknown keys ignored)."""
        prefs = document.get("preferences")
        limit = document.get("daily_limit")
        email = document.get("email")
        return cls(
            user_id=user_id,
            email=email if isinstance(email, str) else None,
            preferences={str(k): bool(v) for k, v in prefs.items()}
            if isinstance(prefs, dict)
            else {},
            daily_limit=limit if isinstance(limit, int) else 10,
        )


class ApiKeyOut(BaseModel):
    """An API key without its secret: ``prefix`` and ``tail`` identify it on screen."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    user_id: str
    name: str
    prefix: str = Field(description="The first characters of the key (they find it).")
    head: str = Field(description="A shorter start of the key, as AutoGPT shows it.")
    tail: str = Field(description="The last four characters of the key.")
    status: str = Field(description="ACTIVE, SUSPENDED or REVOKED.")
    permissions: list[Permission]
    description: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class CreateApiKeyIn(StrictBody):
    """A new API key: a name and the permissions it grants."""

    name: str = Field(min_length=1, max_length=200)
    permissions: list[Annotated[Permission, JsonEnum]] = Field(
        min_length=1, max_length=len(Permission)
    )
    description: str | None = Field(default=None, max_length=1000)


class CreateApiKeyOut(BaseModel):
    """The new key; ``plain_text_key`` is shown this once and cannot be recovered."""

    api_key: ApiKeyOut
    plain_text_key: str


class UpdatePermissionsIn(StrictBody):
    """The full new set of permissions of a key."""

    permissions: list[Annotated[Permission, JsonEnum]] = Field(
        min_length=1, max_length=len(Permission)
    )
