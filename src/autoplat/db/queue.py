"""The durable queue's hot statements, one class per dialect behind one interface.

Submit, claim, and the fenced write (a flush, or a bare lease renewal) are the only
statements on the hot path. Their column lists come from the ``Table`` objects, so a new
column cannot be forgotten here. This module holds the interface, the statements both
dialects share and SQLite's; PostgreSQL's single-statement forms are in ``db/queue_pg.py``.

Invariants every dialect keeps:
- a write is fenced by owner AND epoch (the run's claim count, ``attempts``): a process
  that lost a run, or an older instance of a run this process claimed again, writes nothing;
- multi-row writes of runs lock them in id order (PostgreSQL), or run under SQLite's single
  writer, so two writers can never deadlock;
- node rows are written only for runs the same statement (or transaction) fenced.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, Text, and_, bindparam, func, or_, select, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from autoplat.db.models import GraphExecution, NodeExecution
from autoplat.db.rows import NodeRow, NodeWrite, RunRow, RunWrite
from autoplat.db.types import UTCDateTime, utcnow

RUNS: Table = cast(Table, GraphExecution.__table__)
NODES: Table = cast(Table, NodeExecution.__table__)
RUN_COLUMNS: tuple[str, ...] = tuple(c.name for c in RUNS.columns)
NODE_COLUMNS: tuple[str, ...] = tuple(c.name for c in NODES.columns)
#: Node columns an upsert changes (identity and creation time never change).
NODE_CHANGING: tuple[str, ...] = tuple(
    c for c in NODE_COLUMNS if c not in ("id", "graph_exec_id", "created_at")
)
#: Run columns a flush may change, as carried by RunWrite.
RUN_UPDATE_COLUMNS: tuple[str, ...] = ("status", "outputs", "stats", "error", "ended_at")
QUEUE_CHANNEL = "autoplat_queue"

#: id -> stop_requested of the runs a fenced write still held.
Held = dict[str, bool]
#: Decides, inside the submit transaction, which runs the caller starts at once.
Starter = Callable[[dict[str, int]], None]


@dataclass(frozen=True, slots=True)
class FencedWrite:
    """One fenced write: the leases of ``fences`` (run id, epoch) renewed until ``expires``
    for ``owner``, with the node rows and run updates of the runs still held."""

    owner: str
    now: datetime
    expires: datetime
    fences: Sequence[tuple[str, int]]
    nodes: Sequence[NodeWrite]
    runs: Sequence[RunWrite]


class Queue:
    """The hot statements; ``for_dialect`` picks the implementation."""

    @staticmethod
    def for_dialect(name: str) -> Queue:
        """The queue statements of dialect ``name``."""
        if name == "postgresql":
            # Imported here: the PostgreSQL module builds on this one's interface.
            from autoplat.db.queue_pg import PgQueue

            return PgQueue()
        return SqliteQueue()

    # --- submit --------------------------------------------------------------------------

    async def submit(
        self,
        conn: AsyncConnection,
        runs: Sequence[RunRow],
        nodes: Sequence[NodeRow],
        *,
        start: Starter | None,
        user_cap: int | None,
    ) -> set[str]:
        """Insert runs and their first nodes; return ids of RUNNING runs written QUEUED.

        ``start(running)`` may mark runs RUNNING (held by the caller) given the number of
        running top-level runs of each submitting user; a run so marked whose user is
        already at ``user_cap`` is written QUEUED instead, and its id returned.
        """
        if start is not None:
            start(await self._running_counts(conn, {r.user_id for r in runs}))
        return await self._insert(conn, runs, nodes, user_cap)

    async def _insert(
        self,
        conn: AsyncConnection,
        runs: Sequence[RunRow],
        nodes: Sequence[NodeRow],
        user_cap: int | None,
    ) -> set[str]:
        """Write the rows ``start`` has marked; return the RUNNING ones written QUEUED."""
        # Here ``start`` saw the committed counts and kept to the cap: nothing to demote.
        await conn.execute(RUNS.insert(), [r.as_dict() for r in runs])
        if nodes:
            await conn.execute(NODES.insert(), [n.as_dict() for n in nodes])
        await self._wake_claimers(conn, any(r.status == "QUEUED" for r in runs))
        return set()

    async def _running_counts(self, conn: AsyncConnection, users: set[str]) -> dict[str, int]:
        """Running top-level runs of each of ``users``, as ``start`` is shown them."""
        stmt = (
            select(RUNS.c.user_id, func.count())
            .where(
                RUNS.c.user_id.in_(sorted(users)),
                RUNS.c.status == "RUNNING",
                RUNS.c.parent_node_exec_id.is_(None),
                RUNS.c.lease_expires_at >= utcnow(),
            )
            .group_by(RUNS.c.user_id)
        )
        return {user: int(n) for user, n in await conn.execute(stmt)}

    async def _wake_claimers(self, conn: AsyncConnection, queued: bool) -> None:
        """Tell other processes runs were queued (PostgreSQL: NOTIFY at commit)."""

    # --- claim ---------------------------------------------------------------------------

    async def claim(
        self,
        conn: AsyncConnection,
        owner: str,
        *,
        limit: int,
        lease_seconds: float,
        user_cap: int,
        only: Sequence[str] | None = None,
    ) -> tuple[list[RunRow], dict[str, list[NodeRow]]]:
        """Take up to ``limit`` runnable top-level runs under a lease (``only``: these ids).

        Runnable: QUEUED, or RUNNING with a lapsed lease (its holder stopped renewing).
        A user's runs are taken only while fewer than ``user_cap`` of them run. Returns the
        claimed runs and, for those claimed the first time, their node executions.
        """
        now = utcnow()
        params: dict[str, Any] = {
            "now": now,
            "expires": now + timedelta(seconds=lease_seconds),
            "owner": owner,
            "scan": max(64, limit * 4),
            "cap": user_cap,
            "limit": limit,
        }
        if only is not None:
            params["only"] = list(only)
        stmt = _claim_statement(only is not None)
        runs = [RunRow.from_row(r) for r in await conn.execute(stmt, params)]
        fresh = [r.id for r in runs if r.attempts == 1]
        nodes: dict[str, list[NodeRow]] = {run_id: [] for run_id in fresh}
        if fresh:
            rows = await conn.execute(
                select(NODES).where(NODES.c.graph_exec_id.in_(fresh)).order_by(NODES.c.seq)
            )
            for row in rows:
                nodes[row.graph_exec_id].append(NodeRow.from_row(row))
        return runs, nodes

    # --- the fenced write ----------------------------------------------------------------

    async def write(
        self,
        conn: AsyncConnection,
        owner: str,
        *,
        lease_seconds: float,
        fences: Sequence[tuple[str, int]],
        nodes: Sequence[NodeWrite],
        runs: Sequence[RunWrite],
    ) -> Held:
        """Extend the leases of ``fences`` (run id, epoch) still held by ``owner`` and write
        the node rows and run updates of those runs; return the runs still held."""
        if not fences:
            return {}
        now = utcnow()
        expires = now + timedelta(seconds=lease_seconds)
        return await self._write(conn, FencedWrite(owner, now, expires, fences, nodes, runs))

    async def _write(self, conn: AsyncConnection, write: FencedWrite) -> Held:
        """The dialect's fenced write of a batch with at least one fence."""
        raise NotImplementedError

    async def expire(
        self, conn: AsyncConnection, owners: Sequence[str], ids: Sequence[str] | None
    ) -> int:
        """Let runs held by ``owners`` (only ``ids``, when given) be claimed at once."""
        where = [RUNS.c.lease_owner.in_(list(owners)), RUNS.c.status == "RUNNING"]
        if ids is not None:
            where.append(RUNS.c.id.in_(list(ids)))
        locked = select(RUNS.c.id).where(*where).order_by(RUNS.c.id)
        if conn.dialect.name == "postgresql":
            locked = locked.with_for_update()
        result = await conn.execute(
            update(RUNS)
            .where(RUNS.c.id.in_(locked.scalar_subquery()))
            .values(lease_expires_at=utcnow() - timedelta(seconds=1))
        )
        count = int(result.rowcount or 0)
        await self._wake_claimers(conn, count > 0)
        return count


