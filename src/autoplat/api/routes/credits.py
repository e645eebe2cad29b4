"""Routes for credits: the caller's balance, ledger and notifications; admin grants and refunds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from starlette.requests import Request
from starlette.routing import BaseRoute

from autoplat.api.context import current_principal, get_platform
from autoplat.api.endpoint import endpoint
from autoplat.api.validation import (
    JsonDateTime,
    QueryBool,
    QueryModel,
    StrictBody,
    StrictJsonInt,
    page_of,
    paginated,
    parse_body,
    parse_query,
)
from autoplat.credits.ledger import Posting, TransactionType
from autoplat.errors import NotFound

_TAGS = ["credits"]
#: The largest single grant or top-up (keeps balances far from integer limits).
MAX_GRANT = 1_000_000_000


class CreditsOut(BaseModel):
    """The caller's balance."""

    credits: int
    enabled: bool = Field(description="false when the operator turned credits off")


class TransactionOut(BaseModel):
    """One ledger entry; USAGE amounts are negative."""

    id: str
    user_id: str
    type: TransactionType
    amount: int
    running_balance: int = Field(description="the balance right after this entry")
    idempotency_key: str
    is_active: bool
    metadata: dict[str, Any]
    created_at: datetime


class PostingOut(BaseModel):
    """The entry an admin operation recorded (or found, when repeated) and the new balance."""

    transaction: TransactionOut
    created: bool = Field(description="false when the idempotency key was already used")
    balance: int


class TransactionQuery(QueryModel):
    """Filters of ``GET /credits/transactions``."""

    type: list[TransactionType] | None = Field(
        default=None, description="comma-separated types, e.g. USAGE,REFUND"
    )
    since: JsonDateTime | None = Field(
        default=None, description="created at or after (RFC 3339, e.g. 2026-01-31T00:00:00Z)"
    )
    until: JsonDateTime | None = Field(default=None, description="created before (RFC 3339)")

    @field_validator("type", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().upper() for part in value.split(",") if part.strip()]
        return value

    @field_validator("since", "until")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("date is out of range") from None


class NotificationQuery(QueryModel):
    """Filters of ``GET /notifications``."""

    unread_only: QueryBool = False
    type: str | None = Field(default=None, max_length=32)


class NotificationOut(BaseModel):
    """Something the platform told the user (LOW_BALANCE, ZERO_BALANCE, ...)."""

    id: str
    type: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class GrantBody(StrictBody):
    """Body of ``POST /admin/credits/grant``."""

    user_id: str = Field(min_length=1, max_length=64)
    amount: StrictJsonInt = Field(ge=1, le=MAX_GRANT)
    type: Literal["GRANT", "TOP_UP"] = "GRANT"
    reason: str = Field(default="", max_length=500)
    idempotency_key: str | None = Field(
        default=None, min_length=1, max_length=150, description="repeat-safe: same key, one entry"
    )


class RefundBody(StrictBody):
    """Body of ``POST /admin/credits/refund``."""

    transaction_id: str = Field(min_length=1, max_length=36)
    reason: str = Field(default="", max_length=500)


@endpoint(
    "GET",
    "/credits",
    summary="Your credit balance",
    tags=_TAGS,
    permission="READ_CREDITS",
    response=CreditsOut,
)
async def get_credits(request: Request) -> CreditsOut:
    """The caller's balance (after any monthly refill due)."""
    principal = await current_principal(request)
    credits = get_platform(request).credits
    return CreditsOut(credits=await credits.balance(principal.user_id), enabled=credits.enabled)


@endpoint(
    "GET",
    "/credits/transactions",
    summary="Your credit transactions",
    tags=_TAGS,
    permission="READ_CREDITS",
    query=TransactionQuery,
    paginated=True,
    response=TransactionOut,
)
async def list_transactions(request: Request) -> dict[str, Any]:
    """The caller's ledger, newest first, filtered by type and time."""
    principal = await current_principal(request)
    return await _transactions_page(request, principal.user_id)


@endpoint(
    "GET",
    "/notifications",
    summary="Your notifications",
    tags=["notifications"],
    permission="IDENTITY",
    query=NotificationQuery,
    paginated=True,
    response=NotificationOut,
)
async def list_notifications(request: Request) -> dict[str, Any]:
    """The caller's notifications, newest first."""
    principal = await current_principal(request)
    query = parse_query(request, NotificationQuery)
    page = page_of(request)
    items, total = await get_platform(request).db.notifications.list_for(
        principal.user_id,
        type=query.type,
        unread_only=query.unread_only,
        offset=page.offset,
        limit=page.page_size,
    )
    return paginated(items, total, page)


