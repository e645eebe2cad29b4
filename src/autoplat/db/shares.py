"""Data methods of shared runs (``db.shares``).

Invariant: a share row exists only for a run of its owner; the token is random (256 bits)
and unique; deleting the row is what revokes the public link.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from autoplat.db.models import ExecutionShare
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

SHARES = cast(Table, ExecutionShare.__table__)


class ShareStore:
    """Data methods of shared runs."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def share(self, user_id: str, graph_exec_id: str) -> str:
        """The run's share token, made on the first call (sharing twice keeps one link)."""
        insert: Any = pg_insert if self.db.is_postgres else sqlite_insert
        async with self.db.begin() as conn:
            await conn.execute(
                insert(SHARES)
                .values(
                    graph_exec_id=graph_exec_id,
                    user_id=user_id,
                    token=secrets.token_urlsafe(32),
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["graph_exec_id"])
            )
            token = await conn.scalar(
                select(SHARES.c.token).where(SHARES.c.graph_exec_id == graph_exec_id)
            )
        return str(token)

    async def token_of(self, user_id: str, graph_exec_id: str) -> str | None:
        """The share token of the user's run, if shared."""
        async with self.db.engine.connect() as conn:
            token = await conn.scalar(
                select(SHARES.c.token).where(
                    SHARES.c.graph_exec_id == graph_exec_id, SHARES.c.user_id == user_id
                )
            )
        return None if token is None else str(token)

    async def unshare(self, user_id: str, graph_exec_id: str) -> bool:
        """Revoke the user's share of the run; False when it was not shared."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                delete(SHARES).where(
                    SHARES.c.graph_exec_id == graph_exec_id, SHARES.c.user_id == user_id
                )
            )
        return result.rowcount == 1

    async def run_of(self, token: str) -> str | None:
        """The run a token opens."""
        async with self.db.engine.connect() as conn:
            run_id = await conn.scalar(
                select(SHARES.c.graph_exec_id).where(SHARES.c.token == token)
            )
        return None if run_id is None else str(run_id)
