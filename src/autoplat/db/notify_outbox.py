"""Data methods of notification delivery: dedupe keys, the e-mail outbox, batches, state.

Invariant: a notification keyed by an event is recorded once (its key row is inserted in the
same transaction, and a conflict records nothing); an e-mail row is claimed by one
conditional UPDATE (PENDING -> SENDING), so one process sends it, and counted against the
user's daily limit under a per-user lock, so the limit holds across processes; a batch
takes its waiting deliveries by one UPDATE of ``email_id IS NULL`` rows, so no notification
joins two batches.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from sqlalchemy import Row, Table, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from autoplat.db.models import Notification
from autoplat.db.models.notify import (
    NotificationDelivery,
    NotificationEmail,
    NotificationKey,
    NotificationUserState,
)
from autoplat.db.notifications import announce, notification_json
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

NOTIFICATIONS = cast(Table, Notification.__table__)
KEYS = cast(Table, NotificationKey.__table__)
EMAILS = cast(Table, NotificationEmail.__table__)
DELIVERIES = cast(Table, NotificationDelivery.__table__)
STATE = cast(Table, NotificationUserState.__table__)


@dataclass(frozen=True, slots=True)
class EmailDraft:
    """A rendered e-mail, ready to be written to the outbox."""

    kind: str
    to_address: str
    subject: str
    body_text: str
    body_html: str


@dataclass(frozen=True, slots=True)
class OutboxEmail:
    """An e-mail row as the sender reads it."""

    id: str
    user_id: str
    kind: str
    to_address: str
    subject: str
    body_text: str
    body_html: str
    attempts: int


def _email(row: Row[Any]) -> OutboxEmail:
    return OutboxEmail(
        row.id,
        row.user_id,
        row.kind,
        row.to_address,
        row.subject,
        row.body_text,
        row.body_html,
        row.attempts,
    )


class NotificationOutboxStore:
    """Data methods of notification delivery (``db.outbox``)."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    def _insert(self, table: Table) -> Any:
        return (pg_insert if self.db.is_postgres else sqlite_insert)(table)

    async def record(
        self,
        user_id: str,
        type: str,
        data: Mapping[str, Any],
        *,
        key: str | None = None,
        batched: bool = False,
        email: EmailDraft | None = None,
    ) -> dict[str, Any] | None:
        """Record a notification (and its delivery); None when ``key`` was recorded before."""
        now = utcnow()
        notification_id = str(uuid.uuid4())
        async with self.db.begin() as conn:
            if key is not None:
                inserted = await conn.execute(
                    self._insert(KEYS)
                    .values(key=key, notification_id=notification_id, created_at=now)
                    .on_conflict_do_nothing()
                )
                if inserted.rowcount != 1:
                    return None
            values = {
                "id": notification_id,
                "user_id": user_id,
                "type": type,
                "data": dict(data),
                "created_at": now,
                "read_at": None,
            }
            await conn.execute(NOTIFICATIONS.insert().values(**values))
            await announce(conn, user_id, notification_id)
            if batched:
                await conn.execute(
                    DELIVERIES.insert().values(
                        notification_id=notification_id, user_id=user_id, type=type, created_at=now
                    )
                )
            elif email is not None:
                await conn.execute(EMAILS.insert().values(**self._email_values(user_id, email)))
            row = (
                await conn.execute(
                    select(NOTIFICATIONS).where(NOTIFICATIONS.c.id == notification_id)
                )
            ).one()
        return notification_json(row)

    @staticmethod
    def _email_values(user_id: str, email: EmailDraft) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "user_id": user_id,
            "kind": email.kind,
            "to_address": email.to_address,
            "subject": email.subject,
            "body_text": email.body_text,
            "body_html": email.body_html,
            "status": "PENDING",
            "attempts": 0,
            "created_at": utcnow(),
        }

    async def add_email(self, user_id: str, email: EmailDraft) -> str:
        """Queue one e-mail; return its id."""
        values = self._email_values(user_id, email)
        async with self.db.begin() as conn:
            await conn.execute(EMAILS.insert().values(**values))
        return str(values["id"])

    # --- batches ------------------------------------------------------------------------

    async def users_with_due_batch(self, oldest_before: datetime) -> list[str]:
        """Users whose oldest waiting delivery is older than ``oldest_before``."""
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(DELIVERIES.c.user_id)
                .where(DELIVERIES.c.email_id.is_(None))
                .group_by(DELIVERIES.c.user_id)
                .having(func.min(DELIVERIES.c.created_at) <= oldest_before)
            )
            return [str(r.user_id) for r in rows]

    async def take_batch(
        self,
        user_id: str,
        render: Callable[[list[dict[str, Any]]], EmailDraft | None],
    ) -> str | None:
        """Give the user's waiting deliveries to one new e-mail (rendered by ``render``).

        ``render`` gets the notifications (oldest first) and may answer None (nobody to
        write to): the deliveries are then closed without an e-mail.
        """
        email_id = str(uuid.uuid4())
        async with self.db.begin() as conn:
            taken = await conn.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.user_id == user_id, DELIVERIES.c.email_id.is_(None))
                .values(email_id=email_id)
            )
            if taken.rowcount == 0:
                return None
            rows = await conn.execute(
                select(NOTIFICATIONS)
                .join(DELIVERIES, DELIVERIES.c.notification_id == NOTIFICATIONS.c.id)
                .where(DELIVERIES.c.email_id == email_id)
                .order_by(NOTIFICATIONS.c.created_at, NOTIFICATIONS.c.id)
            )
            draft = render([notification_json(r) for r in rows])
            if draft is None:
                return None
            values = {**self._email_values(user_id, draft), "id": email_id}
            await conn.execute(EMAILS.insert().values(**values))
        return email_id

    # --- the outbox ---------------------------------------------------------------------

    async def pending(self, limit: int = 100) -> list[tuple[str, str]]:
        """E-mails waiting to be sent, oldest first, as (email id, user id)."""
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(EMAILS.c.id, EMAILS.c.user_id)
                .where(EMAILS.c.status == "PENDING")
                .order_by(EMAILS.c.created_at)
                .limit(limit)
            )
            return [(str(r.id), str(r.user_id)) for r in rows]

    async def claim_within_limit(
        self, email_id: str, user_id: str, now: datetime, *, daily_limit: int, since: datetime
    ) -> OutboxEmail | Literal["limited"] | None:
        """Take one PENDING e-mail of ``user_id`` for sending if the daily limit allows it.

        The user's e-mails SENT since ``since`` and those SENDING now (in any process) use
        up the limit; when it is used up the e-mail is SKIPPED and "limited" returned. The
        count and the claim are one transaction serialised per user (the user's state row
        is locked on PostgreSQL; SQLite's BEGIN IMMEDIATE serialises every writer), so two
        processes sending for one user at once never pass the limit between them. None: the
        e-mail was not PENDING (another process took it).
        """
        async with self.db.begin() as conn:
            await self._ensure_state(conn, user_id)
            if self.db.is_postgres:
                await conn.execute(
                    select(STATE.c.user_id).where(STATE.c.user_id == user_id).with_for_update()
                )
            used = await conn.scalar(
                select(func.count())
                .select_from(EMAILS)
                .where(
                    EMAILS.c.user_id == user_id,
                    or_(
                        EMAILS.c.status == "SENDING",
                        and_(EMAILS.c.status == "SENT", EMAILS.c.sent_at >= since),
                    ),
                )
            )
            mine = (EMAILS.c.id == email_id, EMAILS.c.user_id == user_id)
            if int(used or 0) >= daily_limit:
                skipped = await conn.execute(
                    update(EMAILS)
                    .where(*mine, EMAILS.c.status == "PENDING")
                    .values(status="SKIPPED", last_error="daily limit reached")
                )
                return "limited" if skipped.rowcount == 1 else None
            claimed = await conn.execute(
                update(EMAILS)
                .where(*mine, EMAILS.c.status == "PENDING")
                .values(status="SENDING", claimed_at=now, attempts=EMAILS.c.attempts + 1)
            )
            if claimed.rowcount != 1:
                return None
            row = (await conn.execute(select(EMAILS).where(EMAILS.c.id == email_id))).one()
        return _email(row)

    async def claim(self, email_id: str, now: datetime) -> OutboxEmail | None:
        """Take one PENDING e-mail for sending (None when another process took it)."""
        async with self.db.begin() as conn:
            claimed = await conn.execute(
                update(EMAILS)
                .where(EMAILS.c.id == email_id, EMAILS.c.status == "PENDING")
                .values(status="SENDING", claimed_at=now, attempts=EMAILS.c.attempts + 1)
            )
            if claimed.rowcount != 1:
                return None
            row = (await conn.execute(select(EMAILS).where(EMAILS.c.id == email_id))).one()
        return _email(row)

    async def finish(
        self, email_id: str, status: str, *, error: str | None = None, now: datetime | None = None
    ) -> None:
        """Record an attempt's outcome: SENT, SKIPPED, FAILED, or PENDING (retry later)."""
        values: dict[str, Any] = {"status": status, "last_error": error}
        if status == "SENT":
            values["sent_at"] = now or utcnow()
        async with self.db.begin() as conn:
            await conn.execute(
                update(EMAILS)
                .where(EMAILS.c.id == email_id, EMAILS.c.status == "SENDING")
                .values(**values)
            )

    async def abandon_stale(self, claimed_before: datetime) -> int:
        """SENDING e-mails whose sender vanished: their outcome is unknown, so never resent."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(EMAILS)
                .where(EMAILS.c.status == "SENDING", EMAILS.c.claimed_at < claimed_before)
                .values(status="FAILED", last_error="sender stopped mid-send; not retried")
            )
        return int(result.rowcount or 0)

    async def emails_for(self, user_id: str) -> list[dict[str, Any]]:
        """The user's outbox, oldest first (for tests and operators)."""
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(EMAILS.c.id, EMAILS.c.kind, EMAILS.c.status, EMAILS.c.attempts)
                .where(EMAILS.c.user_id == user_id)
                .order_by(EMAILS.c.created_at)
            )
            return [dict(r._mapping) for r in rows]

    async def recorded_since(
        self, user_ids: list[str], since: datetime, limit: int = 500
    ) -> list[dict[str, Any]]:
        """Notifications of these users recorded at or after ``since``, oldest first."""
        if not user_ids:
            return []
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(NOTIFICATIONS)
                .where(NOTIFICATIONS.c.user_id.in_(user_ids), NOTIFICATIONS.c.created_at >= since)
                .order_by(NOTIFICATIONS.c.created_at, NOTIFICATIONS.c.id)
                .limit(limit)
            )
            return [{**notification_json(r), "user_id": r.user_id} for r in rows]

    # --- per-user state -----------------------------------------------------------------

    async def _ensure_state(self, conn: Any, user_id: str) -> None:
        await conn.execute(
            self._insert(STATE)
            .values(user_id=user_id, unsubscribe_token=secrets.token_urlsafe(32))
            .on_conflict_do_nothing(index_elements=["user_id"])
        )

    async def unsubscribe_token(self, user_id: str) -> str:
        """The user's unsubscribe token (made on first use)."""
        async with self.db.begin() as conn:
            await self._ensure_state(conn, user_id)
            token = await conn.scalar(
                select(STATE.c.unsubscribe_token).where(STATE.c.user_id == user_id)
            )
        return str(token)

    async def user_for_token(self, token: str) -> str | None:
        """The user an unsubscribe token belongs to."""
        async with self.db.engine.connect() as conn:
            user_id = await conn.scalar(
                select(STATE.c.user_id).where(STATE.c.unsubscribe_token == token)
            )
        return None if user_id is None else str(user_id)

    async def latch_zero_balance(self, user_id: str) -> bool:
        """Set the ZERO_BALANCE latch; True only for the call that set it."""
        async with self.db.begin() as conn:
            await self._ensure_state(conn, user_id)
            result = await conn.execute(
                update(STATE)
                .where(STATE.c.user_id == user_id, STATE.c.zero_balance_sent_at.is_(None))
                .values(zero_balance_sent_at=utcnow())
            )
        return result.rowcount == 1

    async def release_zero_balance(self, user_id: str) -> None:
        """A top-up or grant: the next ZERO_BALANCE is sent again."""
        async with self.db.begin() as conn:
            await conn.execute(
                update(STATE).where(STATE.c.user_id == user_id).values(zero_balance_sent_at=None)
            )