@endpoint(
    "POST",
    "/notifications/{notification_id}/read",
    summary="Mark a notification read",
    tags=["notifications"],
    permission="IDENTITY",
    status=204,
)
async def mark_notification_read(request: Request) -> None:
    """Mark one of the caller's notifications read."""
    principal = await current_principal(request)
    notification_id = str(request.path_params["notification_id"])
    if not await get_platform(request).db.notifications.mark_read(
        principal.user_id, notification_id
    ):
        raise NotFound(f"notification {notification_id} does not exist")


async def _posting_out(request: Request, posting: Posting) -> PostingOut:
    balance = await get_platform(request).db.credits.balance(posting.transaction.user_id)
    return PostingOut.model_validate(
        {
            "transaction": posting.transaction.to_json(),
            "created": posting.created,
            "balance": balance,
        }
    )


@endpoint(
    "POST",
    "/admin/credits/grant",
    summary="Grant or top up a user's credits (admin)",
    tags=["admin"],
    admin=True,
    body=GrantBody,
    response=PostingOut,
    errors=[404],
)
async def grant_credits(request: Request) -> PostingOut:
    """Add credits to a user as a GRANT or TOP_UP; ``idempotency_key`` makes it repeat-safe."""
    principal = await current_principal(request)
    body = await parse_body(request, GrantBody)
    posting = await get_platform(request).credits.add_credits(
        body.user_id,
        body.amount,
        type=TransactionType(body.type),
        reason=body.reason,
        key=f"admin:{body.idempotency_key}" if body.idempotency_key else None,
        by=principal.user_id,
    )
    return await _posting_out(request, posting)


@endpoint(
    "POST",
    "/admin/credits/refund",
    summary="Refund a usage transaction (admin)",
    tags=["admin"],
    admin=True,
    body=RefundBody,
    response=PostingOut,
    errors=[404, 409],
)
async def refund_transaction(request: Request) -> PostingOut:
    """Give back the credits of a USAGE entry; a second refund returns the first."""
    principal = await current_principal(request)
    body = await parse_body(request, RefundBody)
    posting = await get_platform(request).credits.refund(
        body.transaction_id, reason=body.reason, by=principal.user_id
    )
    return await _posting_out(request, posting)


class UserCreditsOut(BaseModel):
    """A user's balance as an admin sees it, with the ledger check."""

    user_id: str
    credits: int
    ledger_sum: int = Field(description="sum of the active ledger entries; equals credits")


@endpoint(
    "GET",
    "/admin/credits/{user_id}",
    summary="A user's credit balance (admin)",
    tags=["admin"],
    admin=True,
    errors=[404],
    response=UserCreditsOut,
)
async def get_user_credits(request: Request) -> UserCreditsOut:
    """Any user's balance and the sum of their ledger."""
    user_id = str(request.path_params["user_id"])
    platform = get_platform(request)
    await _require_user(request, user_id)
    return UserCreditsOut(
        user_id=user_id,
        credits=await platform.credits.balance(user_id),
        ledger_sum=await platform.db.credits.ledger_sum(user_id),
    )


@endpoint(
    "GET",
    "/admin/credits/{user_id}/transactions",
    summary="A user's credit transactions (admin)",
    tags=["admin"],
    admin=True,
    errors=[404],
    query=TransactionQuery,
    paginated=True,
    response=TransactionOut,
)
async def list_user_transactions(request: Request) -> dict[str, Any]:
    """Any user's ledger, newest first, with the same filters as the caller's own."""
    user_id = str(request.path_params["user_id"])
    await _require_user(request, user_id)
    return await _transactions_page(request, user_id)


async def _require_user(request: Request, user_id: str) -> None:
    if await get_platform(request).db.users.get(user_id) is None:
        raise NotFound(f"user {user_id} does not exist")


async def _transactions_page(request: Request, user_id: str) -> dict[str, Any]:
    query = parse_query(request, TransactionQuery)
    page = page_of(request)
    items, total = await get_platform(request).db.credits.list_transactions(
        user_id,
        types=query.type or (),
        since=query.since,
        until=query.until,
        offset=page.offset,
        limit=page.page_size,
    )
    return paginated([t.to_json() for t in items], total, page)


def routes() -> list[BaseRoute]:
    """The routes of this module, relative to /api."""
    return [
        get_credits,
        list_transactions,
        list_notifications,
        mark_notification_read,
        grant_credits,
        refund_transaction,
        get_user_credits,
        list_user_transactions,
    ]
