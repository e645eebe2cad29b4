"""Users: created on first sight of a valid token, looked up by id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from autoplat.db.models import User

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


class UserStore:
    """Data methods for users."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def ensure(self, user_id: str, *, email: str | None = None, role: str = "user") -> User:
        """The user with this id, created if it does not exist yet (race-free)."""
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        stmt = (
            insert(User)
            .values(id=user_id, email=email, role=role, timezone="not-set", preferences={})
            .on_conflict_do_nothing(index_elements=[User.id])
        )
        async with self.db.session() as session:
            await session.execute(stmt)
            user = (await session.execute(select(User).where(User.id == user_id))).scalar_one()
            if role == "admin" and user.role != "admin":
                user.role = "admin"
            return user

    async def get(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        async with self.db.session() as session:
            return await session.get(User, user_id)
