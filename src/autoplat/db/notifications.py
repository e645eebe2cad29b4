"""Data methods for notifications to users.

Invariant: on PostgreSQL every notification row is announced on ``NOTIFICATIONS_CHANNEL``
in the transaction that inserts it (NOTIFY is delivered at commit, so a listener never
hears of a row it cannot read yet); the payload names the row, it never carries its data.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Row, Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.models import Notification
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

NOTIFICATIONS = cast(Table, Notification.__table__)
#: The PostgreSQL channel new notifications are announced on (payload: user and row id).
NOTIFICATIONS_CHANNEL = "autoplat_notifications"


async def announce(conn: AsyncConnection, user_id: str, notification_id: str) -> None:
    """NOTIFY listeners of a new notification row, at the commit of ``conn``'s transaction
    (PostgreSQL only: on SQLite everyone listening lives in the recording process)."""
    if conn.dialect.name != "postgresql":
        return
    payload = json.dumps({"user_id": user_id, "id": notification_id})
    await conn.execute(
        text("SELECT pg_notify(:channel, :payload)"),
        {"channel": NOTIFICATIONS_CHANNEL, "payload": payload},
    )


def notification_json(row: Row[Any]) -> dict[str, Any]:
    """A notification row as returned by the API."""
    return {
        "id": row.id,
        "type": row.type,
        "data": dict(row.data or {}),
        "created_at": row.created_at.isoformat(),
        "read_at": row.read_at.isoformat() if row.read_at is not None else None,
    }


class NotificationStore:
    """Data methods for notifications to users.

    Invariant: on PostgreSQL every notification row is announced on ``NOTIFICATIONS_CHANNEL``
    in the transaction that inserts it (NOTIFY is delivered at commit, so a listener never
    hears of a row it cannot read yet); the payload names the row, it never carries its data.
    """

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def add(
        self, user_id: str, type: str, data: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Record a notification for the user and return it."""
        created_at = utcnow()
        values: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "user_id": user_id,
            "type": type,
            "data": dict(data or {}),
            "read_at": None,
        }
        async with self.db.begin() as conn:
            await conn.execute(NOTIFICATIONS.insert().values(created_at=created_at, **values))
            await announce(conn, user_id, values["id"])
        return {**values, "created_at": created_at.isoformat()}

    async def list_for(
        self,
        user_id: str,
        *,
        type: str | None = None,
        unread_only: bool = False,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """A page of the user's notifications, newest first, and the total matching."""
        conditions = [NOTIFICATIONS.c.user_id == user_id]
        if type is not None:
            conditions.append(NOTIFICATIONS.c.type == type)
        if unread_only:
            conditions.append(NOTIFICATIONS.c.read_at.is_(None))
        async with self.db.engine.connect() as conn:
            total = await conn.scalar(
                select(func.count()).select_from(NOTIFICATIONS).where(*conditions)
            )
            rows = await conn.execute(
                select(NOTIFICATIONS)
                .where(*conditions)
                .order_by(NOTIFICATIONS.c.created_at.desc(), NOTIFICATIONS.c.id)
                .offset(offset)
                .limit(limit)
            )
            items = [notification_json(row) for row in rows]
        return items, int(total or 0)

    async def by_ids(self, notification_ids: list[str]) -> list[dict[str, Any]]:
        """These notifications (API shape plus ``user_id``), oldest first."""
        if not notification_ids:
            return []
        async with self.db.engine.connect() as conn:
            rows = await conn.execute(
                select(NOTIFICATIONS)
                .where(NOTIFICATIONS.c.id.in_(notification_ids))
                .order_by(NOTIFICATIONS.c.created_at, NOTIFICATIONS.c.id)
            )
            return [{**notification_json(r), "user_id": r.user_id} for r in rows]

    async def mark_read(self, user_id: str, notification_id: str) -> bool:
        """Mark one of the user's notifications read; False when it does not exist."""
        mine = (NOTIFICATIONS.c.id == notification_id, NOTIFICATIONS.c.user_id == user_id)
        async with self.db.begin() as conn:
            await conn.execute(
                update(NOTIFICATIONS)
                .where(*mine, NOTIFICATIONS.c.read_at.is_(None))
                .values(read_at=utcnow())
            )
            found = await conn.scalar(select(NOTIFICATIONS.c.id).where(*mine))
        return found is not None