class SqliteQueue(Queue):
    """SQLite: one writer at a time (BEGIN IMMEDIATE), so statements never wait on locks."""

    def __init__(self) -> None:
        self._fence = (
            update(RUNS)
            .where(
                tuple_(RUNS.c.id, RUNS.c.attempts).in_(bindparam("fences", expanding=True)),
                RUNS.c.lease_owner == bindparam("owner"),
            )
            .values(lease_expires_at=bindparam("expires", type_=UTCDateTime()))
            .returning(RUNS.c.id, RUNS.c.stop_requested)
        )
        # JSON documents arrive encoded (NodeWrite, RunWrite): bound as text, stored as is.
        insert = sqlite.insert(NODES).values({c: _bind(NODES, c) for c in NODE_COLUMNS})
        self._upsert = insert.on_conflict_do_update(
            index_elements=[NODES.c.id], set_={c: insert.excluded[c] for c in NODE_CHANGING}
        )
        self._run_update = (
            update(RUNS)
            .where(RUNS.c.id == bindparam("b_id"))
            .values({c: _bind(RUNS, c) for c in (*RUN_UPDATE_COLUMNS, "updated_at")})
        )

    async def _write(self, conn: AsyncConnection, write: FencedWrite) -> Held:
        fences = [tuple(f) for f in write.fences]
        params = {"fences": fences, "owner": write.owner, "expires": write.expires}
        held = {r.id: bool(r.stop_requested) for r in await conn.execute(self._fence, params)}
        node_rows = [_fields(n) for n in write.nodes if n.graph_exec_id in held]
        if node_rows:
            await conn.execute(self._upsert, node_rows)
        run_rows = [
            {"b_id": r.id, "updated_at": write.now, **_fields(r)}
            for r in write.runs
            if r.id in held
        ]
        if run_rows:
            await conn.execute(self._run_update, run_rows)
        return held


