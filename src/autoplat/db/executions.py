"""Data methods for graph and node executions; the hot statements live in ``db/queue.py``.

Every method returns typed rows (``RunRow``, ``NodeRow``). The methods that write runs
held by a worker (submit, claim, fenced writes) pick the transaction shape per dialect:
PostgreSQL runs each as one autocommitted statement, SQLite inside ``BEGIN IMMEDIATE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from autoplat.db.queue import NODES, QUEUE_CHANNEL, RUNS, Held, Queue, Starter
from autoplat.db.reviews import REJECTED, REVIEWS, WAITING
from autoplat.db.rows import NodeRow, NodeWrite, RunRow, RunWrite
from autoplat.db.types import utcnow

if TYPE_CHECKING:
    from autoplat.db.manager import DatabaseManager

__all__ = ["NODES", "QUEUE_CHANNEL", "RUNS", "ExecutionStore"]
ACTIVE = ("QUEUED", "RUNNING")
#: Not over yet: active, or parked for a person.
OPEN = (*ACTIVE, "REVIEW")
UNFINISHED_NODES = ("INCOMPLETE", "QUEUED", "RUNNING", "REVIEW")
#: The message of a review closed because its run ended first.
RUN_ENDED = "The execution ended before a decision was taken"


class ExecutionStore:
    """Data methods for graph and node executions."""

    def __init__(self, db: DatabaseManager) -> None:
        self.db = db
        self._queue: Queue | None = None
        self._autocommit: AsyncEngine | None = None
        self._autocommit_of: AsyncEngine | None = None

    @property
    def queue(self) -> Queue:
        """The hot statements of this database's dialect (built once: compiling costs)."""
        if self._queue is None:
            self._queue = Queue.for_dialect(self.db.dialect)
        return self._queue

    def autocommit(self) -> AsyncContextManager[AsyncConnection]:
        """A connection whose every statement commits on its own (one round trip each)."""
        if self._autocommit is None or self._autocommit_of is not self.db.engine:
            self._autocommit_of = self.db.engine
            self._autocommit = self.db.engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._autocommit.connect()

    def _hot(self) -> AsyncContextManager[AsyncConnection]:
        # One statement on PostgreSQL commits by itself; SQLite wants its write transaction.
        return self.autocommit() if self.db.is_postgres else self.db.begin()

    # --- submit --------------------------------------------------------------------------

    async def submit(
        self,
        runs: Sequence[RunRow],
        nodes: Sequence[NodeRow],
        *,
        start: Starter | None = None,
        user_cap: int | None = None,
        conn: AsyncConnection | None = None,
    ) -> set[str]:
        """Write runs with their first node executions, atomically; wake the claimers.

        ``start`` and ``user_cap``: see :meth:`Queue.submit`; returns the ids of runs
        ``start`` marked RUNNING that were written QUEUED. With ``conn`` the rows join the
        caller's transaction (the scheduler writes a fire and its run together).
        """
        if conn is not None:
            return await self.queue.submit(conn, runs, nodes, start=start, user_cap=user_cap)
        async with self._hot() as own:
            return await self.queue.submit(own, runs, nodes, start=start, user_cap=user_cap)

    # --- claim and lease -----------------------------------------------------------------

    async def claim(
        self,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        user_cap: int,
        only: Sequence[str] | None = None,
    ) -> tuple[list[RunRow], dict[str, list[NodeRow]]]:
        """Take runnable runs under a lease: see :meth:`Queue.claim`.

        The cap counts committed starts: two processes starting runs of one user in the
        same instant may each count the other's as not yet running, so across processes it
        can be exceeded briefly by the runs started in that instant.
        """
        async with self.db.begin() as conn:
            return await self.queue.claim(
                conn, owner, limit=limit, lease_seconds=lease_seconds, user_cap=user_cap, only=only
            )

    async def write(
        self,
        owner: str,
        *,
        lease_seconds: float,
        fences: Sequence[tuple[str, int]],
        nodes: Sequence[NodeWrite] = (),
        runs: Sequence[RunWrite] = (),
    ) -> Held:
        """The fenced write (a flush, or a bare lease renewal): see :meth:`Queue.write`."""
        if not fences:
            return {}
        async with self._hot() as conn:
            return await self.queue.write(
                conn, owner, lease_seconds=lease_seconds, fences=fences, nodes=nodes, runs=runs
            )

    async def expire_leases(
        self, owners: Iterable[str], run_ids: Iterable[str] | None = None
    ) -> int:
        """Let runs held by ``owners`` be claimed at once (adoption, drain hand-back)."""
        owners = list(owners)
        ids = None if run_ids is None else list(run_ids)
        if not owners or ids == []:
            return 0
        async with self.db.begin() as conn:
            return await self.queue.expire(conn, owners, ids)

    # --- loading a claimed run -----------------------------------------------------------

    async def load_nodes(self, graph_exec_id: str, *, resume: bool) -> list[NodeRow]:
        """The run's node executions in order; on ``resume``, hand back interrupted ones.

        A node execution left RUNNING by a dead process loses its partial outputs and goes
        back to QUEUED. Child runs of any unfinished node of the run are ended TERMINATED
        (with theirs, recursively): the node will start new ones, and a child whose parent
        node was not yet durably RUNNING when its process died is found this way too. A
        child parked for a review (REVIEW) is kept: its node takes it back when run again.
        """
        async with self.db.begin() as conn:
            if resume:
                now = utcnow()
                await self._terminate_children(conn, [graph_exec_id], now)
                await conn.execute(
                    update(NODES)
                    .where(NODES.c.graph_exec_id == graph_exec_id, NODES.c.status == "RUNNING")
                    .values(status="QUEUED", output_data={}, started_at=None, error=None)
                )
            stmt = select(NODES).where(NODES.c.graph_exec_id == graph_exec_id).order_by(NODES.c.seq)
            return [NodeRow.from_row(r) for r in await conn.execute(stmt)]

    async def _terminate_children(
        self,
        conn: AsyncConnection,
        run_ids: list[str],
        now: datetime,
        statuses: tuple[str, ...] = ACTIVE,
    ) -> None:
        while run_ids:
            unfinished = select(NODES.c.id).where(
                NODES.c.graph_exec_id.in_(run_ids), NODES.c.status.in_(UNFINISHED_NODES)
            )
            children = [
                r.id
                for r in await conn.execute(
                    select(RUNS.c.id)
                    .where(RUNS.c.parent_node_exec_id.in_(unfinished), RUNS.c.status.in_(statuses))
                    .order_by(RUNS.c.id)
                )
            ]
            if not children:
                return
            await self._end(conn, children, "TERMINATED", "its parent node was interrupted", now)
            run_ids = children

    @staticmethod
    async def _end(
        conn: AsyncConnection, ids: list[str], status: str, error: str | None, now: datetime
    ) -> None:
        await conn.execute(
            update(RUNS)
            .where(RUNS.c.id.in_(ids), RUNS.c.status.in_(OPEN))
            .values(status=status, error=error, ended_at=now, updated_at=now, lease_owner=None)
        )
        await conn.execute(
            update(NODES)
            .where(NODES.c.graph_exec_id.in_(ids), NODES.c.status.in_(UNFINISHED_NODES))
            .values(status="TERMINATED", ended_at=now)
        )
        # A review of a run that is over can no longer be decided: it is closed as rejected
        # (as AutoGPT cancels a stopped execution's reviews), so no list keeps offering it.
        await conn.execute(
            update(REVIEWS)
            .where(REVIEWS.c.graph_exec_id.in_(ids), REVIEWS.c.status == WAITING)
            .values(status=REJECTED, message=RUN_ENDED, reviewed_at=now)
        )

    # --- the hard end of a run -----------------------------------------------------------

    async def end_run(
        self,
        graph_exec_id: str,
        *,
        status: str,
        error: str | None,
        fence: tuple[str, int] | None = None,
        unheld_only: bool = False,
    ) -> RunRow | None:
        """End a run that cannot end through its flush (unstartable, unstorable, orphaned,
        stopped while queued): the run row and every unfinished node row, in one
        transaction. ``fence`` (owner, epoch) limits it to a run still held so,
        ``unheld_only`` to a run no worker holds (queued, or waiting for a review). Returns the
        ended row (to announce), or None when the run was already over or not held.
        """
        now = utcnow()
        async with self.db.begin() as conn:
            where = [RUNS.c.id == graph_exec_id, RUNS.c.status.in_(OPEN)]
            if unheld_only:
                where.append(RUNS.c.status.in_(("QUEUED", "REVIEW")))
            if fence is not None:
                where += [RUNS.c.lease_owner == fence[0], RUNS.c.attempts == fence[1]]
            found = (await conn.execute(select(RUNS.c.id).where(*where))).first()
            if found is None:
                return None
            # Children parked for a review end too: nothing would ever take them back.
            await self._terminate_children(conn, [graph_exec_id], now, OPEN)
            await self._end(conn, [graph_exec_id], status, error, now)
            row = (await conn.execute(select(RUNS).where(RUNS.c.id == graph_exec_id))).one()
            return RunRow.from_row(row)

    async def orphaned_children(self, before: datetime) -> list[RunRow]:
        """Child runs still active whose lease lapsed before ``before`` (their process died)."""
        stmt = select(RUNS).where(
            RUNS.c.parent_node_exec_id.is_not(None),
            RUNS.c.status.in_(ACTIVE),
            RUNS.c.lease_expires_at < before,
        )
        async with self.db.engine.connect() as conn:
            return [RunRow.from_row(r) for r in await conn.execute(stmt.limit(100))]

    # --- stop ----------------------------------------------------------------------------

    async def request_stop(self, graph_exec_id: str) -> RunRow | None:
        """Flag a run to stop; return its row as it was (None when it is over or missing)."""
        async with self.db.begin() as conn:
            row = (
                await conn.execute(
                    update(RUNS)
                    .where(RUNS.c.id == graph_exec_id, RUNS.c.status.in_(OPEN))
                    .values(stop_requested=True, updated_at=utcnow())
                    .returning(*RUNS.columns)
                )
            ).first()
            return None if row is None else RunRow.from_row(row)

    async def notify(self, channel: str, payloads: Sequence[str]) -> None:
        """Send NOTIFY payloads on PostgreSQL (no-op on SQLite)."""
        if not payloads or not self.db.is_postgres:
            return
        async with self.autocommit() as conn:  # one round trip: no BEGIN and COMMIT
            stmt = text("SELECT pg_notify(:c, p) FROM unnest(CAST(:ps AS text[])) AS p")
            await conn.execute(stmt, {"c": channel, "ps": list(payloads)})

    # --- reading -------------------------------------------------------------------------

    async def get_run(self, graph_exec_id: str, *, user_id: str | None = None) -> RunRow | None:
        """One run row, optionally only if ``user_id`` owns it."""
        stmt = select(RUNS).where(RUNS.c.id == graph_exec_id)
        if user_id is not None:
            stmt = stmt.where(RUNS.c.user_id == user_id)
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
            return None if row is None else RunRow.from_row(row)

    async def get_runs(self, graph_exec_ids: Sequence[str]) -> list[RunRow]:
        """Run rows by id."""
        if not graph_exec_ids:
            return []
        async with self.db.engine.connect() as conn:
            stmt = select(RUNS).where(RUNS.c.id.in_(list(graph_exec_ids)))
            return [RunRow.from_row(r) for r in await conn.execute(stmt)]

    async def changed_since(
        self,
        since: datetime,
        *,
        run_ids: Sequence[str] = (),
        graph_ids: Sequence[str] = (),
        user_ids: Sequence[str] = (),
        everyone: bool = False,
        limit: int = 1000,
    ) -> list[RunRow]:
        """Runs changed since ``since`` among those ids (or all, ``everyone``)."""
        where = [RUNS.c.updated_at >= since]
        if not everyone:
            match = [
                RUNS.c.id.in_(list(run_ids)),
                RUNS.c.graph_id.in_(list(graph_ids)),
                RUNS.c.user_id.in_(list(user_ids)),
            ]
            where.append(or_(*match))
        stmt = select(RUNS).where(*where).order_by(RUNS.c.updated_at).limit(limit)
        async with self.db.engine.connect() as conn:
            return [RunRow.from_row(r) for r in await conn.execute(stmt)]

    async def list_runs(
        self,
        *,
        user_id: str,
        graph_id: str | None = None,
        offset: int = 0,
        limit: int = 50,
    ) -> tuple[list[RunRow], int]:
        """A user's top-level runs, newest first, and their total."""
        where = [RUNS.c.user_id == user_id, RUNS.c.parent_node_exec_id.is_(None)]
        if graph_id is not None:
            where.append(RUNS.c.graph_id == graph_id)
        stmt = (
            select(RUNS)
            .where(*where)
            .order_by(RUNS.c.created_at.desc(), RUNS.c.id)
            .offset(offset)
            .limit(limit)
        )
        async with self.db.engine.connect() as conn:
            rows = [RunRow.from_row(r) for r in await conn.execute(stmt)]
            total = (await conn.execute(select(func.count()).where(*where))).scalar_one()
        return rows, int(total)

    async def get_nodes(
        self, graph_exec_id: str, node_exec_ids: Sequence[str] | None = None
    ) -> list[NodeRow]:
        """The node executions of a run (or just the given ones), in order."""
        stmt = select(NODES).where(NODES.c.graph_exec_id == graph_exec_id)
        if node_exec_ids is not None:
            stmt = stmt.where(NODES.c.id.in_(list(node_exec_ids)))
        async with self.db.engine.connect() as conn:
            return [NodeRow.from_row(r) for r in await conn.execute(stmt.order_by(NODES.c.seq))]

    async def delete_run(self, graph_exec_id: str, *, user_id: str) -> bool:
        """Delete a run and its node executions; False when there is none."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                delete(RUNS).where(RUNS.c.id == graph_exec_id, RUNS.c.user_id == user_id)
            )
            return bool(result.rowcount)

    async def count_by_status(self, graph_exec_ids: Sequence[str] | None = None) -> dict[str, int]:
        """Number of runs per status (all runs, or the given ones)."""
        stmt = select(RUNS.c.status, func.count()).group_by(RUNS.c.status)
        if graph_exec_ids is not None:
            stmt = stmt.where(RUNS.c.id.in_(list(graph_exec_ids)))
        async with self.db.engine.connect() as conn:
            return {status: int(n) for status, n in await conn.execute(stmt)}

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete finished top-level runs that ended before ``cutoff`` (retention)."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                delete(RUNS).where(
                    RUNS.c.ended_at < cutoff,
                    RUNS.c.status.in_(("COMPLETED", "FAILED", "TERMINATED")),
                )
            )
            return int(result.rowcount or 0)
