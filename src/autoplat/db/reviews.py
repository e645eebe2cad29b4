"""Data methods for human reviews: park a node for a person, record the decision, resume.

A review is keyed by its node execution: asking again for the same node execution finds
the same row, so a node run again after its run resumes reads the decision instead of
asking twice. A decision is taken once (WAITING -> APPROVED/REJECTED, conditionally), and
the run is queued again in the same transaction as the last decision of its reviews.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, select, text, update

from autoplat.db.models import PendingReview
from autoplat.db.queue import NODES, QUEUE_CHANNEL, RUNS
from autoplat.db.rows import _FromRow
from autoplat.db.types import utcnow
from autoplat.errors import ReviewNotEditable

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

REVIEWS: Table = cast(Table, PendingReview.__table__)
WAITING = "WAITING"
APPROVED = "APPROVED"
REJECTED = "REJECTED"


@dataclass(slots=True)
class ReviewRow(_FromRow):
    """One row of ``pending_reviews``."""

    node_exec_id: str
    graph_exec_id: str
    user_id: str
    graph_id: str
    graph_version: int
    node_id: str
    name: str
    editable: bool
    payload: Any
    status: str
    reviewed_data: Any = None
    message: str | None = None
    created_at: datetime | None = None
    reviewed_at: datetime | None = None


@dataclass(slots=True)
class Decision:
    """A person's answer to one review."""

    node_exec_id: str
    approved: bool
    reviewed_data: Any = None
    #: Whether ``reviewed_data`` replaces the data (an edit), as opposed to absent.
    edited: bool = False
    message: str | None = None


class ReviewStore:
    """Data methods for human reviews."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db

    async def ask(self, row: ReviewRow) -> ReviewRow:
        """The review of ``row.node_exec_id``: the existing one, or ``row`` recorded now."""
        async with self.db.begin() as conn:
            found = (
                await conn.execute(
                    select(REVIEWS).where(REVIEWS.c.node_exec_id == row.node_exec_id)
                )
            ).first()
            if found is not None:
                return ReviewRow.from_row(found)
            await conn.execute(REVIEWS.insert(), [row.as_dict()])
            return row

    async def pending(
        self, user_id: str, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[ReviewRow], int]:
        """The user's reviews waiting for a decision, oldest first, and their number."""
        where = [REVIEWS.c.user_id == user_id, REVIEWS.c.status == WAITING]
        async with self.db.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(REVIEWS).where(*where))
            rows = await conn.execute(
                select(REVIEWS)
                .where(*where)
                .order_by(REVIEWS.c.created_at, REVIEWS.c.node_exec_id)
                .offset(offset)
                .limit(limit)
            )
            return [ReviewRow.from_row(r) for r in rows], int(total or 0)

    async def for_run(self, user_id: str, graph_exec_id: str) -> list[ReviewRow]:
        """Every review of one of the user's runs."""
        stmt = (
            select(REVIEWS)
            .where(REVIEWS.c.user_id == user_id, REVIEWS.c.graph_exec_id == graph_exec_id)
            .order_by(REVIEWS.c.created_at)
        )
        async with self.db.engine.connect() as conn:
            return [ReviewRow.from_row(r) for r in await conn.execute(stmt)]

    async def decide(self, user_id: str, decisions: Sequence[Decision]) -> tuple[int, list[str]]:
        """Record decisions on the user's waiting reviews; queue again every run left with
        none waiting. Returns how many were decided and the runs queued again."""
        now = utcnow()
        decided = 0
        runs: set[str] = set()
        async with self.db.begin() as conn:
            for item in decisions:
                values: dict[str, Any] = {
                    "status": APPROVED if item.approved else REJECTED,
                    "message": item.message,
                    "reviewed_at": now,
                }
                if item.edited:
                    values["reviewed_data"] = item.reviewed_data
                result = await conn.execute(
                    update(REVIEWS)
                    .where(
                        REVIEWS.c.node_exec_id == item.node_exec_id,
                        REVIEWS.c.user_id == user_id,
                        REVIEWS.c.status == WAITING,
                    )
                    .values(**values)
                    .returning(REVIEWS.c.graph_exec_id, REVIEWS.c.editable)
                )
                row = result.first()
                if row is None:
                    continue
                if item.edited and not row.editable:  # rolls the whole decision back
                    raise ReviewNotEditable(f"review {item.node_exec_id} cannot be edited")
                decided += 1
                runs.add(row.graph_exec_id)
            resumed = [r for r in sorted(runs) if await self._resume(conn, r, now)]
            if resumed and conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": QUEUE_CHANNEL})
        return decided, resumed

    @staticmethod
    async def _resume(conn: Any, graph_exec_id: str, now: datetime) -> bool:
        waiting = await conn.scalar(
            select(func.count())
            .select_from(REVIEWS)
            .where(REVIEWS.c.graph_exec_id == graph_exec_id, REVIEWS.c.status == WAITING)
        )
        if waiting:
            return False
        result = await conn.execute(
            update(RUNS)
            .where(RUNS.c.id == graph_exec_id, RUNS.c.status == "REVIEW")
            .values(status="QUEUED", lease_owner=None, lease_expires_at=None, updated_at=now)
        )
        if not result.rowcount:
            return False
        await conn.execute(
            update(NODES)
            .where(NODES.c.graph_exec_id == graph_exec_id, NODES.c.status == "REVIEW")
            .values(status="QUEUED")
        )
        return True
