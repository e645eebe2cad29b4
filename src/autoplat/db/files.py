"""FileRecordStore: the records of stored files (the bytes are the blob store's).

Invariants: every read names the owner (``user_id``) in its WHERE clause, so another user's
file is simply not found; an expired file reads as not found even before the expiry job
removes it. A new record is admitted against the owner's quota in the same transaction that
inserts it, with the owner's row locked on PostgreSQL (SQLite has one writer), so
concurrent stores of one user cannot together pass the quota.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, cast

from sqlalchemy import Table, delete, func, select

from autoplat.db.models import StoredFile, User
from autoplat.errors import PayloadTooLarge

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

_FILES = cast(Table, StoredFile.__table__)
_USERS = cast(Table, User.__table__)


class FileQuotaExceeded(PayloadTooLarge):
    """Storing the file would take the user past their quota; nothing was stored."""

    code = "file_quota_exceeded"


@dataclass(frozen=True, slots=True)
class FileRecord:
    """What is known of one stored file."""

    id: str
    user_id: str
    name: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    graph_exec_id: str | None
    created_at: datetime
    expires_at: datetime


class FileRecordStore:
    """Data methods of stored files (a store of DatabaseManager: ``db.files``)."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def admit(self, record: FileRecord, quota_bytes: int, now: datetime) -> None:
        """Insert ``record`` if its owner's unexpired files plus it fit ``quota_bytes``."""
        async with self.db.begin() as conn:
            if self.db.is_postgres:
                await conn.execute(
                    select(_USERS.c.id).where(_USERS.c.id == record.user_id).with_for_update()
                )
            used = await conn.scalar(
                select(func.coalesce(func.sum(_FILES.c.size), 0)).where(
                    _FILES.c.user_id == record.user_id, _FILES.c.expires_at > now
                )
            )
            if int(used or 0) + record.size > quota_bytes:
                raise FileQuotaExceeded(
                    f"storing {record.size} bytes would pass the quota of {quota_bytes} bytes "
                    f"({int(used or 0)} in use)"
                )
            await conn.execute(
                _FILES.insert().values(
                    id=record.id,
                    user_id=record.user_id,
                    name=record.name,
                    content_type=record.content_type,
                    size=record.size,
                    sha256=record.sha256,
                    storage_key=record.storage_key,
                    graph_exec_id=record.graph_exec_id,
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                )
            )

    async def get(self, user_id: str, file_id: str, now: datetime) -> FileRecord | None:
        """The unexpired file ``file_id`` of ``user_id``, or None."""
        async with self.db.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(_FILES).where(
                        _FILES.c.id == file_id,
                        _FILES.c.user_id == user_id,
                        _FILES.c.expires_at > now,
                    )
                )
            ).first()
        return None if row is None else FileRecord(**row._mapping)

    async def usage(self, user_id: str, now: datetime) -> int:
        """Bytes of unexpired files ``user_id`` holds."""
        async with self.db.engine.connect() as conn:
            used = await conn.scalar(
                select(func.coalesce(func.sum(_FILES.c.size), 0)).where(
                    _FILES.c.user_id == user_id, _FILES.c.expires_at > now
                )
            )
        return int(used or 0)

    async def expired(self, now: datetime, limit: int) -> list[FileRecord]:
        """Up to ``limit`` files whose time has passed, oldest first."""
        async with self.db.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(_FILES)
                    .where(_FILES.c.expires_at <= now)
                    .order_by(_FILES.c.expires_at)
                    .limit(limit)
                )
            ).all()
        return [FileRecord(**row._mapping) for row in rows]

    async def remove(self, file_ids: list[str]) -> int:
        """Delete these records; returns how many there were."""
        if not file_ids:
            return 0
        async with self.db.begin() as conn:
            result = await conn.execute(delete(_FILES).where(_FILES.c.id.in_(file_ids)))
        return int(getattr(result, "rowcount", 0) or 0)
