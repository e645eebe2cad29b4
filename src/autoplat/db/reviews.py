"""Data methods for human reviews: park a node for a person, record the decision, resume.

A review is keyed by its node execution: asking again for the same node execution finds
the same row, so a node run again after its run resumes reads the decision instead of
asking twice. A decision is taken once (WAITING -> APPROVED/REJECTED, conditionally), and
the run is queued again in the same transaction as the last decision of its reviews.

A review inside a sub-agent parks the child run *and* the parent's node that started it
(and so on up): the last decision anywhere under a top-level run queues that top-level run
again, never the child (no claim takes a child). The parent's node, run again, takes the
child back under its own process's lease (:meth:`ReviewStore.resume_child`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, func, select, text, update

from autoplat.db.models import PendingReview
from autoplat.db.queue import NODES, QUEUE_CHANNEL, RUNS
from autoplat.db.rows import NodeRow, RunRow, _FromRow
from autoplat.db.types import utcnow
from autoplat.errors import ReviewNotEditable

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

REVIEWS: Table = cast(Table, PendingReview.__table__)
WAITING = "WAITING"
APPROVED = "APPROVED"
REJECTED = "REJECTED"
#: Sub-agent nesting followed when walking a run's parents or parked children.
MAX_DEPTH = 32


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


@dataclass(slots=True)
class ChildResume:
    """What :meth:`ReviewStore.resume_child` found: the child's row (None: no such child of
    that node), whether a review under it still waits, and its node rows once taken."""

    row: RunRow | None
    waiting: bool = False
    nodes: list[NodeRow] | None = None


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
            roots = {await self._root(conn, r) for r in runs}
            resumed = [r for r in sorted(roots) if await self._resume(conn, r, now)]
            if resumed and conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": QUEUE_CHANNEL})
        return decided, resumed

    async def resume_if_decided(self, graph_exec_id: str) -> bool:
        """Queue a top-level run that just settled in REVIEW again if nothing under it waits.

        A decision taken while the run was still busy (another branch running, a child
        just parking) found it not yet REVIEW and queued nothing: without this look at its
        settling, the run would wait for a decision that was already taken.
        """
        async with self.db.begin() as conn:
            resumed = await self._resume(conn, graph_exec_id, utcnow())
            if resumed and conn.dialect.name == "postgresql":
                await conn.execute(text("SELECT pg_notify(:c, '')"), {"c": QUEUE_CHANNEL})
        return resumed

    @staticmethod
    async def _root(conn: Any, graph_exec_id: str) -> str:
        """The top-level run ``graph_exec_id`` runs under (itself when it is one)."""
        run_id = graph_exec_id
        for _ in range(MAX_DEPTH):
            parent_node = await conn.scalar(
                select(RUNS.c.parent_node_exec_id).where(RUNS.c.id == run_id)
            )
            if parent_node is None:
                break
            parent_run = await conn.scalar(
                select(NODES.c.graph_exec_id).where(NODES.c.id == parent_node)
            )
            if parent_run is None:
                break
            run_id = str(parent_run)
        return run_id

    @staticmethod
    async def _waiting_under(conn: Any, graph_exec_id: str) -> int:
        """Reviews still waiting in the run or in any child run parked under it."""
        runs = [graph_exec_id]
        frontier = [graph_exec_id]
        for _ in range(MAX_DEPTH):
            parked = select(NODES.c.id).where(
                NODES.c.graph_exec_id.in_(frontier), NODES.c.status == "REVIEW"
            )
            frontier = [
                str(r.id)
                for r in await conn.execute(
                    select(RUNS.c.id).where(
                        RUNS.c.parent_node_exec_id.in_(parked), RUNS.c.status == "REVIEW"
                    )
                )
            ]
            if not frontier:
                break
            runs += frontier
        waiting = await conn.scalar(
            select(func.count())
            .select_from(REVIEWS)
            .where(REVIEWS.c.graph_exec_id.in_(runs), REVIEWS.c.status == WAITING)
        )
        return int(waiting or 0)

    async def resume_child(
        self, child_id: str, parent_node_exec_id: str, *, owner: str, lease_seconds: float
    ) -> ChildResume:
        """Take a parked child run back under ``owner``'s lease once nothing under it waits.

        The child stays REVIEW (``ChildResume.waiting``) while a review under it waits; taken,
        it is RUNNING with a new epoch and its parked nodes queued, like a claimed run.
        """
        now = utcnow()
        async with self.db.begin() as conn:
            found = (
                await conn.execute(
                    select(RUNS).where(
                        RUNS.c.id == child_id, RUNS.c.parent_node_exec_id == parent_node_exec_id
                    )
                )
            ).first()
            if found is None or found.status != "REVIEW":
                return ChildResume(None if found is None else RunRow.from_row(found))
            if await self._waiting_under(conn, child_id):
                return ChildResume(RunRow.from_row(found), waiting=True)
            taken = (
                await conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == child_id, RUNS.c.status == "REVIEW")
                    .values(
                        status="RUNNING",
                        lease_owner=owner,
                        lease_expires_at=now + timedelta(seconds=lease_seconds),
                        attempts=RUNS.c.attempts + 1,
                        updated_at=now,
                    )
                    .returning(*RUNS.columns)
                )
            ).one()
            await conn.execute(
                update(NODES)
                .where(NODES.c.graph_exec_id == child_id, NODES.c.status == "REVIEW")
                .values(status="QUEUED")
            )
            stmt = select(NODES).where(NODES.c.graph_exec_id == child_id).order_by(NODES.c.seq)
            nodes = [NodeRow.from_row(r) for r in await conn.execute(stmt)]
            return ChildResume(RunRow.from_row(taken), nodes=nodes)

    async def _resume(self, conn: Any, graph_exec_id: str, now: datetime) -> bool:
        if await self._waiting_under(conn, graph_exec_id):
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