#: The columns NodeWrite and RunWrite carry as encoded JSON text.
NODE_JSON = ("input_data", "output_data", "stats")
RUN_JSON = ("outputs", "stats")


def _bind(table: Table, column: str) -> Any:
    """A bind parameter of the column's type, or text for a JSON document sent encoded."""
    encoded = column in (NODE_JSON if table is NODES else RUN_JSON)
    return bindparam(column, type_=Text() if encoded else table.c[column].type)


def _fields(write: NodeWrite | RunWrite) -> dict[str, Any]:
    return {f: getattr(write, f) for f in write.__slots__}


@functools.cache
def _claim_statement(only: bool) -> Any:  # built once: compiling costs more than running
    """The claim: lock runnable rows (skipping locked ones), apply the per-user cap, lease."""
    now = bindparam("now", type_=UTCDateTime())
    runnable = and_(
        RUNS.c.parent_node_exec_id.is_(None),
        or_(
            RUNS.c.status == "QUEUED",
            and_(RUNS.c.status == "RUNNING", RUNS.c.lease_expires_at < now),
        ),
    )
    if only:
        runnable = and_(runnable, RUNS.c.id.in_(bindparam("only", expanding=True)))
    locked = (
        select(RUNS.c.id, RUNS.c.user_id, RUNS.c.created_at)
        .where(runnable)
        .order_by(RUNS.c.created_at)
        .limit(bindparam("scan"))
        .with_for_update(skip_locked=True)
        .cte("locked")
    )
    running = (
        select(RUNS.c.user_id, func.count().label("n"))
        .where(
            RUNS.c.status == "RUNNING",
            RUNS.c.parent_node_exec_id.is_(None),
            RUNS.c.lease_expires_at >= now,
        )
        .group_by(RUNS.c.user_id)
        .cte("running")
    )
    slot = func.row_number().over(
        partition_by=locked.c.user_id, order_by=locked.c.created_at
    ) + func.coalesce(running.c.n, 0)
    ranked = (
        select(locked.c.id, locked.c.created_at, slot.label("slot"))
        .select_from(locked.outerjoin(running, running.c.user_id == locked.c.user_id))
        .cte("ranked")
    )
    picked = (
        select(ranked.c.id)
        .where(ranked.c.slot <= bindparam("cap"))
        .order_by(ranked.c.created_at)
        .limit(bindparam("limit"))
    )
    return (
        update(RUNS)
        .where(RUNS.c.id.in_(picked))
        .values(
            status="RUNNING",
            lease_owner=bindparam("owner"),
            lease_expires_at=bindparam("expires", type_=UTCDateTime()),
            started_at=func.coalesce(RUNS.c.started_at, now),
            attempts=RUNS.c.attempts + 1,
            updated_at=now,
        )
        .returning(*RUNS.columns)
    )
