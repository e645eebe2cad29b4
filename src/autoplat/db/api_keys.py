"""API keys: rows hold a salted scrypt hash of the secret, never the secret itself."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update

from autoplat.db.models import ApiKey
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


class ApiKeyStore:
    """Data methods for API keys; every read and change is scoped to the owning user."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def create(
        self,
        *,
        user_id: str,
        name: str,
        prefix: str,
        head: str,
        tail: str,
        hash: str,
        salt: str,
        permissions: list[str],
        description: str | None = None,
    ) -> ApiKey:
        """Store a new ACTIVE key and return its row."""
        key = ApiKey(
            id=str(uuid.uuid4()),
            user_id=user_id,
            name=name,
            prefix=prefix,
            head=head,
            tail=tail,
            hash=hash,
            salt=salt,
            permissions=sorted(permissions),
            status="ACTIVE",
            description=description,
            created_at=utcnow(),
        )
        async with self.db.session() as session:
            session.add(key)
        return key

    async def get(self, user_id: str, key_id: str) -> ApiKey | None:
        """The user's key with this id, or None (also for another user's key)."""
        stmt = select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
        async with self.db.session() as session:
            return (await session.execute(stmt)).scalar_one_or_none()

    async def by_prefix(self, prefix: str) -> ApiKey | None:
        """The key whose secret starts with ``prefix`` (the lookup half of authentication)."""
        async with self.db.session() as session:
            stmt = select(ApiKey).where(ApiKey.prefix == prefix)
            return (await session.execute(stmt)).scalar_one_or_none()

    async def list_for_user(
        self, user_id: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[ApiKey], int]:
        """One page of the user's keys, newest first, and the total count."""
        where = ApiKey.user_id == user_id
        async with self.db.session() as session:
            total = (
                await session.execute(select(func.count()).select_from(ApiKey).where(where))
            ).scalar_one()
            rows = (
                await session.execute(
                    select(ApiKey)
                    .where(where)
                    .order_by(ApiKey.created_at.desc(), ApiKey.id)
                    .offset(offset)
                    .limit(limit)
                )
            ).scalars()
            return list(rows), int(total)

    async def set_status(self, user_id: str, key_id: str, status: str) -> ApiKey | None:
        """Change the status of the user's key (REVOKED also stamps ``revoked_at``)."""
        async with self.db.session() as session:
            key = (
                await session.execute(
                    select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
                )
            ).scalar_one_or_none()
            if key is None:
                return None
            key.status = status
            if status == "REVOKED" and key.revoked_at is None:
                key.revoked_at = utcnow()
            return key

    async def set_permissions(
        self, user_id: str, key_id: str, permissions: list[str]
    ) -> ApiKey | None:
        """Replace the permissions of the user's key."""
        async with self.db.session() as session:
            key = (
                await session.execute(
                    select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id)
                )
            ).scalar_one_or_none()
            if key is None:
                return None
            key.permissions = sorted(permissions)
            return key

    async def touch(self, key_id: str, when: datetime) -> None:
        """Record that the key was used at ``when``."""
        async with self.db.begin() as conn:
            await conn.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=when))
