"""Users: created on first sight of a valid token, looked up by id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from autoplat.db.models import User
from autoplat.db.types import utcnow
from autoplat.errors import Conflict

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager


class UserStore:
    """Data methods for users."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def ensure(self, user_id: str, *, email: str | None = None, role: str = "user") -> User:
        """The user with this id, created if it does not exist yet (race-free).

        An email already used by another user is not stored again (emails are unique); the
        new user is created without one rather than failing the request.
        """
        insert = pg_insert if self.db.is_postgres else sqlite_insert
        async with self.db.session() as session:
            for mail in (email, None) if email else (None,):
                # No conflict target: a clash on the id OR the email is skipped quietly.
                stmt = (
                    insert(User)
                    .values(
                        id=user_id,
                        email=mail,
                        role=role,
                        timezone="not-set",
                        preferences={},
                        created_at=utcnow(),
                        updated_at=utcnow(),
                    )
                    .on_conflict_do_nothing()
                )
                await session.execute(stmt)
                user = (
                    await session.execute(select(User).where(User.id == user_id))
                ).scalar_one_or_none()
                if user is not None:
                    break
            assert user is not None
            if role == "admin" and user.role != "admin":
                user.role = "admin"
            return user

    async def get(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        async with self.db.session() as session:
            return await session.get(User, user_id)

    async def create(
        self,
        user_id: str,
        *,
        email: str | None = None,
        name: str | None = None,
        role: str = "user",
    ) -> User:
        """A new user; Conflict when the id or email is taken."""
        user = User(
            id=user_id,
            email=email,
            name=name,
            role=role,
            timezone="not-set",
            preferences={},
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        try:
            async with self.db.session() as session:
                session.add(user)
        except IntegrityError:
            raise Conflict(f"a user with id {user_id!r} or this email exists already") from None
        return user

    async def list_users(self, *, offset: int = 0, limit: int = 50) -> tuple[list[User], int]:
        """One page of users, oldest first, and the total count."""
        async with self.db.session() as session:
            total = (await session.execute(select(func.count()).select_from(User))).scalar_one()
            rows = (
                await session.execute(
                    select(User).order_by(User.created_at, User.id).offset(offset).limit(limit)
                )
            ).scalars()
            return list(rows), int(total)

    async def set_timezone(self, user_id: str, timezone: str) -> User | None:
        """Store the user's IANA timezone."""
        return await self._update(user_id, timezone=timezone)

    async def set_preferences(self, user_id: str, preferences: dict[str, Any]) -> User | None:
        """Replace the user's preferences document."""
        return await self._update(user_id, preferences=preferences)

    async def _update(self, user_id: str, **values: Any) -> User | None:
        async with self.db.session() as session:
            user = await session.get(User, user_id)
            if user is None:
                return None
            for name, value in values.items():
                setattr(user, name, value)
            user.updated_at = utcnow()
            return user
